// The client follows the stability frontier F (docs/lifecycle.md): after the server truncates
// its log at F, a client that pulls keeps F, drops its own log and set rows below F, and still
// converges with the server (GET /state, and the log from F on) when late-but-not-stale
// operations arrive that undo and redo its log; a client bootstrapped from a truncated snapshot
// whose F is ahead of its wall clock stamps its first edit at or above F, and the server takes
// it as it is (no stale_ops, no re-stamping). Real server, real Postgres, real wa-sqlite worker.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { spawnWorker } from '../../client/node/spawn-node-worker.ts';
import type { SpawnedWorker } from '../../client/spawn-worker.ts';
import { openTreeOn, type TreeClient } from '../../client/tree-client.ts';
import { formatTimestamp, parseTimestamp } from '../../client/worker/hlc.ts';
import type { Op } from '../../protocol/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from '../server/harness.ts';
import { clientView, stateView } from './../sync/tree-view.ts';

const db = useTestDb();
const server = useTestServer(db);
let token: string;
const opened: Array<{ client: TreeClient; worker: SpawnedWorker }> = [];

beforeAll(async () => {
  token = await server.token();
  for (const t of ['t', 'u']) expect((await server.call('PUT', `/v1/trees/${t}`, { token, body: {} })).status).toBe(201);
});
afterAll(async () => {
  for (const o of opened) await o.client.close();
});

async function open(tree: string, replica: string): Promise<{ client: TreeClient; worker: SpawnedWorker; made: Op[] }> {
  const worker = spawnWorker();
  const client = await openTreeOn(worker, { url: server.url, tree, token, replica, sync: { backoff: { baseMs: 10, maxMs: 100 } } });
  const made: Op[] = [];
  client.subscribe((e) => {
    if (e.type === 'edit') made.push(...e.ops);
  });
  opened.push({ client, worker });
  return { client, worker, made };
}

async function truncate(tree: string): Promise<string> {
  let frontier = '';
  for (;;) {
    const r = (await db.query<{ r: { frontier: string; more: boolean } }>('select treesync.truncate_log($1, 100) as r', [tree])).rows[0]!.r;
    frontier = r.frontier;
    if (!r.more) return frontier;
  }
}

async function serverLog(tree: string) {
  return (
    await db.query(
      `select ts, node, parent, pos, old_parent, old_pos, applied from treesync.moves where tree = $1 order by ts collate "C"`,
      [tree],
    )
  ).rows;
}

/** sync_state of a client's replica as {key: value}. */
async function syncState(worker: SpawnedWorker): Promise<Record<string, unknown>> {
  const rows = (await worker.api.dump()).sync_state as Array<[string, string]>;
  return Object.fromEntries(rows.map(([k, v]) => [k, JSON.parse(v) as unknown]));
}

/** Edit events travel from the worker on their own: wait for `count` of them. */
async function edits(made: Op[], count: number): Promise<Op[]> {
  for (let i = 0; made.length < count && i < 200; i++) await new Promise((r) => setTimeout(r, 10));
  expect(made.length).toBe(count);
  return made;
}

const state = async (tree: string) => stateView((await server.call('GET', `/v1/trees/${tree}/state`, { token })).body);

test('push and pull answers carrying F drop the log below F; late ops at or above F still converge', async () => {
  const { client: c, worker, made } = await open('t', 'cli');
  await c.sync();
  // A slow replica that may still send from now on holds F back.
  const hold = (floor: string) => server.call('GET', `/v1/trees/t/pull?since=0&replica=slow&floor=${floor}`, { token });
  expect((await hold(formatTimestamp({ wall: Date.now(), counter: 0, replica: 'slow' }))).status).toBe(200);
  // Before F: three nodes made, with fields (log rows and set rows).
  const a = await c.create('ROOT', { fields: { title: 'a' } });
  const b = await c.create('ROOT', { fields: { title: 'b' } });
  const x = await c.create('ROOT', { fields: { title: 'x' } });
  await c.sync();
  await new Promise((r) => setTimeout(r, 5));
  const anchor = formatTimestamp({ wall: Date.now(), counter: 0, replica: 'slow' });
  await new Promise((r) => setTimeout(r, 5));
  // From F on, made offline a few ms apart: x under a, b under a, a's title changed.
  c.setOnline(false);
  const before = (await edits(made, 6)).length;
  await c.move(x, a);
  await new Promise((r) => setTimeout(r, 5));
  await c.move(b, a);
  await c.set(a, 'title', 'A');
  await edits(made, before + 3);
  const [xa, ba] = [made[before]!.ts, made[before + 1]!.ts];
  expect(xa > anchor).toBe(true);
  expect((await worker.api.moveLog()).filter((r) => r.ts < anchor).length).toBe(3);
  expect(((await worker.api.dump()).sets as unknown[][]).filter((r) => (r[0] as string) < anchor).length).toBe(3);
  // The slow replica moves its floor up to the anchor: with c's next push, F is there.
  expect((await hold(anchor)).status).toBe(200);

  // The push's answer carries F: the rows below it go.
  c.setOnline(true);
  await c.sync();
  expect((await worker.api.moveLog()).every((r) => r.ts >= anchor)).toBe(true);
  expect(((await worker.api.dump()).sets as unknown[][]).every((r) => (r[0] as string) >= anchor)).toBe(true);
  expect((await syncState(worker)).frontier).toBe(anchor);

  // The slow replica moves its floor between c's two moves; the server truncates there. c is
  // offline meanwhile (awaited in the worker: any request in flight is aborted), so no pull
  // of its own, after a poke, brings the new F before the one this test makes below.
  c.setOnline(false);
  await worker.api.setOnline(false);
  const f = formatTimestamp({ wall: parseTimestamp(ba).wall - 1, counter: 0, replica: 'slow' });
  expect(xa < f && f < ba).toBe(true);
  const pulled = await hold(f);
  expect(pulled.status).toBe(200);
  const slowSeen = (pulled.body as { seq: number }).seq;
  expect(await truncate('t')).toBe(f);
  expect((await serverLog('t')).every((r) => r.ts >= f)).toBe(true);
  const logBefore = await worker.api.moveLog();
  expect(logBefore.some((r) => r.ts === xa)).toBe(true);

  // A pull (nothing to push): its answer carries the new F.
  c.setOnline(true);
  await c.sync();
  expect((await worker.api.moveLog()).map((r) => r.ts)).toEqual(logBefore.filter((r) => r.ts >= f).map((r) => r.ts));
  expect((await syncState(worker)).frontier).toBe(f);

  // Late but not stale: at F, before c's "b under a", so both sides undo and redo from there.
  // a goes under b (then c's "b under a" would make a cycle and is skipped), a's title is
  // written (and loses to c's later write), a new node appears under x.
  const late = (n: number) => formatTimestamp({ wall: parseTimestamp(f).wall, counter: n, replica: 'slow' });
  const ops: Op[] = [
    { ts: late(0), type: 'move', node: a, parent: b, pos: 'm' },
    { ts: late(1), type: 'set', node: a, key: 'title', value: 'late' },
    { ts: late(2), type: 'move', node: 'slow-node', parent: x, pos: 'm' },
  ];
  const pushed = await server.call('POST', '/v1/trees/t/push', { token, body: { replica: 'slow', seen: slowSeen, floor: late(0), ops } });
  expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);

  await c.sync();
  const expected = await state('t');
  expect(await clientView(c)).toEqual(expected);
  expect(expected.find((r) => r.id === a)).toMatchObject({ parent: b, fields: { title: 'A' } });
  expect(expected.find((r) => r.id === b)).toMatchObject({ parent: 'ROOT' });
  expect(expected.find((r) => r.id === 'slow-node')).toMatchObject({ parent: x });
  // The logs from F on are the same rows on both sides.
  expect((await worker.api.moveLog()).map((r) => ({ ...r }))).toEqual(await serverLog('t'));
  expect(c.status()).toMatchObject({ pending: 0, lastError: null });
});

test('a client bootstrapped from a truncated snapshot stamps its first edit at or above F, and it is accepted', async () => {
  const { client: first } = await open('u', 'first');
  const n = await first.create('ROOT', { fields: { title: 'old' } });
  await first.move(n, 'TRASH');
  await first.sync();
  // F 30 s ahead of every wall clock here (the server takes ops up to 60 s ahead of its own): a replica whose floor is there, the others
  // away longer than the retention window (time passing, done in the database).
  const ahead = formatTimestamp({ wall: Date.now() + 30_000, counter: 0, replica: 'ahead' });
  expect((await server.call('GET', `/v1/trees/u/pull?since=0&replica=ahead&floor=${ahead}`, { token })).status).toBe(200);
  await db.query(`update treesync.replicas set seen_at = now() - interval '31 days' where tree = 'u' and replica <> 'ahead'`);
  expect(await truncate('u')).toBe(ahead);
  expect(await serverLog('u')).toEqual([]);

  const { client: fresh, worker, made } = await open('u', 'fresh');
  await fresh.sync(); // the bootstrap
  expect((await syncState(worker)).frontier).toBe(ahead);
  const m = await fresh.create('ROOT', { fields: { title: 'new' } });
  await edits(made, 2);
  expect(made.every((op) => op.ts >= ahead)).toBe(true);
  await fresh.sync();
  expect(fresh.status()).toMatchObject({ pending: 0, lastError: null });
  // Held by the server with the very timestamps it was stamped with: not refused, not re-stamped.
  const held = (await db.query(`select ts from treesync.ops where tree = 'u' and ts like '%.fresh' order by ts collate "C"`)).rows.map((r) => r.ts);
  expect(held).toEqual(made.map((op) => op.ts));
  const expected = await state('u');
  expect(await clientView(fresh)).toEqual(expected);
  expect(expected.find((r) => r.id === m)).toMatchObject({ parent: 'ROOT', fields: { title: 'new' } });
});
