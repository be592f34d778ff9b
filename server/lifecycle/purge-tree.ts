/**
 * Purges one tree's trashed subtrees deleted before both the retention window and the
 * frontier (sql/000006, `purge_trash`): their nodes, fields and log rows go, and every replica
 * that pulls or pushes from before the purge is told to bootstrap again (`kept_seq`).
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
  /** How long the purge held the tree's lock, end to end, in ms. */
  ms: number;
}

export async function purgeTree(pool: pg.Pool, tree: string): Promise<PurgeResult> {
  const started = performance.now();
  const { rows } = await pool.query<{ r: Omit<PurgeResult, 'keptSeq' | 'ms'> & { kept_seq: number | null } }>(
    'select treesync.purge_trash($1) as r',
    [tree],
  );
  const { kept_seq, ...counts } = rows[0]!.r;
  return { ...counts, keptSeq: kept_seq === null ? null : Number(kept_seq), ms: performance.now() - started };
}
