// purge_trash (sql/000006): which trashed subtrees are old enough to go, straight in SQL, with
// deletes stamped at chosen wall times.
import { describe, expect, test } from 'vitest';
import { formatTs } from '../../protocol/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, readTree, treeFactory } from '../merge/pg-tree.ts';
import { move, set, ts } from '../merge/ops.ts';

const db = useTestDb();
const freshTree = treeFactory(db, 'purge');
const DAY = 86_400_000;
/** A timestamp `daysAgo` days before the real clock (the purge compares with the database's). */
const ago = (daysAgo: number, replica = 'alice', counter = 0) => formatTs(Date.now() - daysAgo * DAY, counter, replica);
const note = (tree: string, replica: string, floor: string) =>
  db.query('select treesync.note_replica($1, $2, $3)', [tree, replica, floor]);
const purge = async (tree: string, retention?: string) => {
  const client = await db.client();
  try {
    await client.query('begin');
    if (retention) await client.query(`select set_config('treesync.retention', $1, true)`, [retention]);
    const { rows } = await client.query('select treesync.purge_trash($1) as r', [tree]);
    await client.query('commit');
    return rows[0].r;
  } finally {
    client.release();
  }
};
const ids = async (tree: string) => (await readTree(db, tree)).nodes.map((n) => n.id);

describe('purge_trash', () => {
  test('only deletes older than the retention window go', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [
      move(ago(40), 'old', 'ROOT'),
      move(ago(40, 'alice', 1), 'recent', 'ROOT'),
      move(ago(35), 'old', 'TRASH'),
      move(ago(2), 'recent', 'TRASH'),
    ]);
    await note(tree, 'alice', ago(1));
    expect(await purge(tree)).toMatchObject({ purged: 1, nodes: 1 });
    expect(await ids(tree)).toEqual(['ROOT', 'TRASH', 'recent']);
    // With a shorter window, the recent one is old enough too.
    expect(await purge(tree, '1 day')).toMatchObject({ purged: 1 });
    expect(await ids(tree)).toEqual(['ROOT', 'TRASH']);
  });

  test('only deletes older than the frontier go; without a frontier nothing does', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(1), 'a', 'ROOT'), move(ts(2), 'a', 'TRASH')]);
    expect(await purge(tree)).toMatchObject({ purged: 0 });
    await note(tree, 'alice', ts(2)); // F is the delete itself: not older than F
    expect(await purge(tree)).toMatchObject({ purged: 0 });
    await note(tree, 'alice', ts(3));
    expect(await purge(tree)).toMatchObject({ purged: 1, nodes: 1, moves: 2 });
  });

  test('a node restored from the trash is not purged, and a subtree goes with its fields', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [
      move(ts(1), 'a', 'ROOT'),
      move(ts(2), 'b', 'a'),
      set(ts(3), 'b', 'k', 'v'),
      move(ts(4), 'c', 'ROOT'),
      move(ts(5), 'a', 'TRASH'),
      move(ts(6), 'c', 'TRASH'),
      move(ts(7), 'c', 'ROOT'), // undeleted
    ]);
    await note(tree, 'alice', ts(100));
    expect(await purge(tree)).toMatchObject({ purged: 1, nodes: 2, fields: 1 });
    expect(await ids(tree)).toEqual(['ROOT', 'TRASH', 'c']);
    const left = await db.query('select count(*)::int as n from treesync.fields where tree = $1', [tree]);
    expect(left.rows[0].n).toBe(0);
  });

  test('an unknown tree is refused', async () => {
    await expect(purge('no-such-tree')).rejects.toMatchObject({ code: 'TS003' });
  });
});
