// Postgres goes away and comes back under a running server. A real server process (main.ts,
// as `npm start` runs it) on a Postgres of the test's own; 8 replicas push batches and retry
// every refused one; Postgres is stopped hard (SIGQUIT to the postmaster: an immediate
// shutdown, as in a crash or a failover) and started again on the same data and port.
// Afterwards the same server process serves, every op is stored exactly once with gap-free
// seqs, the tree is the reference model's, and a WebSocket subscriber that stayed connected
// was poked with the final seq.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, expect, test } from 'vitest';
import { stateResponseSchema } from '../../protocol/state.ts';
import { type EmbeddedDb, newPassword, startEmbeddedDb } from '../../server/embedded-db.ts';
import { checkInvariants, replay } from '../model/reference.ts';
import { call, openEvents } from './harness.ts';
import { startMain, stopLeftovers } from './main-process.ts';
import { histories, registerFloors, startPushers, untilAcked } from './retrying-pushers.ts';

const TREE = 'restarting';
const CONNECT_TIMEOUT_MS = 1000;
// fsync off: the data outlives the Postgres process (it is in the OS's page cache), which is
// all this test kills. synchronous_commit stays on: an acknowledged commit is in the WAL.
const SETTINGS = ['fsync=off'];

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await stopLeftovers();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

test('8 replicas push through an immediate shutdown and restart of Postgres', { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'treesync-restart-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const password = newPassword();
  let db: EmbeddedDb = await startEmbeddedDb({ dir, password, settings: SETTINGS });
  cleanups.push(() => db.stop());

  const server = await startMain({
    DATABASE_URL: db.url,
    TREESYNC_DB_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
    TREESYNC_RATE_LIMIT: '0',
    TREESYNC_POOL_SIZE: '8',
  });
  // Delete-wins: this test is about storage (each op once, no gaps), so the tree is the model's
  // tree of exactly the pushed ops, without restores (docs/deletes.md; tested on their own).
  expect((await call(server.url, 'PUT', `/v1/trees/${TREE}`, { body: { deletes: 'win' } })).status).toBe(201);
  const subscriber = await openEvents(server.url, TREE);
  let subscriberClosed = false;
  subscriber.ws.once('close', () => (subscriberClosed = true));
  cleanups.push(() => subscriber.close());

  const perReplica = histories(8, 7000);
  await registerFloors(server.url, TREE, perReplica);
  const { run, done } = startPushers({ base: () => server.url, tree: TREE, perReplica });

  // A quarter of the batches in, Postgres dies: no checkpoint, no goodbye to the clients.
  const quarter = Math.ceil(perReplica.reduce((n, ops) => n + Math.ceil(ops.length / 3.5), 0) / 4);
  await untilAcked(run, done, quarter);
  const killedAt = run.now();
  process.kill(db.pid, 'SIGQUIT');
  await db.exited;
  const deadAt = run.now();

  // While it is away: not ready, still alive, and refusals come fast.
  const ready = await call(server.url, 'GET', '/readyz');
  expect(ready.status).toBe(503);
  expect(ready.body.error.code).toBe('unavailable');
  expect((await call(server.url, 'GET', '/healthz')).status).toBe(200);
  await new Promise((r) => setTimeout(r, 1500));

  const restartAt = run.now();
  db = await startEmbeddedDb({ dir, password, settings: SETTINGS, port: db.port });
  const upAt = run.now();
  await done;

  // The same server process serves, and is ready again.
  expect(server.child.exitCode).toBeNull();
  expect((await call(server.url, 'GET', '/readyz')).status).toBe(200);

  // Pushes were refused while Postgres was away (the fault did cut through the pushes), each
  // with 503 or a cut connection, never anything else (startPushers fails on that).
  const refused = run.refusals.filter((r) => r.at >= killedAt - 1000);
  expect(refused.length).toBeGreaterThan(0);
  // "Quickly": bounded by the connect timeout, not hanging (generous: the machine is shared).
  const slowest = Math.max(...refused.map((r) => r.ms));
  expect(slowest).toBeLessThan(CONNECT_TIMEOUT_MS + 10_000);

  // Stored exactly once each, seqs 1..N without a gap.
  const n = String(run.all.length);
  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query(
      `select count(*) n, count(distinct ts) distinct_ts, min(seq) lo, max(seq) hi,
              (select seq from treesync.trees where id = $1) tree_seq
         from treesync.ops where tree = $1`,
      [TREE],
    );
    expect(rows[0]).toEqual({ n, distinct_ts: n, lo: '1', hi: n, tree_seq: n });
    const stored = await client.query<{ ts: string }>('select ts from treesync.ops where tree = $1', [TREE]);
    expect(new Set(stored.rows.map((r) => r.ts))).toEqual(new Set(run.all.map((op) => op.ts)));
  } finally {
    await client.end();
  }

  // The tree is the reference model's tree of all the ops.
  const state = stateResponseSchema.parse((await call(server.url, 'GET', `/v1/trees/${TREE}/state`)).body);
  const model = replay(run.all);
  expect(checkInvariants(model)).toEqual([]);
  expect({ nodes: state.nodes, fields: state.values }).toEqual(model);

  // The subscriber stayed connected and heard of the final seq.
  await subscriber.next((m) => m.type === 'poke' && m.seq === run.all.length, 45_000);
  expect(subscriberClosed).toBe(false);

  const lastRefusal = Math.max(...refused.map((r) => r.at + r.ms));
  const firstAckAfter = run.ackTimes.find((t) => t > upAt)!;
  console.log(
    `[postgres-restart] ${run.all.length} ops in ${run.batches} batches by 8 replicas; Postgres away ` +
      `${Math.round(upAt - deadAt)} ms (dead, a 1500 ms pause, then its restart with crash recovery: ` +
      `${Math.round(upAt - restartAt)} ms); requests refused from ` +
      `${Math.round(Math.min(...refused.map((r) => r.at)) - killedAt)} ms to ${Math.round(lastRefusal - killedAt)} ms ` +
      `after the kill (${refused.length} refusals, slowest answer ${Math.round(slowest)} ms, ` +
      `statuses ${[...new Set(refused.map((r) => r.status))].join('/')}); first ack ` +
      `${Math.round(firstAckAfter - upAt)} ms after Postgres was ready again`,
  );
  await server.stop();
});
