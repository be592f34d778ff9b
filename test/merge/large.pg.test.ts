// The merge at a size the properties do not reach: deep trees, thousands of moves, batches
// arriving late and out of order, checked against the reference model.
import { expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { GrowingTree } from '../../bench/growing-tree.ts';
import { replay } from '../model/reference.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, readTree, treeFactory, treeProblems } from './pg-tree.ts';

const db = useTestDb();
const freshTree = treeFactory(db, 'large');

/** Three replicas grow one tree from a shared start, each offline for a while: 88% new nodes,
 * 10% moves (many would make cycles in the merged tree), 2% deletes. */
function history(): Op[][] {
  const base = new GrowingTree('base', 1);
  const start = base.moves(300, { createOnly: true });
  const replicas = [base.fork('r1', 2, 1_000), base.fork('r2', 3, 1_000), base.fork('r3', 4, 1_500)];
  const batches: Op[][] = [start];
  for (let round = 0; round < 6; round++) {
    for (const r of replicas) batches.push(r.moves(150));
  }
  return batches;
}

test('3 replicas, 3,000 moves, batches delivered in order, reversed and interleaved: the model\'s tree', async () => {
  const batches = history();
  const expected = replay(batches.flat());
  const plans: Op[][][] = [
    batches,
    [batches[0]!, ...batches.slice(1).reverse()],
    [batches[0]!, ...batches.slice(1).filter((_, i) => i % 2 === 0), ...batches.slice(1).filter((_, i) => i % 2 === 1)],
  ];
  for (const plan of plans) {
    const tree = await freshTree();
    for (const batch of plan) await applyOps(db, tree, batch);
    expect(await treeProblems(db, tree)).toEqual([]);
    expect(await readTree(db, tree)).toEqual(expected);
  }
}, 120_000);
