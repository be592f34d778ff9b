// The merge looks a row up once per batch (000015): cycle walks start from the parents of the
// nodes the window loaded, and nodes are written back at the addresses they were loaded from.
// The tree and the log are still the model's; a write at an address that holds another node
// changes nothing and fails.
import { expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { replay } from '../model/reference.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, everything, readTree, treeFactory, treeProblems } from './pg-tree.ts';
import { move, ts } from './ops.ts';

const db = useTestDb();
const freshTree = treeFactory(db, 'addr');

// ROOT > a > b > c > d, ROOT > y > z
const trees = [
  move(ts(1), 'a', 'ROOT'), move(ts(2), 'b', 'a'), move(ts(3), 'c', 'b'), move(ts(4), 'd', 'c'),
  move(ts(5), 'y', 'ROOT'), move(ts(6), 'z', 'y'),
];

const cases: Array<[string, Op[][]]> = [
  ['a node under its deepest descendant, the walk passing nodes the batch also moves', [
    trees,
    [move(ts(10), 'b', 'd'), move(ts(11), 'c', 'z'), move(ts(12), 'a', 'd')],
  ]],
  ['a walk through a node the window moved, then on from its new parent (a cycle: skipped)', [
    trees,
    [move(ts(10), 'b', 'z'), move(ts(11), 'y', 'c'), move(ts(12), 'z', 'd')],
  ]],
  ['moves under ROOT and TRASH (no parent to walk from) and back under a descendant', [
    trees,
    [move(ts(10), 'b', 'TRASH'), move(ts(11), 'a', 'ROOT', 'p'), move(ts(12), 'd', 'TRASH'), move(ts(13), 'a', 'c')],
  ]],
  ['a late batch whose moves close cycles with logged ones, walks from every named node', [
    trees,
    [move(ts(20), 'y', 'd'), move(ts(21), 'c', 'ROOT'), move(ts(22), 'a', 'z')],
    [move(ts(15), 'z', 'b'), move(ts(16), 'd', 'y'), move(ts(17), 'n', 'd')],
  ]],
];

test.each(cases)('%s', async (_, batches) => {
  const tree = await freshTree();
  for (const batch of batches) await applyOps(db, tree, batch);
  expect(await treeProblems(db, tree)).toEqual([]);
  expect(await readTree(db, tree)).toEqual(replay(batches.flat()));
});

test('a write at an address that holds another node changes nothing and fails', async () => {
  const tree = await freshTree();
  await applyOps(db, tree, trees);
  const at = async (id: string) =>
    (await db.query<{ at: string }>('select ctid::text as at from treesync.nodes where tree = $1 and id = $2', [tree, id])).rows[0]!.at;
  const before = await everything(db, tree);
  const write = (gone: [string, string][], moved: [string, string][]) =>
    db.query(
      `select treesync.write_nodes_at($1, $2::tid[], $3::text[], $4::tid[], $5::text[], $6::text[], $7::text[],
                                      '{}', '{}', '{}')`,
      [tree, gone.map((g) => g[0]), gone.map((g) => g[1]), moved.map((m) => m[0]), moved.map((m) => m[1]),
        moved.map(() => 'ROOT'), moved.map(() => 'q')],
    );
  await expect(write([], [[await at('c'), 'd']])).rejects.toThrow(/write_nodes_at moved 0 nodes of addr-\d+, not 1 \(a bug\)/);
  await expect(write([[await at('z'), 'y']], [])).rejects.toThrow(/write_nodes_at deleted 0 nodes of addr-\d+, not 1 \(a bug\)/);
  expect(await everything(db, tree)).toEqual(before);
  // the right addresses: written
  await write([], [[await at('d'), 'd']]);
  expect((await readTree(db, tree)).nodes.find((n) => n.id === 'd')).toEqual({ id: 'd', parent: 'ROOT', pos: 'q' });
});
