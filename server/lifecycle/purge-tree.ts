/**
 * Purges one tree's trashed subtrees deleted before both the retention window and the
 * frontier (sql/000007, `purge_trash`): their nodes, fields and log rows go, and every replica
 * that pulls or pushes from before the purge is told to bootstrap again (`kept_seq`). Batch
 * after batch of subtrees, each its own transaction holding the tree's lock for one batch only,
 * so pushes wait at most one batch.
 */
import type pg from 'pg';

export interface PurgeResult {
  /** Subtrees purged (their tops, children of TRASH). */
  purged: number;
  nodes: number;
  fields: number;
  moves: number;
  /** Pulls from below this seq answer `reset`; null when nothing was purged. */
  keptSeq: number | null;
  batches: number;
  /** The longest a batch held the tree's lock, in ms (database side, before its commit). */
  maxHeldMs: number;
  /** The longest a batch took end to end (call, lock wait, work, commit), in ms. */
  maxBatchMs: number;
  /** The whole purge, every batch, in ms. */
  ms: number;
}

interface Batch {
  purged: number;
  nodes: number;
  fields: number;
  moves: number;
  kept_seq: number | null;
  after: string | null;
  more: boolean;
  held_ms: number;
}

/** `maxNodes`: about how many nodes a batch collects (a batch holds at least one subtree). */
export async function purgeTree(pool: pg.Pool, tree: string, maxNodes = 500): Promise<PurgeResult> {
  const started = performance.now();
  const result: PurgeResult = {
    purged: 0, nodes: 0, fields: 0, moves: 0, keptSeq: null, batches: 0, maxHeldMs: 0, maxBatchMs: 0, ms: 0,
  };
  let after: string | null = null;
  for (;;) {
    const b0 = performance.now();
    const { rows }: pg.QueryResult<{ r: Batch }> = await pool.query('select treesync.purge_trash($1, $2, $3) as r', [tree, maxNodes, after]);
    const b: Batch = rows[0]!.r;
    result.maxBatchMs = Math.max(result.maxBatchMs, performance.now() - b0);
    result.maxHeldMs = Math.max(result.maxHeldMs, b.held_ms);
    result.batches++;
    result.purged += b.purged;
    result.nodes += b.nodes;
    result.fields += b.fields;
    result.moves += b.moves;
    if (b.kept_seq !== null) result.keptSeq = Number(b.kept_seq);
    after = b.after;
    if (!b.more) break;
  }
  result.ms = performance.now() - started;
  return result;
}
