/**
 * Errors, end to end: one type carrying `{code, message}`, the HTTP status of each protocol
 * code, and the one place where the database's SQLSTATE codes become protocol codes.
 *
 * Errors that cross a boundary (HTTP, the worker) are matched by `code`, never `instanceof`.
 */

export const ERROR_STATUS = {
  invalid_json: 400,
  invalid_request: 400,
  invalid_op: 400,
  invalid_tree_id: 400,
  clock_skew: 400,
  unauthorized: 401,
  forbidden: 403,
  tree_not_found: 404,
  not_found: 404,
  ts_conflict: 409,
  stale_ops: 409,
  /** A push whose `seen` is ahead of the tree: the replica must bootstrap again. */
  reset_required: 409,
  payload_too_large: 413,
  /** The events endpoint asked for without a WebSocket upgrade. */
  upgrade_required: 426,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; [detail: string]: unknown };
}

export class TreesyncError extends Error {
  override readonly name = 'TreesyncError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Machine-readable facts for the client (the index of a bad operation, …). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return { error: { ...this.details, code: this.code, message: this.message } };
  }
}

/** The project's SQLSTATE codes (sql/000002-merge.sql, sql/000004-input-and-identity.sql) and the protocol code of each. */
export const SQLSTATE_CODES: Record<string, ErrorCode> = {
  TS001: 'invalid_op',
  TS002: 'ts_conflict',
  TS003: 'tree_not_found',
  TS004: 'invalid_tree_id',
  TS005: 'stale_ops',
  TS006: 'invalid_request',
  TS007: 'forbidden',
};

/**
 * The protocol error for a database error raised by treesync's SQL, or undefined for any other
 * error (which is a bug or an outage, not the caller's fault). `detail` carries JSON facts.
 */
export function fromDatabaseError(err: unknown): TreesyncError | undefined {
  const { code, message, detail } = (err ?? {}) as { code?: string; message?: string; detail?: string };
  const mapped = code ? SQLSTATE_CODES[code] : undefined;
  if (!mapped) return undefined;
  let details: Record<string, unknown> = {};
  if (detail) {
    try {
      details = JSON.parse(detail) as Record<string, unknown>;
    } catch {
      details = {};
    }
  }
  return new TreesyncError(mapped, message ?? mapped, details);
}
