// The trash listing (treesync.trash, sql/000010) after truncation: a top whose delete's log row
// is gone is still listed, with when, by whom and where from, as before the truncation; a purge
// afterwards leaves no trash_times row behind.
import { describe, expect, test } from 'vitest';
import { formatTs } from '../../protocol/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, readTree, treeFactory } from '../merge/pg-tree.ts';
import { move, ts } from '../merge/ops.ts';

const db = useTestDb();
const freshTree = treeFactory(db, 'trashorig');
const DAY = 86_400_000;
const ago = (daysAgo: number, counter = 0) => formatTs(Date.now() - daysAgo * DAY, counter, 'alice');
const note = (tree: string, replica: string, floor: string) =>
  db.query('select treesync.note_replica($1, $2, $3)', [tree, replica, floor]);

interface Entry {
  node: string;
  ts: string;
  old_parent: string | null;
  old_pos: string | null;
  parent_exists: boolean;
}
const trash = async (tree: string, limit = 100): Promise<Entry[]> =>
  (await db.query<Entry>('select * from treesync.trash($1, $2)', [tree, limit])).rows;
const truncateAll = async (tree: string, maxRows: number): Promise<void> => {
  for (;;) {
    const { rows } = await db.query<{ r: { more: boolean } }>('select treesync.truncate_log($1, $2) as r', [tree, maxRows]);
    if (!rows[0]!.r.more) return;
  }
};
const trashTimes = async (tree: string) =>
  (await db.query<{ node: string }>('select node from treesync.trash_times where tree = $1 order by node collate "C"', [tree])).rows.map(
    (r) => r.node,
  );

describe('trash after truncation', () => {
  test('tops whose delete was truncated are listed as before: ts, replica, old parent and position', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [
      move(ts(1), 'f', 'ROOT', 'a'),
      move(ts(2), 'x', 'f', 'm'),
      move(ts(3), 'y', 'ROOT', 'b'),
      move(ts(4, 'bob'), 'x', 'TRASH'), // deleted by bob, from f at m
      move(ts(5), 'y', 'TRASH'),
      move(ts(6), 'z', 'TRASH'), // created in the trash: no origin
      move(ts(7), 'w', 'ROOT', 'c'),
      move(ts(8), 'w', 'TRASH'),
      move(ts(9), 'w', 'ROOT', 'q'), // undeleted, moved, deleted again: the last delete counts
      move(ts(10, 'carol'), 'w', 'TRASH'),
      move(ts(11), 'v', 'f', 'n'),
      move(ts(20), 'v', 'TRASH'), // above F: stays in the log
    ]);
    const before = await trash(tree);
    expect(before.map((e) => e.node)).toEqual(['v', 'w', 'z', 'y', 'x']);
    expect(before.find((e) => e.node === 'x')).toEqual({ node: 'x', ts: ts(4, 'bob'), old_parent: 'f', old_pos: 'm', parent_exists: true });
    expect(before.find((e) => e.node === 'w')).toMatchObject({ ts: ts(10, 'carol'), old_parent: 'ROOT', old_pos: 'q' });

    await note(tree, 'alice', ts(15));
    await truncateAll(tree, 3); // several batches: w's two deletes land in different ones
    const left = await db.query<{ ts: string }>('select ts from treesync.moves where tree = $1 order by ts collate "C"', [tree]);
    expect(left.rows.map((r) => r.ts)).toEqual([ts(20)]);
    expect(await trashTimes(tree)).toEqual(['w', 'x', 'y', 'z']);

    expect(await trash(tree)).toEqual(before);
    expect(await trash(tree, 2)).toEqual(before.slice(0, 2));
    // The HTTP listing reads the same function: its replica is the ts's.
    expect((await trash(tree)).find((e) => e.node === 'x')!.ts.endsWith('.bob')).toBe(true);
  });

  test('a row truncated before its origin was kept (000009 and older) lists the top without origin', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(1), 'f', 'ROOT'), move(ts(2), 'x', 'f', 'm'), move(ts(3), 'x', 'TRASH')]);
    await note(tree, 'alice', ts(15));
    await truncateAll(tree, 100);
    await db.query('update treesync.trash_times set old_parent = null, old_pos = null where tree = $1', [tree]);
    expect(await trash(tree)).toEqual([{ node: 'x', ts: ts(3), old_parent: null, old_pos: null, parent_exists: false }]);
  });

  test('a purge after truncation leaves no trash_times row of a purged node, the top or below it', async () => {
    const tree = await freshTree();
    const deleted = ago(38);
    await applyOps(db, tree, [
      move(ago(41), 'b', 'ROOT'),
      move(ago(41, 1), 'c', 'ROOT'),
      move(ago(40), 'c', 'TRASH'), // c was a top once ...
      move(ago(39), 'c', 'b'), // ... then went under b
      move(deleted, 'b', 'TRASH'),
      move(ago(37), 'keep', 'ROOT'),
    ]);
    await note(tree, 'alice', ago(1));
    await truncateAll(tree, 100);
    expect(await trashTimes(tree)).toEqual(['b', 'c']);
    expect(await trash(tree)).toEqual([{ node: 'b', ts: deleted, old_parent: 'ROOT', old_pos: '', parent_exists: true }]);

    const { rows } = await db.query('select treesync.purge_trash($1, 1000, null) as r', [tree]);
    expect(rows[0].r).toMatchObject({ purged: 1, nodes: 2 });
    expect((await readTree(db, tree)).nodes.map((n) => n.id)).toEqual(['ROOT', 'TRASH', 'keep']);
    expect(await trashTimes(tree)).toEqual([]);
    expect(await trash(tree)).toEqual([]);
  });
});
