// Real-time pokes through Postgres LISTEN/NOTIFY: across server processes sharing a database,
// after the LISTEN connection breaks, with heartbeats that drop dead sockets, and at shutdown.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { move, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { makeToken, startTestServer, type TestServer } from './harness.ts';

const db = useTestDb();
let a: TestServer;
let b: TestServer;
let token: string;
let clock = 0;

async function pushOne(server: TestServer, tree: string): Promise<number> {
  const at = ts(clock++, 'poker');
  const res = await server.call('POST', `/v1/trees/${tree}/push`, {
    token,
    body: { replica: 'poker', seen: 0, floor: at, ops: [move(at, `n${clock}`, 'ROOT')] },
  });
  expect(res.status).toBe(200);
  return res.body.seq as number;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const metric = async (server: TestServer, line: string) => String((await server.call('GET', '/metrics')).body).includes(line);

beforeAll(async () => {
  // Two servers on one database, as two processes would be; fast heartbeats for the test.
  a = await startTestServer(db.url, { env: { TREESYNC_HEARTBEAT_MS: '100' } });
  // b's logs tell when its LISTEN connection broke (a metric could miss the short time down).
  b = await startTestServer(db.url, { env: { TREESYNC_HEARTBEAT_MS: '100' }, captureLogs: true });
  token = await makeToken();
  await a.call('PUT', '/v1/trees/shared', { token });
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

describe('across servers', () => {
  test('a push to one server pokes a WebSocket client of the other', async () => {
    const onB = await b.events('shared', token);
    try {
      expect(await onB.next()).toEqual({ type: 'poke', seq: 0 });
      const seq = await pushOne(a, 'shared');
      expect(await onB.next((m) => m.seq === seq)).toEqual({ type: 'poke', seq });
    } finally {
      await onB.close();
    }
  });

  test('and the other way round, to clients of both', async () => {
    const onA = await a.events('shared', token);
    const onB = await b.events('shared', token);
    try {
      const seq = await pushOne(b, 'shared');
      await Promise.all([onA.next((m) => m.seq === seq), onB.next((m) => m.seq === seq)]);
      // Seqs only go up on a connection: the first poke (the seq at connect) came before.
      for (const client of [onA, onB]) {
        const seqs = client.messages.map((m) => (m as { seq: number }).seq);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        expect(new Set(seqs).size).toBe(seqs.length);
      }
    } finally {
      await Promise.all([onA.close(), onB.close()]);
    }
  });
});

describe('the LISTEN connection', () => {
  test('when it breaks, it comes back, and pokes what was stored meanwhile', async () => {
    const client = await b.events('shared', token);
    try {
      await client.next();
      await db.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
          where application_name = 'treesync-listen' and datname = current_database()`,
      );
      // Both servers notice (their notification of this push may be lost), then reconnect.
      await until('b to notice', () => b.logs.some((l) => l.msg === 'LISTEN connection lost; reconnecting'));
      const seq = await pushOne(a, 'shared');
      expect(await client.next((m) => m.seq === seq, 10_000)).toEqual({ type: 'poke', seq });
      await until('b to listen again', () => metric(b, 'treesync_listener_up 1'));
      const next = await pushOne(a, 'shared');
      expect(await client.next((m) => m.seq === next)).toEqual({ type: 'poke', seq: next });
    } finally {
      await client.close();
    }
  });
});

describe('heartbeats', () => {
  test('a socket that answers pings stays; one that does not is dropped', async () => {
    const url = `${a.url.replace('http', 'ws')}/v1/trees/shared/events?token=${token}`;
    const live = new WebSocket(url);
    const dead = new WebSocket(url, { autoPong: false });
    const closed = new Promise<number>((resolve) => dead.once('close', (code) => resolve(code)));
    await Promise.all([live, dead].map((ws) => new Promise((r) => ws.once('open', r))));

    expect(await closed).toBe(1006); // terminated, no closing handshake
    await new Promise((r) => setTimeout(r, 400)); // several more heartbeats
    expect(live.readyState).toBe(WebSocket.OPEN);
    expect(await metric(a, 'treesync_websockets_open 1')).toBe(true);
    live.close();
    await until('the live socket to be gone', () => metric(a, 'treesync_websockets_open 0'));
  });
});

describe('shutdown', () => {
  test('closes WebSockets with 1001 and finishes', async () => {
    const c = await startTestServer(db.url);
    try {
      const client = await c.events('shared', token);
      const code = new Promise<number>((resolve) => client.ws.once('close', (n) => resolve(n)));
      await c.close();
      expect(await code).toBe(1001);
      await expect(fetch(`${c.url}/healthz`)).rejects.toThrow();
    } finally {
      await c.close(); // a second close is a no-op; after a failure it is the only one
    }
  });
});
