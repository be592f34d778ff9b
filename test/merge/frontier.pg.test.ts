// The stability frontier: operations older than the smallest floor of the replicas seen within
// the retention window are refused, named, and nothing of their batch is stored.
import { describe, expect, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { applyOps, applyOpsError, everything, treeFactory } from './pg-tree.ts';
import { move, set, ts } from './ops.ts';

const db = useTestDb();
const freshTree = treeFactory(db, 'frontier');
const note = (tree: string, replica: string, floor: string) =>
  db.query('select treesync.note_replica($1, $2, $3)', [tree, replica, floor]);
const frontier = async (tree: string) =>
  (await db.query<{ f: string | null }>('select treesync.frontier($1) as f', [tree])).rows[0]!.f;

describe('stability frontier', () => {
  test('no replica seen: no frontier, nothing is stale', async () => {
    const tree = await freshTree();
    expect(await frontier(tree)).toBeNull();
    await applyOps(db, tree, [move(ts(0), 'a', 'ROOT')]);
  });

  test('the frontier is the smallest floor, and a floor never moves back', async () => {
    const tree = await freshTree();
    await note(tree, 'bob', ts(50, 'bob'));
    await note(tree, 'alice', ts(100, 'alice'));
    expect(await frontier(tree)).toBe(ts(50, 'bob'));
    await note(tree, 'bob', ts(200, 'bob'));
    expect(await frontier(tree)).toBe(ts(100, 'alice'));
    await note(tree, 'bob', ts(10, 'bob')); // older than it said before: kept as it was
    expect(await frontier(tree)).toBe(ts(100, 'alice'));
  });

  test('new operations older than the frontier are refused, naming them; the batch leaves no trace', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(1), 'a', 'ROOT')]);
    await note(tree, 'alice', ts(100, 'alice'));
    const before = await everything(db, tree);
    const err = await applyOpsError(db, tree, [
      move(ts(150, 'carol'), 'b', 'ROOT'),
      set(ts(20, 'carol'), 'a', 'k', 1),
      move(ts(30, 'carol'), 'a', 'TRASH'),
    ]);
    expect(err.code).toBe('TS005');
    expect(err.detail).toEqual({ stale: [ts(20, 'carol'), ts(30, 'carol')], frontier: ts(100, 'alice') });
    expect(await everything(db, tree)).toEqual(before);
    // An old operation that is already stored is a duplicate, not stale.
    expect(await applyOps(db, tree, [move(ts(1), 'a', 'ROOT')])).toMatchObject({ duplicates: 1 });
  });

  test('a replica returning with a floor older than the frontier is counted from the frontier on', async () => {
    const tree = await freshTree();
    await note(tree, 'alice', ts(100, 'alice'));
    await note(tree, 'carol', ts(50, 'carol'));
    expect(await frontier(tree)).toBe(ts(100, 'alice'));
    const err = await applyOpsError(db, tree, [move(ts(60, 'carol'), 'c', 'ROOT')]);
    expect(err.code).toBe('TS005');
  });

  test('replicas not seen within the retention window no longer hold the frontier back', async () => {
    const tree = await freshTree();
    await note(tree, 'old', ts(5, 'old'));
    await note(tree, 'new', ts(500, 'new'));
    await db.query(`update treesync.replicas set seen_at = now() - interval '31 days' where tree = $1 and replica = 'old'`, [tree]);
    expect(await frontier(tree)).toBe(ts(500, 'new'));
    const client = await db.client();
    try {
      await client.query('begin');
      await client.query(`set local treesync.retention = '60 days'`);
      expect((await client.query('select treesync.frontier($1) as f', [tree])).rows[0].f).toBe(ts(5, 'old'));
      await client.query('rollback');
    } finally {
      client.release();
    }
  });

  test('a malformed replica id or floor is refused', async () => {
    const tree = await freshTree();
    await expect(note(tree, 'bad id', ts(1))).rejects.toMatchObject({ code: 'TS006' });
    await expect(note(tree, 'r'.repeat(33), ts(1))).rejects.toMatchObject({ code: 'TS006' });
    await expect(note(tree, 'alice', 'yesterday')).rejects.toMatchObject({ code: 'TS006' });
    await expect(note('no-such-tree', 'alice', ts(1))).rejects.toMatchObject({ code: 'TS003' });
  });
});
