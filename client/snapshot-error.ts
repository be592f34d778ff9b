/**
 * The one error a snapshot reader throws. It crosses the worker boundary, so callers match it
 * by `name` and `code`, never `instanceof`:
 * - `snapshot_truncated`: the stream ended before its end marker (a cut connection); nothing
 *   read from it may be kept as a tree.
 * - `snapshot_invalid`: the bytes are not a version-1 snapshot, or do not agree with its header
 *   (row counts, column counts, unknown tags, bytes after the end).
 */
export type SnapshotErrorCode = 'snapshot_truncated' | 'snapshot_invalid';

export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
  constructor(
    readonly code: SnapshotErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
