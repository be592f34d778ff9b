// purge_trash (sql/000007): which trashed subtrees are old enough to go, straight in SQL, with
// deletes stamped at chosen wall times.
import type pg from 'pg';
import { describe, expect, test } from 'vitest';
import { formatTs, type Op } from '../../protocol/ops.ts';
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
/** One batch large enough for the whole trash of these small trees. */
const purge = async (tree: string, retention?: string) => {
  const client = await db.client();
  try {
    await client.query('begin');
    if (retention) await client.query(`select set_config('treesync.retention', $1, true)`, [retention]);
    const { rows } = await client.query('select treesync.purge_trash($1, 1000, null) as r', [tree]);
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

  test('a node that left the subtree at or above F keeps it (its move may still be undone)', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [
      move(ago(40), 'a', 'ROOT'),
      move(ago(40, 'alice', 1), 'b', 'a'),
      move(ago(35), 'a', 'TRASH'),
      move(ago(1), 'b', 'ROOT'), // b leaves a's subtree, above F
    ]);
    await note(tree, 'alice', ago(2));
    expect(await purge(tree)).toMatchObject({ purged: 0 });
    expect(await ids(tree)).toEqual(['ROOT', 'TRASH', 'a', 'b']);
  });

  test('batch by batch, after a cursor: each batch walks about max_nodes nodes, and all of them together purge everything', async () => {
    const tree = await freshTree();
    const ops: Op[] = [];
    for (let i = 0; i < 6; i++) {
      ops.push(move(ago(40, 'alice', 3 * i), `t${i}`, 'ROOT'), move(ago(40, 'alice', 3 * i + 1), `t${i}c`, `t${i}`));
      ops.push(set(ago(40, 'alice', 3 * i + 2), `t${i}c`, 'k', i));
    }
    for (let i = 0; i < 6; i++) ops.push(move(ago(35, 'alice', i), `t${i}`, 'TRASH'));
    await applyOps(db, tree, ops);
    await note(tree, 'alice', ago(1));
    const batches: Array<{ purged: number; fields: number; after: string | null; more: boolean }> = [];
    let after: string | null = null;
    for (;;) {
      const result: pg.QueryResult = await db.query('select treesync.purge_trash($1, 3, $2) as r', [tree, after]);
      const batch = result.rows[0].r as (typeof batches)[number];
      batches.push(batch);
      after = batch.after;
      if (!batch.more) break;
    }
    // Two subtrees of 2 nodes fill a batch of 3 (a batch ends once it has walked 3 or more).
    expect(batches.map((b) => b.purged)).toEqual([2, 2, 2]);
    expect(batches.reduce((n, b) => n + b.fields, 0)).toBe(6);
    expect(await ids(tree)).toEqual(['ROOT', 'TRASH']);
    const left = await db.query('select count(*)::int as n from treesync.moves where tree = $1', [tree]);
    expect(left.rows[0].n).toBe(0);
  });

  test('max_nodes must be a positive integer', async () => {
    const tree = await freshTree();
    await expect(db.query('select treesync.purge_trash($1, 0, null)', [tree])).rejects.toMatchObject({ code: 'TS006' });
  });

  test('an unknown tree is refused', async () => {
    await expect(purge('no-such-tree')).rejects.toMatchObject({ code: 'TS003' });
  });
});
