// Every endpoint's happy path, over HTTP and WebSocket on a real port, checked against the
// protocol schemas and, for the tree's content, against the reference model.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { pokeMessageSchema } from '../../protocol/poke.ts';
import { pullResponseSchema } from '../../protocol/pull.ts';
import { pushResponseSchema } from '../../protocol/push.ts';
import { stateResponseSchema } from '../../protocol/state.ts';
import { createTreeResponseSchema, treeInfoResponseSchema } from '../../protocol/tree.ts';
import { move, set, ts } from '../merge/ops.ts';
import { replay } from '../model/reference.ts';
import { useTestDb } from '../pg/db.ts';
import { startTestServer, type TestServer, useTestServer } from './harness.ts';

const db = useTestDb();
/** The server's clock stands still, an hour after the ops' wall times. */
const NOW = 1_732_212_345_000 + 3_600_000;
const server = useTestServer(db, { clock: { now: () => NOW }, captureLogs: true });

const alice: Op[] = [move(ts(1, 'alice'), 'n1', 'ROOT', 'a'), set(ts(2, 'alice'), 'n1', 'text', 'Buy milk')];
const bob: Op[] = [move(ts(3, 'bob'), 'n2', 'n1', 'a'), set(ts(4, 'bob'), 'n2', 'done', { at: [1, 2] })];

const F = ts(1, 'alice'); // the frontier: alice's floor, the smallest

function pushBody(replica: string, seen: number, ops: Op[]) {
  return { replica, seen, floor: ops[0]?.ts ?? ts(0, replica), ops };
}

describe('one tree, two replicas', () => {
  let token: string;
  beforeAll(async () => {
    token = await server.token();
  });

  test('GET /healthz answers without a token', async () => {
    const res = await server.call('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', protocol: 1 });
  });

  test('GET /readyz answers 200 without a token while the database answers', async () => {
    const res = await server.call('GET', '/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', protocol: 1 });
  });

  test('PUT creates a tree (201), and again says it exists (200)', async () => {
    const created = await server.call('PUT', '/v1/trees/t1', { token, body: {} });
    expect(created.status).toBe(201);
    expect(createTreeResponseSchema.parse(created.body)).toEqual({ tree: 't1', seq: 0, deletes: 'restore' });
    // No body at all is `{}` too.
    const again = await server.call('PUT', '/v1/trees/t1', { token });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ tree: 't1', seq: 0, deletes: 'restore' });
  });

  test('a push stores the ops and answers the seq, counts and the server clock', async () => {
    const res = await server.call('POST', '/v1/trees/t1/push', { token, body: pushBody('alice', 0, alice) });
    expect(res.status).toBe(200);
    expect(pushResponseSchema.parse(res.body)).toEqual({ seq: 2, accepted: 2, duplicates: 0, skipped: 0, ops: [], more: false, now: NOW, frontier: F });
  });

  test("a push from another replica carries the ops it has not seen, not its own", async () => {
    const res = await server.call('POST', '/v1/trees/t1/push', { token, body: pushBody('bob', 0, bob) });
    expect(res.status).toBe(200);
    expect(pushResponseSchema.parse(res.body)).toEqual({
      seq: 4,
      accepted: 2,
      duplicates: 0,
      skipped: 0,
      ops: alice.map((op, i) => ({ ...op, seq: i + 1 })),
      more: false,
      now: NOW,
      frontier: F,
    });
  });

  test('a retried push counts duplicates, stores nothing, and answers everything after seen', async () => {
    const res = await server.call('POST', '/v1/trees/t1/push', { token, body: pushBody('bob', 2, bob) });
    expect(res.body).toEqual({
      seq: 4,
      accepted: 0,
      duplicates: 2,
      skipped: 0,
      ops: bob.map((op, i) => ({ ...op, seq: i + 3 })),
      more: false,
      now: NOW,
      frontier: F,
    });
  });

  test('pull pages through the ops in seq order', async () => {
    const first = await server.call('GET', '/v1/trees/t1/pull?since=0&limit=3&replica=carol&floor=' + ts(0, 'carol'), { token });
    expect(first.status).toBe(200);
    expect(pullResponseSchema.parse(first.body)).toEqual({
      seq: 4,
      ops: [...alice, bob[0]].map((op, i) => ({ ...op, seq: i + 1 })),
      more: true,
      frontier: F,
    });
    const rest = await server.call('GET', '/v1/trees/t1/pull?since=3', { token });
    expect(rest.body).toEqual({ seq: 4, ops: [{ ...bob[1], seq: 4 }], more: false, frontier: F });
    const none = await server.call('GET', '/v1/trees/t1/pull?since=4', { token });
    expect(none.body).toEqual({ seq: 4, ops: [], more: false, frontier: F });
  });

  test('pull with since ahead of the tree answers reset', async () => {
    const res = await server.call('GET', '/v1/trees/t1/pull?since=5', { token });
    expect(res.status).toBe(200);
    expect(pullResponseSchema.parse(res.body)).toEqual({ reset: true, seq: 4 });
  });

  test('GET the tree: seq and node count', async () => {
    const res = await server.call('GET', '/v1/trees/t1', { token });
    expect(treeInfoResponseSchema.parse(res.body)).toEqual({ tree: 't1', seq: 4, nodes: 4, deletes: 'restore' });
  });

  test('GET state equals the reference model of the same ops', async () => {
    const res = await server.call('GET', '/v1/trees/t1/state', { token });
    const state = stateResponseSchema.parse(res.body);
    const model = replay([...alice, ...bob]);
    expect(state).toEqual({ seq: 4, nodes: model.nodes, values: model.fields });
  });

  test('events: the seq at once, then a poke per push; other trees stay quiet', async () => {
    await server.call('PUT', '/v1/trees/t2', { token });
    const events = await server.events('t1', token);
    const other = await server.events('t2', token);
    try {
      expect(pokeMessageSchema.parse(await events.next())).toEqual({ type: 'poke', seq: 4 });
      await server.call('POST', '/v1/trees/t1/push', {
        token,
        body: pushBody('carol', 4, [set(ts(5, 'carol'), 'n1', 'text', 'Buy oat milk')]),
      });
      expect(await events.next((m) => m.seq === 5)).toEqual({ type: 'poke', seq: 5 });
      expect(await other.next()).toEqual({ type: 'poke', seq: 0 });
      expect(other.messages).toEqual([{ type: 'poke', seq: 0 }]);
    } finally {
      await events.close();
      await other.close();
    }
  });

  test('GET /metrics counts requests by route pattern, merged ops and open sockets', async () => {
    const events = await server.events('t1', token);
    await events.next();
    try {
      const res = await server.call('GET', '/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = String(res.body);
      expect(text).toContain('treesync_http_requests_total{route="/v1/trees/:tree/push",method="POST",status="200"} 4');
      expect(text).toContain('treesync_ops_merged_total 5');
      expect(text).toContain('treesync_ops_duplicate_total 2');
      expect(text).toContain('treesync_websockets_open 1');
      expect(text).toContain('treesync_listener_up 1');
      expect(text).toMatch(/treesync_db_pool_connections\{pool="main",state="idle"\} \d+/);
      expect(text).toContain('treesync_http_request_duration_seconds_count{route="/v1/trees/:tree/pull",method="GET"}');
      expect(text).not.toContain('t1'); // route patterns, never tree ids
      // prom-client's process metrics, beside the server's own.
      expect(text).toMatch(/^process_cpu_seconds_total \d/m);
      expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    } finally {
      await events.close();
    }
  });

  test('every request gets an id, echoed, and one log line without the query string', async () => {
    const given = await server.call('GET', '/v1/trees/t1', { token, headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const made = await server.call('GET', '/v1/trees/t1', { token, headers: { 'x-request-id': 'no spaces allowed' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const line = server.logs.find((l) => l.msg === 'request' && l.requestId === 'abc-123');
    expect(line).toMatchObject({ level: 'info', method: 'GET', path: '/v1/trees/t1', route: '/v1/trees/:tree', status: 200, sub: 'tester' });
    expect(typeof line?.ms).toBe('number');
    // The events socket took its token in the query: no log line may hold it.
    expect(JSON.stringify(server.logs)).not.toContain(token);
  });
});

describe('pages are capped by count and by size', () => {
  let small: TestServer;
  let token: string;
  const big = (i: number) => set(ts(10 + i, 'big'), 'n1', `k${i}`, 'x'.repeat(600));
  beforeAll(async () => {
    small = await startTestServer(db.url, {
      env: { TREESYNC_PULL_LIMIT: '2', TREESYNC_PULL_MAX_LIMIT: '3', TREESYNC_PULL_MAX_BYTES: '1024' },
    });
    token = await small.token();
    await small.call('PUT', '/v1/trees/pages', { token });
    await small.call('POST', '/v1/trees/pages/push', { token, body: pushBody('alice', 0, alice) });
    await small.call('POST', '/v1/trees/pages/push', { token, body: pushBody('bob', 2, bob) });
  });
  afterAll(async () => {
    await small.close();
  });

  test('a limit above the maximum is served as the maximum', async () => {
    const res = await small.call('GET', '/v1/trees/pages/pull?since=0&limit=100', { token });
    expect(res.body.ops.map((o: { seq: number }) => o.seq)).toEqual([1, 2, 3]);
    expect(res.body.more).toBe(true);
  });

  test("a push's answer is a page too: more means pull from the last seq", async () => {
    const res = await small.call('POST', '/v1/trees/pages/push', {
      token,
      body: pushBody('late', 0, [move(ts(9, 'late'), 'n9', 'ROOT')]),
    });
    expect(res.body).toMatchObject({ seq: 5, accepted: 1, more: true });
    expect(res.body.ops.map((o: { seq: number }) => o.seq)).toEqual([1, 2]);
    // The rest of the others' ops, then this replica's own op (it is in the log like any other).
    const rest = await small.call('GET', '/v1/trees/pages/pull?since=2', { token });
    expect(rest.body.ops.map((o: { seq: number }) => o.seq)).toEqual([3, 4]);
  });

  test('big values: a page stops before the op that takes it past the byte cap, never empty', async () => {
    await small.call('POST', '/v1/trees/pages/push', { token, body: pushBody('big', 5, [big(0), big(1), big(2)]) });
    const seqs: number[][] = [];
    let since = 5;
    for (;;) {
      const page = await small.call('GET', `/v1/trees/pages/pull?since=${since}`, { token });
      seqs.push(page.body.ops.map((o: { seq: number }) => o.seq));
      since = page.body.ops.at(-1)?.seq ?? since;
      if (!page.body.more) break;
    }
    expect(seqs).toEqual([[6], [7], [8]]);
  });
});
