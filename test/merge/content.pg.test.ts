// Content: last writer wins per (node, key); null removes a field; the trash keeps subtrees.
import { describe, expect, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { applyOps, readTree, treeFactory, treeProblems } from './pg-tree.ts';
import { move, set, ts } from './ops.ts';

const db = useTestDb();
const freshTree = treeFactory(db, 'content');

describe('content', () => {
  test('the greatest ts wins per field, whatever the arrival order', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [set(ts(3), 'n', 'text', 'newest'), set(ts(1), 'n', 'text', 'oldest')]);
    await applyOps(db, tree, [set(ts(2), 'n', 'text', 'middle'), set(ts(2, 'bob'), 'n', 'color', 'red')]);
    expect((await readTree(db, tree)).fields).toEqual([
      { node: 'n', key: 'color', value: 'red' },
      { node: 'n', key: 'text', value: 'newest' },
    ]);
  });

  test('null removes a field, and an older write arriving later does not bring it back', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [set(ts(1), 'n', 'text', 'hello'), set(ts(5), 'n', 'text', null)]);
    expect((await readTree(db, tree)).fields).toEqual([]);
    await applyOps(db, tree, [set(ts(3), 'n', 'text', 'late')]);
    expect((await readTree(db, tree)).fields).toEqual([]);
    await applyOps(db, tree, [set(ts(6), 'n', 'text', { rich: ['text', 1, null, true] })]);
    expect((await readTree(db, tree)).fields).toEqual([{ node: 'n', key: 'text', value: { rich: ['text', 1, null, true] } }]);
  });

  test('delete is a move into the trash; moves inside the trash and back out work', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [
      move(ts(1), 'folder', 'ROOT', 'a'),
      move(ts(2), 'doc', 'folder', 'a'),
      move(ts(3), 'other', 'ROOT', 'b'),
    ]);
    await applyOps(db, tree, [move(ts(4), 'folder', 'TRASH')]);
    let { nodes } = await readTree(db, tree);
    expect(nodes).toContainEqual({ id: 'folder', parent: 'TRASH', pos: '' });
    expect(nodes).toContainEqual({ id: 'doc', parent: 'folder', pos: 'a' }); // the subtree goes along

    await applyOps(db, tree, [move(ts(5), 'other', 'doc', 'x')]); // into the trash, deep
    await applyOps(db, tree, [move(ts(6), 'doc', 'TRASH', 'y')]); // within the trash
    await applyOps(db, tree, [move(ts(7), 'folder', 'ROOT', 'c')]); // undelete
    ({ nodes } = await readTree(db, tree));
    expect(nodes).toContainEqual({ id: 'folder', parent: 'ROOT', pos: 'c' });
    expect(nodes).toContainEqual({ id: 'doc', parent: 'TRASH', pos: 'y' });
    expect(nodes).toContainEqual({ id: 'other', parent: 'doc', pos: 'x' });
    expect(await treeProblems(db, tree)).toEqual([]);
  });

  test('ROOT and TRASH can carry content, but never move', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [set(ts(1), 'ROOT', 'title', 'My outline')]);
    expect((await readTree(db, tree)).fields).toEqual([{ node: 'ROOT', key: 'title', value: 'My outline' }]);
  });

  test('100,000 siblings keep their order keys; children sort by (pos, id) bytewise', async () => {
    const tree = await freshTree();
    const count = 100_000;
    const ops = Array.from({ length: count }, (_, i) =>
      move(ts(i), `s${i}`, 'ROOT', `k${String(count - i).padStart(6, '0')}`),
    );
    // Equal keys: the id decides, bytewise ('B' < 'a').
    ops.push(move(ts(count), 'a', 'ROOT', 'same'), move(ts(count + 1), 'B', 'ROOT', 'same'));
    for (let i = 0; i < ops.length; i += 10_000) await applyOps(db, tree, ops.slice(i, i + 10_000));
    const { rows } = await db.query<{ id: string }>(
      `select id from treesync.nodes where tree = $1 and parent = 'ROOT'
        order by pos collate "C", id collate "C"`,
      [tree],
    );
    expect(rows).toHaveLength(count + 2);
    expect(rows[0]!.id).toBe(`s${count - 1}`);
    expect(rows[count - 1]!.id).toBe('s0');
    expect(rows.slice(-2).map((r) => r.id)).toEqual(['B', 'a']);
  });
});
