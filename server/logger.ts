/**
 * Structured logs: one JSON object per line on stdout, `{level, time, msg, ...fields}`, for a
 * log shipper to read. pino underneath (fast, with redaction and an error serialiser), behind
 * the small interface the rest of the server uses: `logger.info(msg, fields)`.
 *
 * Secrets never reach a line: an `authorization` field (at the top or in `headers`) is
 * replaced with "[Redacted]", and so is the value of any `token=` query parameter inside a
 * string field (a path or URL with `?token=`, which the events WebSocket takes). Errors (the
 * `err` field) are logged with their type, message and stack.
 */
import pino from 'pino';
import type { LogLevel } from './config.ts';

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

const REDACTED = '[Redacted]';
const TOKEN_PARAM = /([?&;]token=)[^&#\s"']*/gi;

/** A logger at `level`, writing each line to `write` (default: stdout, synchronously, so no
 * line is lost when the process exits). */
export function createLogger(level: LogLevel, write?: (line: string) => void): Logger {
  const destination = write ? { write } : pino.destination({ dest: 1, sync: true });
  const log = pino(
    {
      level,
      base: undefined,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['authorization', 'headers.authorization', 'req.headers.authorization', '*.authorization'],
        censor: REDACTED,
      },
      formatters: {
        level: (label) => ({ level: label }),
        log: scrubTokens,
      },
    },
    destination,
  );
  return {
    debug: (msg, fields = {}) => log.debug(fields, msg),
    info: (msg, fields = {}) => log.info(fields, msg),
    warn: (msg, fields = {}) => log.warn(fields, msg),
    error: (msg, fields = {}) => log.error(fields, msg),
  };
}

export const silentLogger: Logger = createLogger('silent', () => {});

/** The fields with `token=` values in their strings (top level and one level down) redacted. */
function scrubTokens(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value === 'string') out[key] = value.replace(TOKEN_PARAM, `$1${REDACTED}`);
    else if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Error)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v.replace(TOKEN_PARAM, `$1${REDACTED}`) : v]),
      );
    } else out[key] = value;
  }
  return out;
}
