// The merge core's properties against the client's replica (the real worker, wa-sqlite, comlink):
// random histories from several replicas, biased toward conflicts, delivered in different
// orders, batchings and with duplicates, always give the reference model's tree, with no
// cycle. FC_RUNS raises (or lowers) the number of runs; a failure prints the shrunk scenario.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Json, Op } from '../../protocol/ops.ts';
import { arbReplicaSessions, arbScenario, type DeliveryPlan } from '../model/arbitraries.ts';
import { fcRuns } from '../model/fc-runs.ts';
import { checkInvariants, replay } from '../model/reference.ts';
import { withScenario } from '../model/scenario.ts';
import { useWorkerReplicas } from './worker-replicas.ts';

const replicas = useWorkerReplicas();
const PROPERTY_TIMEOUT = 15 * 60_000;

/** Delivers a plan to a new replica and returns what it then holds. */
async function deliver(plan: DeliveryPlan) {
  const replica = await replicas.fresh();
  for (const batch of plan) await replica.apply(batch);
  return { nodes: await replica.nodes(), fields: (await replica.values()).map(({ node, key, value }) => ({ node, key, value: value as Json })) };
}

async function expectConverged(ops: Op[], plans: DeliveryPlan[]) {
  const expected = replay(ops);
  for (const plan of plans) {
    const state = await deliver(plan);
    withScenario(ops, plan, () => {
      expect(checkInvariants(state)).toEqual([]);
      expect(state).toEqual(expected);
    });
  }
}

describe('replica: convergence against the reference model', () => {
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
