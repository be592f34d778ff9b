// A move is skipped when its parent does not exist at that point in timestamp order.
import { describe, expect, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { applyOps, readTree, treeFactory, treeProblems } from './pg-tree.ts';
import { move, ts } from './ops.ts';

const db = useTestDb();
const freshTree = treeFactory(db, 'exist');

describe('existence', () => {
  test('a move under a parent that is created only later (in ts order) is skipped', async () => {
    const tree = await freshTree();
    // B's move is older than A's creation: at B's timestamp, A does not exist.
    await applyOps(db, tree, [move(ts(2), 'A', 'ROOT'), move(ts(1), 'B', 'A')]);
    expect((await readTree(db, tree)).nodes.map((x) => x.id)).toEqual(['A', 'ROOT', 'TRASH']);
  });

  test('the same, delivered the other way round and in separate batches', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(1), 'B', 'A')]);
    await applyOps(db, tree, [move(ts(2), 'A', 'ROOT')]);
    expect((await readTree(db, tree)).nodes.map((x) => x.id)).toEqual(['A', 'ROOT', 'TRASH']);
  });

  test('a node under a node that was never placed does not exist; it appears once its parent does', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(1), 'child', 'ghost')]);
    expect((await readTree(db, tree)).nodes.map((x) => x.id)).toEqual(['ROOT', 'TRASH']);

    // The parent is created before the child's move in ts order, arriving late: the child's
    // move is redone and now applies.
    const late = await applyOps(db, tree, [move(ts(0), 'ghost', 'ROOT')]);
    expect(late.undone).toBe(1);
    const { nodes } = await readTree(db, tree);
    expect(nodes).toContainEqual({ id: 'child', parent: 'ghost', pos: '' });
    expect(await treeProblems(db, tree)).toEqual([]);
  });

  test('existence only grows in ts order: a node stays in place under the trash', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(1), 'A', 'ROOT'), move(ts(2), 'A', 'TRASH'), move(ts(3), 'B', 'A')]);
    // Deleted nodes still exist (inside the trash), so B can be placed under A.
    expect((await readTree(db, tree)).nodes).toContainEqual({ id: 'B', parent: 'A', pos: '' });
  });
});
