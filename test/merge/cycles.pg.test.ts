// Moves that would make a cycle are skipped, whatever order they arrive in.
import { describe, expect, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { applyOps, readTree, treeFactory, treeProblems } from './pg-tree.ts';
import { move, ts } from './ops.ts';

const db = useTestDb();
const freshTree = treeFactory(db, 'cycles');
const parentOf = async (tree: string, id: string) =>
  (await readTree(db, tree)).nodes.find((x) => x.id === id)?.parent;

describe('cycles', () => {
  test('two replicas move A under B and B under A: the later move is skipped', async () => {
    const setup = [move(ts(1), 'A', 'ROOT'), move(ts(2), 'B', 'ROOT')];
    const alice = move(ts(10, 'alice'), 'A', 'B');
    const bob = move(ts(11, 'bob'), 'B', 'A');

    for (const order of [[alice, bob], [bob, alice]]) {
      const tree = await freshTree();
      await applyOps(db, tree, setup);
      for (const op of order) await applyOps(db, tree, [op]);
      expect(await parentOf(tree, 'A')).toBe('B');
      expect(await parentOf(tree, 'B')).toBe('ROOT');
      expect(await treeProblems(db, tree)).toEqual([]);
    }
  });

  test('three replicas close a 3-cycle A→B→C→A: the newest move is skipped', async () => {
    const setup = ['A', 'B', 'C'].map((id, i) => move(ts(i), id, 'ROOT'));
    const moves = [move(ts(10, 'r1'), 'A', 'B'), move(ts(11, 'r2'), 'B', 'C'), move(ts(12, 'r3'), 'C', 'A')];
    for (const order of [moves, [...moves].reverse(), [moves[1]!, moves[2]!, moves[0]!]]) {
      const tree = await freshTree();
      await applyOps(db, tree, setup);
      for (const op of order) await applyOps(db, tree, [op]);
      expect(await parentOf(tree, 'A')).toBe('B');
      expect(await parentOf(tree, 'B')).toBe('C');
      expect(await parentOf(tree, 'C')).toBe('ROOT');
      expect(await treeProblems(db, tree)).toEqual([]);
    }
  });

  test('a move under its own descendant is skipped, and under itself too', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(1), 'A', 'ROOT'), move(ts(2), 'B', 'A'), move(ts(3), 'C', 'B')]);
    const result = await applyOps(db, tree, [move(ts(4), 'A', 'C'), move(ts(5), 'A', 'A')]);
    expect(result.skipped).toBe(2);
    expect(await parentOf(tree, 'A')).toBe('ROOT');
    expect(await treeProblems(db, tree)).toEqual([]);
  });

  test('a 10,000-deep chain: moving its top under its bottom is skipped, the reverse is not', async () => {
    const tree = await freshTree();
    const depth = 10_000;
    const chain = Array.from({ length: depth }, (_, i) => move(ts(i), `c${i}`, i === 0 ? 'ROOT' : `c${i - 1}`));
    await applyOps(db, tree, chain);

    const top = await applyOps(db, tree, [move(ts(depth + 1), 'c0', `c${depth - 1}`)]);
    expect(top.skipped).toBe(1);
    expect(await parentOf(tree, 'c0')).toBe('ROOT');

    const bottom = await applyOps(db, tree, [move(ts(depth + 2), `c${depth - 1}`, 'ROOT')]);
    expect(bottom.skipped).toBe(0);
    expect(await parentOf(tree, `c${depth - 1}`)).toBe('ROOT');
    expect(await treeProblems(db, tree)).toEqual([]);
  });

  test('a cycle through the trash is skipped like any other', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(1), 'A', 'TRASH'), move(ts(2), 'B', 'A')]);
    await applyOps(db, tree, [move(ts(3), 'A', 'B')]);
    expect(await parentOf(tree, 'A')).toBe('TRASH');
    expect(await treeProblems(db, tree)).toEqual([]);
  });
});
