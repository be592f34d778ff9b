/**
 * The one place errors become answers: every error body is `{"error": {"code", "message",
 * ...details}}` (protocol/errors.ts). Routes throw `TreesyncError`; database errors raised by
 * treesync's SQL are mapped by their SQLSTATE (`fromDatabaseError`); a database that cannot be
 * reached is 503; anything else is a bug, answered 500 `internal` without its message (which
 * may hold internals) and logged with the request id so it can be found.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { fromDatabaseError, TreesyncError } from '../../protocol/errors.ts';
import type { AppDeps, AppEnv } from '../deps.ts';

export function onError(deps: AppDeps): ErrorHandler<AppEnv> {
  return (err, c) => {
    const e = toTreesyncError(err, c);
    if (e.status >= 500) {
      deps.logger.error('request failed', { requestId: c.get('requestId'), code: e.code, err });
    }
    const retryAfter = e.details.retryAfter;
    if (e.code === 'rate_limited' && typeof retryAfter === 'number') c.header('Retry-After', String(retryAfter));
    // The rest of a body that was too large is never read: the connection cannot carry another
    // request, so say so rather than let the client reuse it and fail.
    if (e.code === 'payload_too_large') c.header('Connection', 'close');
    return c.json(e.toBody(), e.status as ContentfulStatusCode);
  };
}

export const notFound: NotFoundHandler<AppEnv> = (c) => {
  const e = new TreesyncError('not_found', `no such endpoint: ${c.req.method} ${c.req.path}`);
  return c.json(e.toBody(), 404);
};

/** SQLSTATEs and pg client errors that mean the database is unreachable or overloaded now. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006']);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);

export function toTreesyncError(err: unknown, c?: Context<AppEnv>): TreesyncError {
  // Matched by name, not instanceof (style.md: errors are told apart by code and name).
  if (err instanceof Error && err.name === 'TreesyncError') return err as TreesyncError;
  const fromDb = fromDatabaseError(err);
  if (fromDb) return fromDb;
  if (err instanceof HTTPException) {
    if (err.status === 413) return new TreesyncError('payload_too_large', 'the body is too large');
    if (err.status < 500) return new TreesyncError('invalid_request', err.message || 'bad request');
  }
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (
    (typeof code === 'string' && (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code))) ||
    (typeof message === 'string' && /timeout exceeded when trying to connect|Connection terminated|encountered a connection error and is not queryable/i.test(message))
  ) {
    return new TreesyncError('unavailable', 'the database is unavailable; retry later');
  }
  const id = c?.get('requestId');
  return new TreesyncError('internal', `internal error${id ? ` (request id ${id})` : ''}`);
}
