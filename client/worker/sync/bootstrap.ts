/**
 * Bootstrap: fetch `GET /v1/trees/:tree/snapshot` as a stream and load it (load-snapshot.ts).
 * An answer that is not a snapshot is refused with the server's error code, and the replica
 * keeps what it had.
 *
 * Two threads where a second worker can start (snapshot-feed.ts): the feed thread fetches,
 * parses and stages the stream while this worker inserts the batches it handed over, so the
 * parsing overlaps SQLite's work. Where none can, this worker does all of it itself.
 */
import type { LocalEdits } from '../local-edits.ts';
import type { Db } from '../sqlite-db.ts';
import { BATCH_ROWS, loadSnapshot, loadStaged, type LoadProgress, type LoadResult } from './load-snapshot.ts';
import { openFeed } from './snapshot-feed.ts';
import { snapshotBody, snapshotRequest, type SnapshotRequestOptions } from './snapshot-request.ts';

export interface BootstrapOptions extends SnapshotRequestOptions {
  /** Aborts the request (going offline). */
  signal?: AbortSignal;
}

export async function bootstrap(
  db: Db,
  options: BootstrapOptions,
  maxValueBytes: number,
  onProgress?: (p: LoadProgress) => void,
  /** The replica's editor: its clock starts at or above the snapshot's frontier. */
  edits?: LocalEdits,
): Promise<LoadResult> {
  const request = snapshotRequest(options);
  // Until the stream's header arrives (the server starts its COPY), progress says "0 rows", so
  // the app hears within 100 ms from the start too (every 50 ms: a timer can fire late).
  const waiting = onProgress ? setInterval(() => onProgress({ rows: 0, totalRows: 0, bytes: 0, done: false }), 50) : undefined;
  let body: ReadableStream<Uint8Array>;
  try {
    const feed = await openFeed(request, BATCH_ROWS, options.signal);
    if (feed) {
      clearInterval(waiting);
      try {
        return await loadStaged(db, feed.events(db.raw), maxValueBytes, onProgress, edits);
      } finally {
        feed.close();
      }
    }
    // No feed thread here: fetch and parse in this one.
    const res = await fetch(request.url, { headers: request.headers, ...(options.signal ? { signal: options.signal } : {}) });
    body = await snapshotBody(res, request.url);
  } finally {
    clearInterval(waiting);
  }
  return loadSnapshot(db, body, maxValueBytes, onProgress, edits);
}
