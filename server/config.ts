/**
 * The server's configuration: read from the environment once, at start (`loadConfig`), typed,
 * with the defaults documented here and in docs/operations.md. A bad value or a conflicting setting
 * stops the start with a message naming the variable; every problem is reported at once.
 *
 * Nothing else in server/ reads `process.env`: everything receives a `Config`.
 */
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Config {
  /** `DATABASE_URL`. Unset: an embedded Postgres with its data under `dataDir`. */
  databaseUrl: string | undefined;
  /** `TREESYNC_DATA_DIR` (default `<project>/.data`): the embedded Postgres lives in
   * `<dataDir>/postgres`, its password in `<dataDir>/postgres.password`. */
  dataDir: string;
  /** `HOST` (default 127.0.0.1). Without a JWT secret only loopback addresses are allowed. */
  host: string;
  /** `PORT` (default 8787); 0 picks a free port (printed at start). */
  port: number;
  /** `TREESYNC_JWT_SECRET` (at least 32 characters). Unset: development mode, no auth. */
  jwtSecret: string | undefined;
  /** `TREESYNC_MAX_BODY_BYTES` (default 1 MiB): larger request bodies get 413. */
  maxBodyBytes: number;
  /** `TREESYNC_MAX_OPS` (default 1000): pushes with more operations get 413. */
  maxOpsPerPush: number;
  /** `TREESYNC_MAX_VALUE_BYTES` (default 64 KiB): a `set` value's JSON size limit, enforced by
   * the database (`treesync.max_value_bytes`, set per transaction). */
  maxValueBytes: number;
  /** `TREESYNC_PULL_LIMIT` (default 1000): ops per page when the request names no limit. */
  pullLimit: number;
  /** `TREESYNC_PULL_MAX_LIMIT` (default 10000): the most ops a page holds, whatever asked. */
  pullMaxLimit: number;
  /** `TREESYNC_PULL_MAX_BYTES` (default 4 MiB): a page stops before the op that would take its
   * values past this size (it always holds at least one op). */
  pullMaxBytes: number;
  /** `TREESYNC_RATE_LIMIT` (default 50): requests per second per token subject (per client IP
   * in development mode); 0 turns rate limiting off. */
  rateLimitPerSecond: number;
  /** `TREESYNC_RATE_BURST` (default 100): requests allowed at once above the steady rate. */
  rateLimitBurst: number;
  /** `TREESYNC_MAX_CLOCK_SKEW_MS` (default 60000): an op's wall time may be at most this far
   * ahead of the server's clock. */
  maxClockSkewMs: number;
  /** `TREESYNC_POOL_SIZE` (default 10): connections for pushes, pulls and the rest. */
  poolSize: number;
  /** `TREESYNC_SNAPSHOT_POOL_SIZE` (default 4): connections reserved for snapshots, so long
   * snapshots never starve pushes and pulls. */
  snapshotPoolSize: number;
  /** `TREESYNC_DB_CONNECT_TIMEOUT_MS` (default 5000): how long opening a database connection
   * may take. While the database is unreachable, requests that need a new connection answer
   * `503 unavailable` after at most this long instead of hanging, and `/readyz` answers 503. */
  dbConnectTimeoutMs: number;
  /** `TREESYNC_HEARTBEAT_MS` (default 15000): WebSocket ping interval; a connection that has
   * not answered the previous ping is dropped. */
  heartbeatMs: number;
  /** `TREESYNC_SHUTDOWN_TIMEOUT_MS` (default 10000): how long a stop waits for requests in
   * flight before closing their connections. */
  shutdownTimeoutMs: number;
  /** `TREESYNC_LOG_LEVEL` (default info): debug, info, warn, error or silent. */
  logLevel: LogLevel;
  /** `TREESYNC_CORS_ORIGINS`: the origins whose browser apps may call the server, a list
   * separated by commas or spaces: exact origins (`https://app.example.com`), `loopback` (any
   * port of localhost, 127.x.x.x, [::1]), `*` (any), or `none`. Default: none in production,
   * `loopback` in development mode. Stored lowercased. */
  corsOrigins: readonly string[];
  /** `TREESYNC_TRUNCATE_INTERVAL_MS` (default 60000): how often the server truncates every
   * tree's move log and stored operations below the stability frontier; 0 turns it off. */
  truncateIntervalMs: number;
  /** `TREESYNC_TRUNCATE_BATCH` (default 1000): rows deleted per transaction by truncation; the
   * tree's lock is held for one batch, so pushes to the tree wait at most that long. */
  truncateBatchRows: number;
  /** `TREESYNC_PURGE_INTERVAL_MS`: how often the server purges trashed subtrees deleted before
   * both the retention window and the frontier (every replica then bootstraps again); 0 turns
   * it off. Default: off in development mode, daily (86400000) otherwise. */
  purgeIntervalMs: number;
}

/** The configuration is not usable; `problems` name each variable and what is wrong. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));
const MIN_SECRET_LENGTH = 32;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === '' ? undefined : raw;
  };
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };

  const databaseUrl = read('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL: expected a postgres:// or postgresql:// URL');
  }
  const dataDirRaw = read('TREESYNC_DATA_DIR');
  // A relative folder is relative to the working directory, like any path on a command line.
  const dataDir = dataDirRaw === undefined ? resolve(PROJECT_DIR, '.data') : resolve(dataDirRaw);

  const jwtSecret = env.TREESYNC_JWT_SECRET === '' ? undefined : env.TREESYNC_JWT_SECRET;
  if (jwtSecret !== undefined && jwtSecret.length < MIN_SECRET_LENGTH) {
    problems.push(
      `TREESYNC_JWT_SECRET: at least ${MIN_SECRET_LENGTH} characters are needed for HS256 ` +
        `(e.g. \`openssl rand -hex 32\`)`,
    );
  }

  const host = read('HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:_-]+$/.test(host)) problems.push(`HOST=${JSON.stringify(host)}: not a host name or address`);
  else if (jwtSecret === undefined && !isLoopback(host)) {
    problems.push(
      `HOST=${host}: without TREESYNC_JWT_SECRET the server runs in development mode, with no ` +
        `auth, and listens on loopback only (127.0.0.1, ::1 or localhost). Set ` +
        `TREESYNC_JWT_SECRET to listen on other interfaces.`,
    );
  }

  const pullLimit = int('TREESYNC_PULL_LIMIT', 1000, 1);
  const pullMaxLimit = int('TREESYNC_PULL_MAX_LIMIT', 10_000, 1);
  if (pullLimit > pullMaxLimit) {
    problems.push(`TREESYNC_PULL_LIMIT (${pullLimit}) is larger than TREESYNC_PULL_MAX_LIMIT (${pullMaxLimit})`);
  }

  const logLevel = (read('TREESYNC_LOG_LEVEL') ?? 'info').toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`TREESYNC_LOG_LEVEL=${JSON.stringify(logLevel)}: expected one of ${LOG_LEVELS.join(', ')}`);
  }

  const corsOrigins = readCorsOrigins(read('TREESYNC_CORS_ORIGINS'), jwtSecret === undefined, problems);

  const config: Config = {
    databaseUrl,
    dataDir,
    host,
    port: int('PORT', 8787, 0, 65535),
    jwtSecret,
    maxBodyBytes: int('TREESYNC_MAX_BODY_BYTES', 1024 * 1024, 1024),
    maxOpsPerPush: int('TREESYNC_MAX_OPS', 1000, 1),
    maxValueBytes: int('TREESYNC_MAX_VALUE_BYTES', 64 * 1024, 1, 2 ** 31 - 1),
    pullLimit,
    pullMaxLimit,
    pullMaxBytes: int('TREESYNC_PULL_MAX_BYTES', 4 * 1024 * 1024, 1024),
    rateLimitPerSecond: int('TREESYNC_RATE_LIMIT', 50, 0),
    rateLimitBurst: int('TREESYNC_RATE_BURST', 100, 1),
    maxClockSkewMs: int('TREESYNC_MAX_CLOCK_SKEW_MS', 60_000, 0),
    poolSize: int('TREESYNC_POOL_SIZE', 10, 1, 1000),
    snapshotPoolSize: int('TREESYNC_SNAPSHOT_POOL_SIZE', 4, 1, 1000),
    dbConnectTimeoutMs: int('TREESYNC_DB_CONNECT_TIMEOUT_MS', 5_000, 100, 600_000),
    heartbeatMs: int('TREESYNC_HEARTBEAT_MS', 15_000, 10),
    shutdownTimeoutMs: int('TREESYNC_SHUTDOWN_TIMEOUT_MS', 10_000, 0),
    logLevel,
    corsOrigins,
    truncateIntervalMs: int('TREESYNC_TRUNCATE_INTERVAL_MS', 60_000, 0, 2 ** 31 - 1),
    truncateBatchRows: int('TREESYNC_TRUNCATE_BATCH', 1000, 1, 1_000_000),
    purgeIntervalMs: int('TREESYNC_PURGE_INTERVAL_MS', jwtSecret === undefined ? 0 : 86_400_000, 0, 2 ** 31 - 1),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** An origin as browsers send it: scheme, host, optional port; no path, no trailing slash. */
const ORIGIN = /^https?:\/\/(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/;

function readCorsOrigins(raw: string | undefined, devMode: boolean, problems: string[]): string[] {
  if (raw === undefined) return devMode ? ['loopback'] : [];
  const items = raw.toLowerCase().split(/[\s,]+/).filter((s) => s !== '');
  if (items.length === 1 && items[0] === 'none') return [];
  const bad = items.filter((item) => item !== '*' && item !== 'loopback' && !ORIGIN.test(item));
  if (bad.length > 0) {
    problems.push(
      `TREESYNC_CORS_ORIGINS: ${bad.map((b) => JSON.stringify(b)).join(', ')} not an origin ` +
        `(scheme://host[:port], no path), "loopback", "*" or "none"`,
    );
  }
  return items;
}

/** Development mode: no JWT secret, so no auth (and loopback only). */
export function isDevMode(config: Config): boolean {
  return config.jwtSecret === undefined;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}
