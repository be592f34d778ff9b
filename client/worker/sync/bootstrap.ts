/**
 * Bootstrap: fetch `GET /v1/trees/:tree/snapshot` as a stream and load it (load-snapshot.ts).
 * An answer that is not a snapshot is refused with the server's error code, and the replica
 * keeps what it had.
 */
import { TreesyncError, type ErrorCode } from '../../../protocol/errors.ts';
import type { LocalEdits } from '../local-edits.ts';
import type { Db } from '../sqlite-db.ts';
import { loadSnapshot, type LoadProgress, type LoadResult } from './load-snapshot.ts';

export interface BootstrapOptions {
  /** The server's base URL, e.g. `https://sync.example.com`. */
  url: string;
  tree: string;
  /** A bearer token (the app resolves a token function before calling). */
  token?: string;
  /** false: ask for the stream uncompressed (faster on loopback and fast networks; browsers
   * decide this header themselves and ignore it). Default: the runtime's choice (gzip). */
  compression?: boolean;
  /** This replica's id and floor: the server records the floor before it reads the snapshot,
   * so the replica's first edits after it are never stale (both or neither). */
  replica?: string;
  floor?: string;
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
  const query = options.replica !== undefined && options.floor !== undefined ? `?${new URLSearchParams({ replica: options.replica, floor: options.floor })}` : '';
  const url = `${options.url.replace(/\/+$/, '')}/v1/trees/${encodeURIComponent(options.tree)}/snapshot${query}`;
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.compression === false) headers['accept-encoding'] = 'identity';
  // Until the stream's header arrives (the server starts its COPY), progress says "0 rows", so
  // the app hears within 100 ms from the start too (every 50 ms: a timer can fire late).
  const waiting = onProgress ? setInterval(() => onProgress({ rows: 0, totalRows: 0, bytes: 0, done: false }), 50) : undefined;
  let res: Response;
  try {
    res = await fetch(url, { headers, ...(options.signal ? { signal: options.signal } : {}) });
  } finally {
    clearInterval(waiting);
  }
  if (!res.ok || !res.body) {
    let code: ErrorCode = 'unavailable';
    let message = `GET ${url} answered ${res.status}`;
    try {
      const body = (await res.json()) as { error?: { code?: ErrorCode; message?: string } };
      if (body.error?.code) code = body.error.code;
      if (body.error?.message) message = body.error.message;
    } catch {
      // not a JSON error body: keep the status line
    }
    const retryAfter = res.headers.get('retry-after');
    throw new TreesyncError(code, message, { status: res.status, ...(retryAfter !== null && Number.isFinite(Number(retryAfter)) ? { retryAfter: Number(retryAfter) } : {}) });
  }
  return loadSnapshot(db, res.body, maxValueBytes, onProgress, edits);
}
