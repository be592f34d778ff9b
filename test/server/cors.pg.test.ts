// CORS with real preflight requests, as a browser sends them: every endpoint answers an
// allowed origin's preflight without a token, its answers (errors too) carry the headers a
// browser needs to read them, and other origins are refused before anything acts.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { move, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { type Answer, makeToken, startTestServer, type TestServer } from './harness.ts';

const db = useTestDb();
const APP = 'https://app.example.com';
const EVIL = 'https://evil.example';

/** Every endpoint, with the method a browser app would call it with. */
const ENDPOINTS: Array<[string, string]> = [
  ['PUT', '/v1/trees/t'],
  ['GET', '/v1/trees/t'],
  ['POST', '/v1/trees/t/push'],
  ['GET', '/v1/trees/t/pull?since=0'],
  ['GET', '/v1/trees/t/state'],
  ['GET', '/v1/trees/t/snapshot'],
  ['GET', '/healthz'],
  ['GET', '/metrics'],
];

function preflight(server: TestServer, origin: string, method: string, path: string): Promise<Answer> {
  return server.call('OPTIONS', path, {
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization, content-type',
    },
  });
}

describe('production, TREESYNC_CORS_ORIGINS lists the app', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer(db.url, { env: { TREESYNC_CORS_ORIGINS: `${APP}, http://localhost:5173` } });
    token = await makeToken();
    await server.call('PUT', '/v1/trees/t', { token });
  });
  afterAll(async () => {
    await server.close();
  });

  test.each(ENDPOINTS)('a preflight of %s %s is answered without a token', async (method, path) => {
    const res = await preflight(server, APP, method, path);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-methods')?.split(',')).toContain(method);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase().split(',')).toEqual(
      expect.arrayContaining(['authorization', 'content-type']),
    );
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')).toContain('Origin');
  });

  test("the app reads a push's answer and a snapshot's seq header", async () => {
    const at = ts(1, 'web');
    const pushed = await server.call('POST', '/v1/trees/t/push', {
      token,
      headers: { origin: APP },
      body: { replica: 'web', seen: 0, floor: at, ops: [move(at, 'n1', 'ROOT')] },
    });
    expect(pushed.status).toBe(200);
    expect(pushed.headers.get('access-control-allow-origin')).toBe(APP);
    const snapshot = await server.call('GET', '/v1/trees/t/snapshot', { token, headers: { origin: APP } });
    expect(snapshot.status).toBe(200);
    expect(snapshot.headers.get('access-control-allow-origin')).toBe(APP);
    expect(snapshot.headers.get('x-treesync-seq')).toBe('1');
    expect(snapshot.headers.get('access-control-expose-headers')?.toLowerCase().split(',')).toEqual(
      expect.arrayContaining(['x-treesync-seq', 'x-request-id', 'retry-after']),
    );
  });

  test('error answers carry the headers too, so the app can read why', async () => {
    const res = await server.call('GET', '/v1/trees/t/state', { headers: { origin: APP } });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    const missing = await server.call('GET', '/v1/trees/nope', { token, headers: { origin: 'http://localhost:5173' } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  });

  test('another origin: its preflight and its requests are refused (403) and nothing changes', async () => {
    const before = (await server.call('GET', '/v1/trees/t/state', { token })).body;
    const pre = await preflight(server, EVIL, 'POST', '/v1/trees/t/push');
    expect(pre.status).toBe(403);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect(pre.body.error.code).toBe('forbidden');
    // A "simple" request, which browsers send without a preflight.
    const at = ts(2, 'web');
    const res = await server.call('POST', '/v1/trees/t/push', {
      token,
      headers: { origin: EVIL, 'content-type': 'text/plain' },
      body: { replica: 'web', seen: 1, floor: at, ops: [move(at, 'n2', 'ROOT')] },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain('TREESYNC_CORS_ORIGINS');
    expect((await server.call('GET', '/v1/trees/t/state', { token })).body).toEqual(before);
  });

  test('a WebSocket handshake from another origin is refused; from the app it opens', async () => {
    const open = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/v1/trees/t/events?token=${token}`, { origin });
        ws.once('open', () => {
          ws.close();
          resolve(101);
        });
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('error', reject);
      });
    expect(await open(EVIL)).toBe(403);
    expect(await open(APP)).toBe(101);
  });

  test("a page of the server's own host is not cross-origin", async () => {
    const own = new URL(server.url).origin;
    const res = await server.call('GET', '/v1/trees/t', { token, headers: { origin: own } });
    expect(res.status).toBe(200);
  });
});

describe('defaults', () => {
  test('production allows no other origin', async () => {
    const server = await startTestServer(db.url);
    try {
      const res = await preflight(server, APP, 'GET', '/v1/trees/t');
      expect(res.status).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await server.close();
    }
  });

  test('development mode allows any loopback origin, and nothing else', async () => {
    const server = await startTestServer(db.url, { env: { TREESYNC_JWT_SECRET: '' } });
    try {
      for (const origin of ['http://localhost:5173', 'http://127.0.0.1:3000', 'https://[::1]:8443', 'http://localhost']) {
        const res = await preflight(server, origin, 'POST', '/v1/trees/t/push');
        expect({ origin, status: res.status, allow: res.headers.get('access-control-allow-origin') }).toEqual({
          origin,
          status: 204,
          allow: origin,
        });
      }
      for (const origin of [EVIL, 'http://localhost.evil.example', 'null']) {
        const res = await server.call('POST', '/v1/trees/t/push', { headers: { origin }, body: {} });
        expect({ origin, status: res.status }).toEqual({ origin, status: 403 });
      }
    } finally {
      await server.close();
    }
  });
});
