// The same histories applied to Postgres (apply_ops) and to the client's replica give the same
// rows: nodes, fields (with their ts, removed ones too) and the move log (old parent, old
// position, applied), compared row by row. Random histories, delivered in random plans, and the
// large fixed ones (a late offline branch, three replicas growing a deep tree).
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { arbReplicaSessions, arbScenario } from '../model/arbitraries.ts';
import { fcRuns } from '../model/fc-runs.ts';
import { withScenario } from '../model/scenario.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, createTree, type Queryable } from '../merge/pg-tree.ts';
import { deliveryScenarios } from '../scenarios/delivery.ts';
import { largeScenarios } from '../scenarios/large.ts';
import type { Scenario } from '../scenarios/scenario.ts';
import { useWorkerReplicas } from './worker-replicas.ts';

const db = useTestDb();
const replicas = useWorkerReplicas();
let trees = 0;

/** The server's rows of a tree, in the replica's order and shape. */
async function pgRows(pg: Queryable, tree: string) {
  const q = async <T,>(sql: string) => (await pg.query<T & object>(sql, [tree])).rows;
  return {
    nodes: await q(`select id, parent, pos from treesync.nodes where tree = $1 order by id collate "C"`),
    fields: await q(
      `select node, key, case when value = 'null'::jsonb then null else value end as value, ts
         from treesync.fields where tree = $1 order by node collate "C", key collate "C"`,
    ),
    moves: await q(
      `select ts, node, parent, pos, old_parent, old_pos, applied
         from treesync.moves where tree = $1 order by ts collate "C"`,
    ),
  };
}

/** Delivers the same batches to a new Postgres tree and a new replica; both answers and both
 * sets of rows must be equal. */
async function expectSameRows(plan: Op[][]) {
  const tree = `equal-${++trees}`;
  await createTree(db, tree);
  const replica = await replicas.fresh();
  for (const batch of plan) {
    const server = await applyOps(db, tree, batch);
    const local = await replica.apply(batch);
    expect(local).toEqual({ accepted: server.accepted, duplicates: server.duplicates, undone: server.undone, skipped: server.skipped });
  }
  const expected = await pgRows(db, tree);
  expect(await replica.nodes()).toEqual(expected.nodes);
  expect(await replica.fields()).toEqual(expected.fields);
  expect(await replica.moveLog()).toEqual(expected.moves);
}

const planSteps = (s: Scenario) => s.plans.map((plan) => plan.map((step) => ('apply' in step ? (step.apply as Op[]) : [])));

describe('the replica and Postgres hold the same rows', () => {
  test('random histories in random deliveries', async () => {
    await fc.assert(
      fc.asyncProperty(arbScenario({ plans: 1 }), async ({ ops, plans }) => {
        await withScenario(ops, plans[0], () => expectSameRows(plans[0]!));
      }),
      { numRuns: fcRuns(200) },
    );
  }, 15 * 60_000);

  test('replicas syncing now and then, pushed as they synced', async () => {
    await fc.assert(
      fc.asyncProperty(arbReplicaSessions(), async ({ ops, pushes }) => {
        await withScenario(ops, pushes, () => expectSameRows(pushes));
      }),
      { numRuns: fcRuns(200) },
    );
  }, 15 * 60_000);

  test('a long offline branch merged late, and three replicas growing a deep tree', async () => {
    const fixed = [...deliveryScenarios.filter((s) => s.name.startsWith('a long offline')), ...largeScenarios];
    expect(fixed).toHaveLength(2);
    for (const s of fixed) for (const plan of planSteps(s)) await expectSameRows(plan);
  }, 180_000);
});
