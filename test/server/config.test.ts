// The configuration: documented defaults, every bad value named, conflicting settings refused.
import { describe, expect, test } from 'vitest';
import { ConfigError, isDevMode, isLoopback, loadConfig } from '../../server/config.ts';

const SECRET = 's'.repeat(32);

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  test('defaults: development mode on 127.0.0.1:8787, embedded database under .data', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: undefined,
      host: '127.0.0.1',
      port: 8787,
      jwtSecret: undefined,
      maxBodyBytes: 1024 * 1024,
      maxOpsPerPush: 1000,
      maxValueBytes: 64 * 1024,
      pullLimit: 1000,
      pullMaxLimit: 10_000,
      pullMaxBytes: 4 * 1024 * 1024,
      rateLimitPerSecond: 50,
      rateLimitBurst: 100,
      maxClockSkewMs: 60_000,
      poolSize: 10,
      snapshotPoolSize: 4,
      dbConnectTimeoutMs: 5_000,
      heartbeatMs: 15_000,
      shutdownTimeoutMs: 10_000,
      logLevel: 'info',
      corsOrigins: ['loopback'],
    });
    expect(config.dataDir).toMatch(/[/\\]\.data$/);
    expect(isDevMode(config)).toBe(true);
  });

  test('every variable is read', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://u:p@db:5432/treesync',
      TREESYNC_DATA_DIR: '/var/lib/treesync',
      HOST: '0.0.0.0',
      PORT: '9000',
      TREESYNC_JWT_SECRET: SECRET,
      TREESYNC_MAX_BODY_BYTES: '2048',
      TREESYNC_MAX_OPS: '10',
      TREESYNC_MAX_VALUE_BYTES: '100',
      TREESYNC_PULL_LIMIT: '5',
      TREESYNC_PULL_MAX_LIMIT: '50',
      TREESYNC_PULL_MAX_BYTES: '4096',
      TREESYNC_RATE_LIMIT: '0',
      TREESYNC_RATE_BURST: '7',
      TREESYNC_MAX_CLOCK_SKEW_MS: '1000',
      TREESYNC_POOL_SIZE: '3',
      TREESYNC_SNAPSHOT_POOL_SIZE: '2',
      TREESYNC_DB_CONNECT_TIMEOUT_MS: '1500',
      TREESYNC_HEARTBEAT_MS: '500',
      TREESYNC_SHUTDOWN_TIMEOUT_MS: '0',
      TREESYNC_LOG_LEVEL: 'WARN',
      TREESYNC_CORS_ORIGINS: 'https://App.example.com, http://localhost:5173 loopback',
      TREESYNC_TRUNCATE_INTERVAL_MS: '0',
      TREESYNC_TRUNCATE_BATCH: '250',
      TREESYNC_PURGE_INTERVAL_MS: '3600000',
    });
    expect(config).toEqual({
      databaseUrl: 'postgres://u:p@db:5432/treesync',
      dataDir: '/var/lib/treesync',
      host: '0.0.0.0',
      port: 9000,
      jwtSecret: SECRET,
      maxBodyBytes: 2048,
      maxOpsPerPush: 10,
      maxValueBytes: 100,
      pullLimit: 5,
      pullMaxLimit: 50,
      pullMaxBytes: 4096,
      rateLimitPerSecond: 0,
      rateLimitBurst: 7,
      maxClockSkewMs: 1000,
      poolSize: 3,
      snapshotPoolSize: 2,
      dbConnectTimeoutMs: 1500,
      heartbeatMs: 500,
      shutdownTimeoutMs: 0,
      logLevel: 'warn',
      corsOrigins: ['https://app.example.com', 'http://localhost:5173', 'loopback'],
      truncateIntervalMs: 0,
      truncateBatchRows: 250,
      purgeIntervalMs: 3_600_000,
    });
    expect(isDevMode(config)).toBe(false);
  });

  test('purge: off by default in development mode, daily otherwise; truncation every minute', () => {
    expect(loadConfig({})).toMatchObject({ purgeIntervalMs: 0, truncateIntervalMs: 60_000, truncateBatchRows: 1000 });
    expect(loadConfig({ TREESYNC_JWT_SECRET: SECRET })).toMatchObject({ purgeIntervalMs: 86_400_000 });
    expect(() => loadConfig({ TREESYNC_TRUNCATE_BATCH: '0' })).toThrow(/TREESYNC_TRUNCATE_BATCH/);
  });

  test('CORS origins: none by default in production, loopback in development mode, none on request', () => {
    expect(loadConfig({ TREESYNC_JWT_SECRET: SECRET }).corsOrigins).toEqual([]);
    expect(loadConfig({}).corsOrigins).toEqual(['loopback']);
    expect(loadConfig({ TREESYNC_CORS_ORIGINS: 'none' }).corsOrigins).toEqual([]);
    expect(loadConfig({ TREESYNC_CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
  });

  test('empty values count as unset', () => {
    expect(loadConfig({ PORT: '', TREESYNC_JWT_SECRET: '', DATABASE_URL: ' ' })).toMatchObject({
      port: 8787,
      jwtSecret: undefined,
      databaseUrl: undefined,
    });
  });

  test.each([
    [{ PORT: '-1' }, 'PORT="-1": expected an integer from 0 to 65535'],
    [{ PORT: '70000' }, 'PORT="70000": expected an integer from 0 to 65535'],
    [{ PORT: '80.5' }, 'PORT="80.5": expected an integer from 0 to 65535'],
    [{ TREESYNC_MAX_OPS: '0' }, 'TREESYNC_MAX_OPS="0": expected an integer from 1'],
    [{ TREESYNC_MAX_BODY_BYTES: '1e6' }, 'TREESYNC_MAX_BODY_BYTES="1e6": expected an integer'],
    [{ TREESYNC_RATE_BURST: 'lots' }, 'TREESYNC_RATE_BURST="lots"'],
    [{ TREESYNC_DB_CONNECT_TIMEOUT_MS: '10' }, 'TREESYNC_DB_CONNECT_TIMEOUT_MS="10": expected an integer from 100 to 600000'],
    [{ TREESYNC_LOG_LEVEL: 'loud' }, 'TREESYNC_LOG_LEVEL="loud": expected one of debug, info, warn, error, silent'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL: expected a postgres:// or postgresql:// URL'],
    [{ TREESYNC_JWT_SECRET: 'short' }, 'TREESYNC_JWT_SECRET: at least 32 characters'],
    [{ HOST: '0.0.0.0' }, 'HOST=0.0.0.0: without TREESYNC_JWT_SECRET the server runs in development mode'],
    [{ HOST: '192.168.1.5' }, 'HOST=192.168.1.5: without TREESYNC_JWT_SECRET'],
    [{ HOST: 'a b' }, 'HOST="a b": not a host name or address'],
    [{ TREESYNC_CORS_ORIGINS: 'https://app.example.com/' }, 'TREESYNC_CORS_ORIGINS: "https://app.example.com/" not an origin'],
    [{ TREESYNC_CORS_ORIGINS: 'app.example.com,ftp://x' }, 'TREESYNC_CORS_ORIGINS: "app.example.com", "ftp://x" not an origin'],
    [{ TREESYNC_PULL_LIMIT: '20', TREESYNC_PULL_MAX_LIMIT: '10' }, 'TREESYNC_PULL_LIMIT (20) is larger than TREESYNC_PULL_MAX_LIMIT (10)'],
  ])('%o is refused, naming the variable', (env, message) => {
    expect(problems(env).join('\n')).toContain(message);
  });

  test('all problems at once, in one message', () => {
    const err = (() => {
      try {
        loadConfig({ PORT: 'x', TREESYNC_MAX_OPS: 'y' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toBe(
      'invalid configuration:\n' +
        '  - PORT="x": expected an integer from 0 to 65535\n' +
        '  - TREESYNC_MAX_OPS="y": expected an integer from 1 to 9007199254740991',
    );
  });

  test('with a secret, any interface may be served', () => {
    expect(loadConfig({ HOST: '0.0.0.0', TREESYNC_JWT_SECRET: SECRET }).host).toBe('0.0.0.0');
  });
});

test.each([
  ['127.0.0.1', true],
  ['127.1.2.3', true],
  ['::1', true],
  ['localhost', true],
  ['0.0.0.0', false],
  ['::', false],
  ['10.0.0.1', false],
  ['example.com', false],
])('isLoopback(%s) is %s', (host, loopback) => {
  expect(isLoopback(host)).toBe(loopback);
});
