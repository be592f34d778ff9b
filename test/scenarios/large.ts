// The merge at a size the properties do not reach: deep trees, thousands of moves, batches
// arriving late and out of order, checked against the reference model.
import type { Op } from '../../protocol/ops.ts';
import { GrowingTree } from '../../bench/growing-tree.ts';
import { batches, type Scenario } from './scenario.ts';

/** Three replicas grow one tree from a shared start, each offline for a while: 88% new nodes,
 * 10% moves (many would make cycles in the merged tree), 2% deletes. */
function history(): Op[][] {
  const base = new GrowingTree('base', 1);
  const start = base.moves(300, { createOnly: true });
  const replicas = [base.fork('r1', 2, 1_000), base.fork('r2', 3, 1_000), base.fork('r3', 4, 1_500)];
  const list: Op[][] = [start];
  for (let round = 0; round < 6; round++) {
    for (const r of replicas) list.push(r.moves(150));
  }
  return list;
}

const all = history();

export const largeScenarios: Scenario[] = [
  {
    name: "3 replicas, 3,000 moves, batches delivered in order, reversed and interleaved: the model's tree",
    plans: [
      batches(...all),
      batches(all[0]!, ...all.slice(1).reverse()),
      batches(all[0]!, ...all.slice(1).filter((_, i) => i % 2 === 0), ...all.slice(1).filter((_, i) => i % 2 === 1)),
    ],
    expect: { model: all.flat() },
    timeout: 120_000,
  },
];
