/**
 * Truncates one tree's log at its stability frontier F (sql/000006, `truncate_log`): batch
 * after batch, each its own transaction holding the tree's lock for one batch only, so pushes
 * wait at most one batch. Answers what went and the longest time a batch held the lock (as
 * the database measured it from taking the lock to the end of the batch; the commit follows).
 */
import type pg from 'pg';

export interface TruncateResult {
  frontier: string | null;
  moves: number;
  ops: number;
  keptSeq: number;
  batches: number;
  /** The longest a batch held the tree's lock, in ms (database side, before its commit). */
  maxHeldMs: number;
  /** The longest a batch took end to end (call, lock wait, work, commit), in ms. */
  maxBatchMs: number;
}

interface Batch {
  frontier: string | null;
  moves: number;
  ops: number;
  kept_seq: number;
  more: boolean;
  held_ms: number;
}

export async function truncateTree(pool: pg.Pool, tree: string, maxRows = 1000): Promise<TruncateResult> {
  const result: TruncateResult = { frontier: null, moves: 0, ops: 0, keptSeq: 0, batches: 0, maxHeldMs: 0, maxBatchMs: 0 };
  for (;;) {
    const started = performance.now();
    const { rows } = await pool.query<{ r: Batch }>('select treesync.truncate_log($1, $2) as r', [tree, maxRows]);
    const b = rows[0]!.r;
    result.maxBatchMs = Math.max(result.maxBatchMs, performance.now() - started);
    result.maxHeldMs = Math.max(result.maxHeldMs, b.held_ms);
    result.batches++;
    result.frontier = b.frontier;
    result.moves += b.moves;
    result.ops += b.ops;
    result.keptSeq = Number(b.kept_seq);
    if (!b.more) return result;
  }
}
