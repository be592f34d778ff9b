// Properties: replicas that hold the same operations hold the same tree, whatever the order,
// batching and duplication of delivery, and that tree is the reference model's. No cycle ever.
//
// Runs against the database of useTestDb(), whose default collation is ICU en-US: a forgotten
// COLLATE "C" makes these fail. FC_RUNS raises (or lowers) the number of runs.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { arbReplicaSessions, arbScenario, type DeliveryPlan } from '../model/arbitraries.ts';
import { fcRuns } from '../model/fc-runs.ts';
import { replay } from '../model/reference.ts';
import { withScenario } from '../model/scenario.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, createTree, readTree, treeProblems } from './pg-tree.ts';

const db = useTestDb();
/** Each run delivers a history three times, often one operation per call: minutes, not seconds. */
const PROPERTY_TIMEOUT = 15 * 60_000;
let trees = 0;

/** Delivers a plan to a new tree and returns what the tree then holds. */
async function deliver(plan: DeliveryPlan) {
  const tree = `prop-${++trees}`;
  await createTree(db, tree);
  for (const batch of plan) await applyOps(db, tree, batch);
  return { tree, state: await readTree(db, tree), problems: await treeProblems(db, tree) };
}

async function expectConverged(ops: Op[], plans: DeliveryPlan[]) {
  const expected = replay(ops);
  // The plans go to separate trees at the same time, on separate connections.
  const results = await Promise.all(plans.map(deliver));
  results.forEach((result, i) => {
    withScenario(ops, plans[i], () => {
      expect(result.problems).toEqual([]);
      expect(result.state).toEqual(expected);
    });
  });
}

describe('convergence against the reference model', () => {
  test('random histories from several replicas, delivered in different orders, batches and duplicates', async () => {
    await fc.assert(
      fc.asyncProperty(arbScenario({ plans: 3 }), ({ ops, plans }) => expectConverged(ops, plans)),
      { numRuns: fcRuns(200) },
    );
  }, PROPERTY_TIMEOUT);

  test('replicas editing offline and syncing now and then, pushed as they synced or all at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbReplicaSessions().chain(({ ops, pushes }) =>
          fc.shuffledSubarray(pushes, { minLength: pushes.length, maxLength: pushes.length }).map((shuffled) => ({
            ops,
            plans: [pushes, shuffled, [ops]],
          })),
        ),
        ({ ops, plans }) => expectConverged(ops, plans),
      ),
      { numRuns: fcRuns(200) },
    );
  }, PROPERTY_TIMEOUT);
});
