/**
 * The sync loop's HTTP calls: JSON in and out, the bearer token, an abort signal (going
 * offline aborts what is in flight), and every failure as a TreesyncError the loop can sort:
 *
 * - the server's error body → its `code` and details, plus `status` and, on 429/503,
 *   `retryAfter` (seconds, from the header);
 * - no answer at all (connection refused or cut, DNS) → `unavailable` with `network: true`;
 * - an answer that is not the JSON expected → `unavailable` with its status.
 */
import { TreesyncError, type ErrorCode } from '../../../protocol/errors.ts';

export interface HttpTarget {
  url: string;
  tree: string;
}

export interface CallInit {
  method: 'GET' | 'POST';
  /** The part after `/v1/trees/:tree`, with its query. */
  path: string;
  body?: unknown;
  token: string | undefined;
  signal: AbortSignal;
}

export function treeUrl(target: HttpTarget, path: string): string {
  return `${target.url.replace(/\/+$/, '')}/v1/trees/${encodeURIComponent(target.tree)}${path}`;
}

/** Seconds from a Retry-After header (seconds or an HTTP date); undefined when absent. */
export function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

export async function callJson<T>(target: HttpTarget, init: CallInit): Promise<T> {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(treeUrl(target, init.path), {
      method: init.method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: init.signal,
    });
  } catch (err) {
    if (init.signal.aborted) throw err;
    throw new TreesyncError('unavailable', `${init.method} ${init.path}: no answer (${(err as Error).message})`, { network: true });
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch (err) {
    if (init.signal.aborted) throw err;
    throw new TreesyncError('unavailable', `${init.method} ${init.path} answered ${res.status} without JSON`, { status: res.status });
  }
  if (res.ok) return body as T;
  const error = (body as { error?: { code?: string; message?: string } & Record<string, unknown> }).error ?? {};
  const { code, message, ...details } = error;
  throw new TreesyncError((typeof code === 'string' ? code : 'unavailable') as ErrorCode, typeof message === 'string' ? message : `answered ${res.status}`, {
    ...details,
    status: res.status,
    ...(res.status === 429 || res.status === 503 ? { retryAfter: retryAfterSeconds(res.headers.get('retry-after')) } : {}),
  });
}

/** Worth trying again later, unchanged: no answer, a 5xx, 429. */
export function isRetryable(err: unknown): boolean {
  const details = (err as { details?: { status?: number; network?: boolean } }).details ?? {};
  return details.network === true || details.status === 429 || (details.status !== undefined && details.status >= 500);
}

export function errorStatus(err: unknown): number | undefined {
  return (err as { details?: { status?: number } }).details?.status;
}
