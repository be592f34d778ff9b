// Moves of nodes without descendants start no cycle walk (000013): the tree and the log are
// still the model's, including when the window itself puts a node under the moved one first.
import { expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { replay } from '../model/reference.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, readTree, treeFactory, treeProblems } from './pg-tree.ts';
import { move, ts } from './ops.ts';

const db = useTestDb();
const freshTree = treeFactory(db, 'leaf');

const chain = [move(ts(1), 'a', 'ROOT'), move(ts(2), 'b', 'a'), move(ts(3), 'c', 'b'), move(ts(4), 'x', 'ROOT')];

const cases: Array<[string, Op[][]]> = [
  ['a leaf moved under a deep node, then its old ancestor under it (a cycle: skipped)', [
    chain,
    [move(ts(5), 'c', 'x'), move(ts(6), 'x', 'c'), move(ts(7), 'a', 'c')],
  ]],
  ['a leaf that the window gives a child, then moved under that child (a cycle: skipped)', [
    chain,
    [move(ts(5), 'x', 'c', 'p'), move(ts(6), 'b', 'x'), move(ts(7), 'x', 'b'), move(ts(8), 'c', 'ROOT')],
  ]],
  ['a leaf that a creation of the same batch gives a child, then moved under it', [
    chain,
    [move(ts(5), 'a', 'x'), move(ts(6), 'n', 'c'), move(ts(7), 'c', 'n'), move(ts(8), 'x', 'n')],
  ]],
  ['leaves moved twice, one under the other', [
    chain,
    [move(ts(5), 'c', 'x'), move(ts(6), 'x', 'a'), move(ts(7), 'c', 'ROOT'), move(ts(8), 'x', 'c')],
  ]],
];

test.each(cases)('%s', async (_, batches) => {
  const tree = await freshTree();
  for (const batch of batches) await applyOps(db, tree, batch);
  expect(await treeProblems(db, tree)).toEqual([]);
  expect(await readTree(db, tree)).toEqual(replay(batches.flat()));
});
