// The server process dies (kill -9) in the middle of pushes, and a fresh one is started on the
// same database, as a supervisor would: nothing acknowledged is lost, and the batches the
// replicas retry (their answers were lost with the process) land once.
import { afterEach, expect, test } from 'vitest';
import { stateResponseSchema } from '../../protocol/state.ts';
import { checkInvariants, replay } from '../model/reference.ts';
import { useTestDb } from '../pg/db.ts';
import { call } from './harness.ts';
import { type StartedMain, startMain, stopLeftovers, waitGone } from './main-process.ts';
import { histories, registerFloors, startPushers, untilAcked } from './retrying-pushers.ts';

const db = useTestDb();
const TREE = 'killed';

afterEach(stopLeftovers);

test('kill -9 of the server mid-push, then a fresh start: every op stored once', { timeout: 240_000 }, async () => {
  const env = { DATABASE_URL: db.url, TREESYNC_RATE_LIMIT: '0', TREESYNC_POOL_SIZE: '8' };
  let server: StartedMain = await startMain(env);
  // Delete-wins: this test is about storage (each op once), so the tree holds exactly the pushed
  // ops, without restores (docs/deletes.md; tested on their own).
  expect((await call(server.url, 'PUT', `/v1/trees/${TREE}`, { body: { deletes: 'win' } })).status).toBe(201);
  const perReplica = histories(8, 9100);
  await registerFloors(server.url, TREE, perReplica);
  const { run, done } = startPushers({ base: () => server.url, tree: TREE, perReplica });

  // What was acknowledged before the kill must be there after it.
  const quarter = Math.ceil(perReplica.reduce((n, ops) => n + Math.ceil(ops.length / 3.5), 0) / 4);
  await untilAcked(run, done, quarter);
  const killed = server;
  killed.child.kill('SIGKILL');
  expect(await waitGone(killed.pid)).toBe(true);
  const killedAt = run.now();
  const ackedBeforeKill = run.acked;

  server = await startMain(env);
  await done;
  expect(run.acked).toBe(run.batches);
  expect(ackedBeforeKill).toBeLessThan(run.batches);
  // The pushers did hit the dead server and retried.
  expect(run.refusals.filter((r) => r.at >= killedAt - 1000 && r.status === 0).length).toBeGreaterThan(0);

  const n = String(run.all.length);
  const { rows } = await db.query(
    `select count(*) n, count(distinct ts) distinct_ts, min(seq) lo, max(seq) hi,
            (select seq from treesync.trees where id = $1) tree_seq
       from treesync.ops where tree = $1`,
    [TREE],
  );
  expect(rows[0]).toEqual({ n, distinct_ts: n, lo: '1', hi: n, tree_seq: n });
  const stored = await db.query<{ ts: string }>('select ts from treesync.ops where tree = $1', [TREE]);
  expect(new Set(stored.rows.map((r) => r.ts))).toEqual(new Set(run.all.map((op) => op.ts)));

  const state = stateResponseSchema.parse((await call(server.url, 'GET', `/v1/trees/${TREE}/state`)).body);
  const model = replay(run.all);
  expect(checkInvariants(model)).toEqual([]);
  expect({ nodes: state.nodes, fields: state.values }).toEqual(model);
  expect(await server.stop()).toBe(0);
});
