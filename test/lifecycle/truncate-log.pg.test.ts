// Truncation at the stability frontier F (sql/000006): log rows and operations older than F go,
// in bounded batches, and no merge that can still happen notices.
import { describe, expect, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { applyOps, applyOpsError, readTree, treeFactory, treeProblems } from '../merge/pg-tree.ts';
import { move, set, ts } from '../merge/ops.ts';
import type { Op } from '../../protocol/ops.ts';

const db = useTestDb();
const freshTree = treeFactory(db, 'trunc');
const note = (tree: string, replica: string, floor: string) =>
  db.query('select treesync.note_replica($1, $2, $3)', [tree, replica, floor]);

interface Batch {
  frontier: string | null;
  moves: number;
  ops: number;
  kept_seq: number;
  more: boolean;
  held_ms: number;
}
const truncate = async (tree: string, maxRows = 1000): Promise<Batch> =>
  (await db.query<{ r: Batch }>('select treesync.truncate_log($1, $2) as r', [tree, maxRows])).rows[0]!.r;
const truncateAll = async (tree: string, maxRows: number): Promise<Batch[]> => {
  const batches: Batch[] = [];
  for (;;) {
    const b = await truncate(tree, maxRows);
    batches.push(b);
    if (!b.more) return batches;
  }
};
const logTs = async (tree: string) =>
  (await db.query<{ ts: string }>('select ts from treesync.moves where tree = $1 order by ts collate "C"', [tree])).rows.map((r) => r.ts);
const opSeqs = async (tree: string) =>
  (await db.query<{ seq: string }>('select seq from treesync.ops where tree = $1 order by seq', [tree])).rows.map((r) => Number(r.seq));

describe('truncate_log', () => {
  test('no frontier: nothing is deleted', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(1), 'a', 'ROOT'), move(ts(2), 'b', 'a')]);
    expect(await truncate(tree)).toMatchObject({ frontier: null, moves: 0, ops: 0, more: false });
    expect(await logTs(tree)).toHaveLength(2);
  });

  test('log rows below F go in batches of at most max_rows; rows at and above F stay', async () => {
    const tree = await freshTree();
    const ops = Array.from({ length: 7 }, (_, i) => move(ts(10 + i), `n${i}`, 'ROOT'));
    await applyOps(db, tree, ops);
    await note(tree, 'alice', ts(15));
    const batches = await truncateAll(tree, 2);
    expect(batches.map((b) => b.moves)).toEqual([2, 2, 1]);
    expect(batches.every((b) => b.frontier === ts(15))).toBe(true);
    expect(await logTs(tree)).toEqual([ts(15), ts(16)]);
    // The tree itself is untouched.
    expect((await readTree(db, tree)).nodes).toHaveLength(9);
  });

  test('F never moves back below what was truncated, even when every replica leaves the window', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(1), 'a', 'ROOT'), move(ts(5), 'b', 'ROOT')]);
    await note(tree, 'alice', ts(4));
    await truncateAll(tree, 10);
    await db.query(`update treesync.replicas set seen_at = now() - interval '31 days' where tree = $1`, [tree]);
    const f = await db.query('select treesync.frontier($1) as f', [tree]);
    expect(f.rows[0].f).toBe(ts(4));
    // A new replica with an old floor is counted from there on; older ops stay refused.
    await note(tree, 'bob', ts(2, 'bob'));
    expect((await applyOpsError(db, tree, [move(ts(3, 'bob'), 'c', 'ROOT')])).code).toBe('TS005');
  });

  test('operations go over a prefix older than F, never past what a puller still needs', async () => {
    const tree = await freshTree();
    // seq 1..3 older than F, seq 4 newer, seq 5 older again (a slow clock).
    await applyOps(db, tree, [move(ts(1), 'a', 'ROOT'), set(ts(2), 'a', 'k', 1), move(ts(3), 'b', 'ROOT')]);
    await applyOps(db, tree, [set(ts(50), 'a', 'k', 2)]);
    await applyOps(db, tree, [set(ts(4, 'carol'), 'b', 'k', 3)]);
    await note(tree, 'alice', ts(20));
    await db.query('select treesync.note_pulled($1, $2, $3)', [tree, 'alice', 2]);
    let b = await truncate(tree);
    expect(b).toMatchObject({ kept_seq: 2, ops: 2 });
    expect(await opSeqs(tree)).toEqual([3, 4, 5]);
    await db.query('select treesync.note_pulled($1, $2, $3)', [tree, 'alice', 5]);
    b = await truncate(tree);
    expect(b).toMatchObject({ kept_seq: 3, ops: 1 }); // seq 4 is at/above F: the prefix stops
    expect(await opSeqs(tree)).toEqual([4, 5]);
    // A retry of the kept op newer than F is still a duplicate; one of a deleted op is stale.
    expect(await applyOps(db, tree, [set(ts(50), 'a', 'k', 2)])).toMatchObject({ duplicates: 1 });
    expect((await applyOpsError(db, tree, [set(ts(2), 'a', 'k', 1)])).code).toBe('TS005');
  });

  test('a pull position (note_pulled) never moves back and needs a noted replica', async () => {
    const tree = await freshTree();
    await db.query('select treesync.note_pulled($1, $2, $3)', [tree, 'ghost', 5]);
    expect((await db.query('select count(*)::int as n from treesync.replicas where tree = $1', [tree])).rows[0].n).toBe(0);
    await note(tree, 'alice', ts(1));
    await db.query('select treesync.note_pulled($1, $2, $3)', [tree, 'alice', 5]);
    await db.query('select treesync.note_pulled($1, $2, $3)', [tree, 'alice', 3]);
    expect((await db.query('select pulled from treesync.replicas where tree = $1', [tree])).rows[0].pulled).toBe('5');
  });

  test('bad arguments are refused and change nothing', async () => {
    const tree = await freshTree();
    await expect(truncate(tree, 0)).rejects.toMatchObject({ code: 'TS006' });
    await expect(truncate('no-such-tree')).rejects.toMatchObject({ code: 'TS003' });
  });
});

/** A small deterministic generator (mulberry32), so a failing history can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomOps(r: () => number, from: number, to: number, count: number, replica: string): Op[] {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  const parents = ['ROOT', 'TRASH', ...ids];
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: count }, (_, i) => {
    const at = ts(from + Math.floor(r() * (to - from)), replica, i);
    return r() < 0.75 ? move(at, pick(ids), pick(parents), String(i)) : set(at, pick(ids), 'k', i);
  });
}

describe('merging is unchanged by truncation', () => {
  // Twin trees get the same history; one is truncated at F; then late operations (at or above
  // F, older than much of the log, so they undo and redo it) arrive at both.
  test.each([1, 2, 3, 4, 5, 6, 7, 8])('random history %i', async (seed) => {
    const r = rng(seed);
    const [truncated, whole] = [await freshTree(), await freshTree()];
    const early = randomOps(r, 0, 1000, 40, 'alice');
    const late = randomOps(r, 500, 1000, 20, 'bob');
    for (const t of [truncated, whole]) {
      await applyOps(db, t, early);
      await note(t, 'bob', ts(500, 'bob'));
    }
    const before = (await logTs(truncated)).length;
    await truncateAll(truncated, 7);
    expect((await logTs(truncated)).length).toBeLessThan(before);
    expect((await logTs(truncated)).every((x) => x >= ts(500, 'bob'))).toBe(true);
    for (const op of late) for (const t of [truncated, whole]) await applyOps(db, t, [op]);
    expect(await readTree(db, truncated)).toEqual(await readTree(db, whole));
    expect(await treeProblems(db, truncated)).toEqual([]);
    const logAbove = (rows: string[]) => rows.filter((x) => x >= ts(500, 'bob'));
    const rowsOf = (t: string) =>
      db.query(`select ts, node, parent, pos, old_parent, old_pos, applied from treesync.moves
                 where tree = $1 and ts >= $2 order by ts collate "C"`, [t, ts(500, 'bob')]);
    expect((await rowsOf(truncated)).rows).toEqual((await rowsOf(whole)).rows);
    expect(logAbove(await logTs(truncated))).toEqual(await logTs(truncated));
  });
});
