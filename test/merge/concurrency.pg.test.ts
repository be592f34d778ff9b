// Concurrent merges of one tree from many connections: serialised, never a cycle, and the
// same result as applying everything from one connection.
import { describe, expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, createTree, readTree, treeProblems, treeSeq } from './pg-tree.ts';
import { move, set, ts } from './ops.ts';

const db = useTestDb();

/** Each of `replicas` replicas makes `perReplica` operations on a small shared set of nodes,
 * with many chances for cycles (every node moves under every other). */
function histories(replicas: number, perReplica: number): Op[][] {
  const nodes = ['a', 'b', 'c', 'd', 'e', 'f'];
  return Array.from({ length: replicas }, (_, r) =>
    Array.from({ length: perReplica }, (_, i): Op => {
      const at = ts(i, `r${r}`); // equal wall times across replicas: ties broken by replica id
      const node = nodes[(i * 5 + r) % nodes.length]!;
      if (i % 7 === 3) return set(at, node, 'text', `r${r}-${i}`);
      const parent = i < 6 ? 'ROOT' : i % 11 === 0 ? 'TRASH' : nodes[(i * 3 + r * 2) % nodes.length]!;
      return move(at, node, parent, `p${(i + r) % 4}`);
    }),
  );
}

describe('concurrency', () => {
  test('16 connections merging into one tree at once: no cycle, same tree as serial', async () => {
    const perReplica = histories(16, 60);
    await createTree(db, 'concurrent');
    await createTree(db, 'serial');
    db.pool.options.max = 20;

    // Each replica pushes its history in batches of 5, all replicas at the same time.
    await Promise.all(
      perReplica.map(async (ops) => {
        for (let i = 0; i < ops.length; i += 5) await applyOps(db, 'concurrent', ops.slice(i, i + 5));
      }),
    );
    await applyOps(db, 'serial', perReplica.flat());

    const total = perReplica.flat().length;
    expect(await treeSeq(db, 'concurrent')).toBe(total);
    expect(await treeProblems(db, 'concurrent')).toEqual([]);
    expect(await readTree(db, 'concurrent')).toEqual(await readTree(db, 'serial'));
    const { rows } = await db.query<{ n: string; lo: string; hi: string }>(
      `select count(distinct seq) n, min(seq) lo, max(seq) hi from treesync.ops where tree = 'concurrent'`,
    );
    expect(rows[0]).toEqual({ n: String(total), lo: '1', hi: String(total) });
  });
});
