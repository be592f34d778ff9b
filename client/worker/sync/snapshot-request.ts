/**
 * The snapshot's request and the refusal of an answer that is not a snapshot: shared by the
 * replica's worker (bootstrap.ts, when it fetches the stream itself) and the feed thread
 * (snapshot-feed-serve.ts, which fetches it for the worker).
 */
import { TreesyncError, type ErrorCode } from '../../../protocol/errors.ts';

/** What the request needs: where, who, and how. */
export interface SnapshotRequest {
  url: string;
  headers: Record<string, string>;
}

export interface SnapshotRequestOptions {
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
}

export function snapshotRequest(options: SnapshotRequestOptions): SnapshotRequest {
  const query = options.replica !== undefined && options.floor !== undefined ? `?${new URLSearchParams({ replica: options.replica, floor: options.floor })}` : '';
  const url = `${options.url.replace(/\/+$/, '')}/v1/trees/${encodeURIComponent(options.tree)}/snapshot${query}`;
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.compression === false) headers['accept-encoding'] = 'identity';
  return { url, headers };
}

/** The body of a snapshot answer; an answer that is not one is refused with the server's error
 * code (its body's), or `unavailable`. */
export async function snapshotBody(res: Response, url: string): Promise<ReadableStream<Uint8Array>> {
  if (res.ok && res.body) return res.body;
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
