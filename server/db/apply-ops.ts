/** The types of a push's write; group-commit.ts does the writing. */

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
