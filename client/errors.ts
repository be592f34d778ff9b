/**
 * Errors across the worker boundary. The worker throws TreesyncError (protocol/errors.ts, the
 * project's one error type); comlink would pass only an Error's name and message, so the worker
 * throws a plain object instead (`toWireError`), which arrives intact, and the main thread makes
 * it a TreesyncError again (`fromWireError`) with its details as properties too, so callers
 * read `err.code` and `err.index`. Match errors by `name` and `code`, never `instanceof`.
 */
import { ERROR_STATUS, TreesyncError, type ErrorCode } from '../protocol/errors.ts';

export interface WireError {
  name: string;
  code: string;
  message: string;
  details: Record<string, unknown>;
}

export type ReplicaError = TreesyncError & { index?: number; ts?: string };

export function toWireError(err: unknown): WireError {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown; details?: unknown };
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    code: typeof e.code === 'string' ? e.code : 'internal',
    message: typeof e.message === 'string' ? e.message : String(err),
    details: typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : {},
  };
}

function isWireError(value: unknown): value is WireError {
  const v = value as Partial<WireError> | null;
  return typeof v === 'object' && v !== null && typeof v.name === 'string' && typeof v.code === 'string' && typeof v.message === 'string';
}

/** The error a rejected RPC call becomes on the main thread. */
export function fromWireError(value: unknown): Error {
  if (!isWireError(value)) return value instanceof Error ? value : new Error(String(value));
  const known = value.code in ERROR_STATUS;
  const err = new TreesyncError((known ? value.code : 'internal') as ErrorCode, value.message, value.details);
  // A code of another family (the snapshot reader's `snapshot_truncated`, …) is kept as it came.
  if (!known) Object.defineProperty(err, 'code', { value: value.code, enumerable: true });
  // The details as properties (`index`, `ts`) too: the pinned interface promises `err.index`.
  for (const [k, v] of Object.entries(value.details)) {
    if (!(k in err)) Object.defineProperty(err, k, { value: v, enumerable: true });
  }
  if (value.name !== err.name) Object.defineProperty(err, 'name', { value: value.name });
  return err;
}

/** Makes an RPC call; a rejection becomes the error fromWireError makes. */
export async function rpc<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw fromWireError(err);
  }
}
