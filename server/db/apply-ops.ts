/** The types of a push's write; group-commit.ts does the writing. */

/** What `apply_ops` answers (sql/000002-merge.sql, `restored` since sql/000005-restore.sql). */
export interface ApplyResult {
  /** The seq of the batch's last op (the tree's seq after the batch, before its restores). */
  seq: number;
  /** Operations stored now, with seqs `seq - accepted + 1 .. seq`. */
  accepted: number;
  duplicates: number;
  undone: number;
  skipped: number;
  /** Restores the server stored after the batch (seqs `seq + 1 .. seq + restored`): moves of
   * subtrees deleted concurrently with edits inside them back out of the trash. */
  restored: number;
}

/** Who pushes: recorded with the batch, so the tree's stability frontier counts it. */
export interface Pusher {
  replica: string;
  /** The oldest ts it may still send. */
  floor: string;
  /** The highest seq it had applied: what its ops had seen unless they say (`op.seen`). */
  seen: number;
  /** The token subject pushing: a replica id belongs to the subject that first used it on
   * the tree; another subject is refused (`forbidden`, TS007). */
  subject: string;
}
