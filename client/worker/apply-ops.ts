/**
 * The replica's merge of a batch: `treesync.apply_ops` for one tree in SQLite. Validation and
 * de-duplication first (nothing is written for a bad batch), then moves and sets in one
 * transaction, so a failure midway leaves the replica as it was.
 */
import type { MoveOp } from '../../protocol/ops.ts';
import { newOps, validateBatch, type BatchOp, type StoredSet } from './batch.ts';
import { mergeMoves } from './merge-moves.ts';
import { mergeSets } from './merge-sets.ts';
import type { Db } from './sqlite-db.ts';

export interface ApplyResult {
  /** Operations stored now. */
  accepted: number;
  /** Operations of the batch already held (or repeated in it). */
  duplicates: number;
  /** Logged moves undone (and redone) because older ones arrived. */
  undone: number;
  /** New moves skipped (parent missing, or a cycle). */
  skipped: number;
}

export interface ApplyOptions {
  /** The largest `set` value, as its jsonb text in bytes (the server's default: 64 KiB). */
  maxValueBytes: number;
}

/** Merges a validated batch inside the caller's transaction. */
export async function mergeBatch(db: Db, batch: BatchOp[]): Promise<ApplyResult> {
  const fresh = await newOps(db, batch);
  const moves = fresh.filter((op): op is MoveOp & { index: number } => op.type === 'move');
  const sets = fresh.filter((op): op is StoredSet => op.type === 'set');
  const { undone, skipped } = await mergeMoves(db, moves);
  await mergeSets(db, sets);
  return { accepted: fresh.length, duplicates: batch.length - fresh.length, undone, skipped };
}

/** Validates and merges a batch in one transaction; `inTransaction` runs inside it after the
 * merge (the replica's clock observes the batch there). */
export async function applyOps(
  db: Db,
  ops: unknown,
  options: ApplyOptions,
  inTransaction?: (batch: BatchOp[]) => Promise<void>,
): Promise<ApplyResult> {
  const batch = validateBatch(ops, options.maxValueBytes);
  return db.transaction(async () => {
    const result = await mergeBatch(db, batch);
    await inTransaction?.(batch);
    return result;
  });
}
