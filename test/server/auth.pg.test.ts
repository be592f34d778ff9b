// Who may do what: every endpoint against every kind of bad credential, each refused with its
// status and code and leaving the tree as it was; the right token works; development mode
// needs none; rate limits answer 429 with Retry-After.
import { sign } from 'hono/jwt';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { move, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { type Answer, makeToken, openEvents, SECRET, startTestServer, type TestServer, UpgradeRefused, useTestServer } from './harness.ts';

const db = useTestDb();
const server = useTestServer(db);
const TREE = 'guarded';

interface Endpoint {
  name: string;
  scope: 'read' | 'write';
  /** Sends the request with `token` (undefined: none), answering status and body. */
  send(token: string | undefined, headers?: Record<string, string>): Promise<Answer>;
}

let opCounter = 0;
const pushBody = () => {
  const at = ts(100 + opCounter++, 'intruder');
  return { replica: 'intruder', seen: 0, floor: at, ops: [move(at, 'x', 'ROOT')] };
};

/** Every endpoint that takes a token. */
const ENDPOINTS: Endpoint[] = [
  { name: 'PUT tree', scope: 'write', send: (t, h) => server.call('PUT', `/v1/trees/${TREE}`, { token: t, headers: h }) },
  { name: 'GET tree', scope: 'read', send: (t, h) => server.call('GET', `/v1/trees/${TREE}`, { token: t, headers: h }) },
  { name: 'push', scope: 'write', send: (t, h) => server.call('POST', `/v1/trees/${TREE}/push`, { token: t, headers: h, body: pushBody() }) },
  { name: 'pull', scope: 'read', send: (t, h) => server.call('GET', `/v1/trees/${TREE}/pull?since=0`, { token: t, headers: h }) },
  { name: 'state', scope: 'read', send: (t, h) => server.call('GET', `/v1/trees/${TREE}/state`, { token: t, headers: h }) },
  { name: 'snapshot', scope: 'read', send: (t, h) => server.call('GET', `/v1/trees/${TREE}/snapshot`, { token: t, headers: h }) },
  { name: 'events', scope: 'read', send: (t) => connect(server.url, TREE, t) },
];

/** A WebSocket handshake as an answer: 101 when it upgraded, else the refusal's status. The
 * refusal has no body (a handshake answer cannot carry one through `ws`). */
async function connect(url: string, tree: string, token: string | undefined): Promise<Answer> {
  try {
    const events = await openEvents(url, tree, token);
    await events.close();
    return { status: 101, headers: new Headers(), body: '' };
  } catch (err) {
    if (err instanceof UpgradeRefused) return { status: err.status, headers: new Headers(), body: '' };
    throw err;
  }
}

interface Credential {
  name: string;
  token: () => Promise<string | undefined>;
  headers?: Record<string, string>;
  status: number;
  code: string;
  /** Only for endpoints of this scope (read tokens are fine on read endpoints). */
  only?: 'write';
}

const CREDENTIALS: Credential[] = [
  { name: 'no token', token: async () => undefined, status: 401, code: 'unauthorized' },
  { name: 'a bad signature', token: () => makeToken({ secret: 'another-secret-0123456789abcdef0123456789' }), status: 401, code: 'unauthorized' },
  { name: 'an expired token', token: () => makeToken({ expiresIn: -60 }), status: 401, code: 'unauthorized' },
  { name: "another tree's token", token: () => makeToken({ trees: ['other-tree'] }), status: 403, code: 'forbidden' },
  { name: 'read scope', token: () => makeToken({ trees: [TREE], scope: 'read' }), status: 403, code: 'forbidden', only: 'write' },
  { name: 'a token without claims', token: () => sign({ sub: 'x', exp: Math.floor(Date.now() / 1000) + 60 }, SECRET, 'HS256'), status: 401, code: 'unauthorized' },
  { name: 'an unsigned token (alg none)', token: async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'x', trees: ['*'], scope: 'write' })}.`, status: 401, code: 'unauthorized' },
  { name: 'not a JWT', token: async () => 'garbage', status: 401, code: 'unauthorized' },
  { name: 'a Basic header', token: async () => undefined, headers: { authorization: 'Basic dXNlcjpwYXNz' }, status: 401, code: 'unauthorized' },
];

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function snapshotOfTree(): Promise<unknown> {
  const token = await makeToken({ scope: 'read' });
  const [state, info] = await Promise.all([
    server.call('GET', `/v1/trees/${TREE}/state`, { token }),
    server.call('GET', `/v1/trees/${TREE}`, { token }),
  ]);
  return { state: state.body, info: info.body };
}

beforeAll(async () => {
  const token = await makeToken();
  await server.call('PUT', `/v1/trees/${TREE}`, { token });
  await server.call('POST', `/v1/trees/${TREE}/push`, {
    token,
    body: { replica: 'owner', seen: 0, floor: ts(0, 'owner'), ops: [move(ts(0, 'owner'), 'n1', 'ROOT')] },
  });
});

describe.each(ENDPOINTS)('$name', (endpoint) => {
  const cases = CREDENTIALS.filter((c) => !c.only || c.only === endpoint.scope);
  test.each(cases)('with $name: $status $code, and the tree unchanged', async (cred) => {
    const before = await snapshotOfTree();
    const res = await endpoint.send(await cred.token(), cred.headers);
    expect(res.status).toBe(cred.status);
    if (endpoint.name !== 'events') {
      expect(res.body.error.code).toBe(cred.code);
      expect(res.body.error.message).toEqual(expect.any(String));
    }
    expect(await snapshotOfTree()).toEqual(before);
  });

  test('with a token for this tree and scope: allowed', async () => {
    const res = await endpoint.send(await makeToken({ trees: ['other', TREE], scope: endpoint.scope }));
    expect(res.status).toBeLessThan(300);
  });
});

describe('the token and its claims', () => {
  test('an expired token is told so', async () => {
    const res = await server.call('GET', `/v1/trees/${TREE}`, { token: await makeToken({ expiresIn: -1 }) });
    expect(res.body.error).toEqual({ code: 'unauthorized', message: 'the token has expired' });
  });

  test('["*"] grants every tree; write scope includes read', async () => {
    const token = await makeToken({ trees: ['*'], scope: 'write' });
    expect((await server.call('GET', `/v1/trees/${TREE}/pull?since=0`, { token })).status).toBe(200);
    expect((await server.call('PUT', '/v1/trees/any-other', { token })).status).toBe(201);
  });

  test('?token= is for the WebSocket only: elsewhere it is not read', async () => {
    const token = await makeToken();
    const res = await server.call('GET', `/v1/trees/${TREE}/state?token=${token}`);
    expect(res.status).toBe(401);
  });

  test('/healthz and /metrics need no token', async () => {
    expect((await server.call('GET', '/healthz')).status).toBe(200);
    expect((await server.call('GET', '/metrics')).status).toBe(200);
  });
});

describe('development mode (no secret)', () => {
  let dev: TestServer;
  beforeAll(async () => {
    dev = await startTestServer(db.url, { env: { TREESYNC_JWT_SECRET: undefined } });
  });
  afterAll(async () => {
    await dev.close();
  });

  test('needs no token, for every endpoint', async () => {
    expect((await dev.call('PUT', '/v1/trees/dev-tree')).status).toBe(201);
    const push = await dev.call('POST', '/v1/trees/dev-tree/push', {
      body: { replica: 'dev', seen: 0, floor: ts(0, 'dev'), ops: [move(ts(0, 'dev'), 'n1', 'ROOT')] },
    });
    expect(push.status).toBe(200);
    expect((await dev.call('GET', '/v1/trees/dev-tree/pull?since=0')).body.ops).toHaveLength(1);
    expect((await connect(dev.url, 'dev-tree', undefined)).status).toBe(101);
  });
});

describe('rate limits', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer(db.url, { env: { TREESYNC_RATE_LIMIT: '1', TREESYNC_RATE_BURST: '3' } });
  });
  afterAll(async () => {
    await limited.close();
  });

  test('a token past its burst gets 429 with Retry-After; another subject is not affected', async () => {
    const token = await makeToken({ sub: 'hasty' });
    const statuses: number[] = [];
    let refused: Answer | undefined;
    for (let i = 0; i < 4; i++) {
      const res = await limited.call('GET', `/v1/trees/${TREE}`, { token });
      statuses.push(res.status);
      if (res.status === 429) refused = res;
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(refused!.body.error.code).toBe('rate_limited');
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const calm = await makeToken({ sub: 'calm' });
    expect((await limited.call('GET', `/v1/trees/${TREE}`, { token: calm })).status).toBe(200);
    expect(String((await limited.call('GET', '/metrics')).body)).toContain('treesync_rate_limited_total 1');
  });
});
