/** A push's write: `treesync.apply_ops` in a transaction of its own, as short as it can be,
 * because it holds the tree's lock (every other push of the tree waits) until commit. */
import type pg from 'pg';
import type { Op } from '../../protocol/ops.ts';

/** What `apply_ops` answers (sql/000002-merge.sql). */
export interface ApplyResult {
  /** The tree's seq after the batch. */
  seq: number;
  /** Operations stored now, with seqs `seq - accepted + 1 .. seq`. */
  accepted: number;
  duplicates: number;
  undone: number;
  skipped: number;
}

/** Who pushes: recorded with the batch, so the tree's stability frontier counts it. */
export interface Pusher {
  replica: string;
  /** The oldest ts it may still send. */
  floor: string;
  /** The token subject pushing: a replica id belongs to the subject that first used it on
   * the tree; another subject is refused (`forbidden`, TS007). */
  subject: string;
}

/**
 * Merges `ops` into `tree`, first recording the pusher's floor and subject
 * (`treesync.note_replica`) in the same transaction: a replica id used by another subject is
 * refused (`forbidden`); operations older than the tree's stability frontier are refused
 * (`stale_ops`). `beforeCommit` sees the result inside the transaction: throwing there rolls
 * the batch back (the push then stored nothing).
 */
export async function applyOps(
  pool: pg.Pool,
  tree: string,
  ops: Op[],
  maxValueBytes: number,
  pusher: Pusher,
  beforeCommit: (result: ApplyResult) => void = () => {},
): Promise<ApplyResult> {
  if (!Number.isSafeInteger(maxValueBytes)) throw new Error(`maxValueBytes ${maxValueBytes} is not an integer`);
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // One round trip for both: `set local` takes no bind parameter, and the value is an
    // integer from the configuration (checked above), so it is written in.
    await client.query(`begin; set local treesync.max_value_bytes = ${maxValueBytes}`);
    try {
      const { rows } = await client.query<{ result: Record<string, number | null> }>(
        // The ops go as text (the apply_ops(text, text) overload, sql/000004): a document the
        // database cannot parse is then TS001, not a failed cast outside the function.
        'select treesync.note_replica($1, $3, $4, $5), treesync.apply_ops($1, $2::text) as result',
        [tree, JSON.stringify(ops), pusher.replica, pusher.floor, pusher.subject],
      );
      const r = rows[0]!.result;
      const result: ApplyResult = {
        seq: Number(r.seq),
        accepted: Number(r.accepted),
        duplicates: Number(r.duplicates),
        undone: Number(r.undone),
        skipped: Number(r.skipped),
      };
      beforeCommit(result);
      await client.query('commit');
      return result;
    } catch (err) {
      await client.query('rollback').catch((e: Error) => (broken = e));
      throw err;
    }
  } finally {
    // A connection whose rollback failed is in an unknown state: do not pool it again.
    client.release(broken);
  }
}
