/**
 * Bootstrap: fetch `GET /v1/trees/:tree/snapshot` as a stream and load it (load-snapshot.ts).
 * An answer that is not a snapshot is refused with the server's error code, and the replica
 * keeps what it had.
 */
import { TreesyncError, type ErrorCode } from '../../../protocol/errors.ts';
import type { Db } from '../sqlite-db.ts';
import { loadSnapshot, type LoadProgress, type LoadResult } from './load-snapshot.ts';

export interface BootstrapOptions {
  /** The server's base URL, e.g. `https://sync.example.com`. */
  url: string;
  tree: string;
  /** A bearer token (the app resolves a token function before calling). */
  token?: string;
}

export async function bootstrap(
  db: Db,
  options: BootstrapOptions,
  maxValueBytes: number,
  onProgress?: (p: LoadProgress) => void,
): Promise<LoadResult> {
  const url = `${options.url.replace(/\/+$/, '')}/v1/trees/${encodeURIComponent(options.tree)}/snapshot`;
  const res = await fetch(url, { headers: options.token ? { authorization: `Bearer ${options.token}` } : {} });
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
    throw new TreesyncError(code, message);
  }
  return loadSnapshot(db, res.body, maxValueBytes, onProgress);
}
