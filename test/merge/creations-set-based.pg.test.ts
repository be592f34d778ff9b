// The set-based path for the creations of a batch that cannot fail (merge_new_nodes, 000012)
// gives the model's tree and log: a creation is merged that way wherever it is in the batch,
// the other moves go the general way and see each created node only from its creation on.
import { expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { replay } from '../model/reference.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, readTree, treeFactory, treeProblems } from './pg-tree.ts';
import { move, ts } from './ops.ts';

const db = useTestDb();
const freshTree = treeFactory(db, 'lead');

const cases: Array<[string, Op[][]]> = [
  ['creations under parents created earlier in the batch', [[
    move(ts(1), 'a', 'ROOT'), move(ts(2), 'b', 'a'), move(ts(3), 'c', 'b'), move(ts(4), 'd', 'ROOT'),
  ]]],
  ['a parent created later in the batch: that move is skipped, the rest still merged', [[
    move(ts(1), 'a', 'ROOT'), move(ts(2), 'b', 'c'), move(ts(3), 'c', 'a'), move(ts(4), 'd', 'c'),
  ]]],
  ['a node created twice in one batch: the second is a move', [[
    move(ts(1), 'a', 'ROOT'), move(ts(2), 'b', 'ROOT'), move(ts(3), 'a', 'b', 'x'), move(ts(4), 'b', 'a'),
  ]]],
  ['a node under itself, then creations', [[
    move(ts(1), 'a', 'a'), move(ts(2), 'b', 'ROOT'), move(ts(3), 'a', 'b'),
  ]]],
  ['a node that exists already, then creations under it', [
    [move(ts(1), 'a', 'ROOT'), move(ts(2), 'b', 'a')],
    [move(ts(3), 'a', 'b'), move(ts(4), 'c', 'b'), move(ts(5), 'b', 'c')],
  ]],
  ['creations under TRASH and under a missing parent', [[
    move(ts(1), 'a', 'TRASH'), move(ts(2), 'b', 'nowhere'), move(ts(3), 'c', 'a'),
  ]]],
  ['batch order differs from ts order', [[
    move(ts(3), 'c', 'b'), move(ts(1), 'a', 'ROOT'), move(ts(2), 'b', 'a'),
  ]]],
  ['creations after a re-parenting; a move under a node the batch creates later is skipped', [
    [move(ts(1), 'a', 'ROOT'), move(ts(2), 'b', 'ROOT')],
    [move(ts(3), 'a', 'b'), move(ts(4), 'm', 'x'), move(ts(5), 'x', 'a'), move(ts(6), 'y', 'x'),
     move(ts(7), 'b', 'y'), move(ts(8), 'a', 'x'), move(ts(9), 'n', 'x')],
  ]],
  ['a chain of creations under a node whose creation is skipped drops out link by link', [
    [move(ts(1), 'a', 'ROOT')],
    [move(ts(2), 'a', 'TRASH'), move(ts(3), 'u', 'missing'), move(ts(4), 'v', 'u'), move(ts(5), 'w', 'v'),
     move(ts(6), 'missing', 'ROOT'), move(ts(7), 'u', 'missing'), move(ts(8), 'k', 'u'), move(ts(9), 'a', 'k')],
  ]],
  ['a batch whose first, middle and last moves move existing nodes: its creations go the general way', [
    [move(ts(1), 'a', 'ROOT'), move(ts(2), 'b', 'ROOT'), move(ts(3), 'c', 'ROOT')],
    [move(ts(4), 'a', 'b'), move(ts(5), 'd', 'a'), move(ts(6), 'b', 'd'), move(ts(7), 'e', 'd'), move(ts(8), 'c', 'e')],
  ]],
  ['a late batch of creations (the general way) after the fast path', [
    [move(ts(10), 'a', 'ROOT'), move(ts(11), 'b', 'a')],
    [move(ts(5), 'x', 'ROOT'), move(ts(6), 'a', 'x')],
  ]],
];

test.each(cases)('%s', async (_, batches) => {
  const tree = await freshTree();
  for (const batch of batches) await applyOps(db, tree, batch);
  expect(await treeProblems(db, tree)).toEqual([]);
  expect(await readTree(db, tree)).toEqual(replay(batches.flat()));
});
