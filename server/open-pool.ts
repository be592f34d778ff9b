import pg from 'pg';
import type { Logger } from './logger.ts';

/**
 * A pool that survives its database going away. A connection that breaks emits 'error', and an
 * 'error' event nobody listens to ends the process: the pool listens on idle connections only,
 * so every connection also gets a listener of its own, for the time it is checked out (the
 * query under way fails with the error, the route answers 503, and the release drops the
 * broken connection). A request waits at most `connectTimeoutMs` for a connection, then gets
 * 503 rather than hanging.
 */
export function openPool(
  connectionString: string,
  max: number,
  applicationName: string,
  connectTimeoutMs: number,
  logger: Logger,
): { pool: pg.Pool; end(): Promise<void> } {
  const pool = new pg.Pool({ connectionString, max, application_name: applicationName, connectionTimeoutMillis: connectTimeoutMs });
  const open = new Set<pg.PoolClient>();
  pool.on('connect', (client) => {
    open.add(client);
    client.once('end', () => open.delete(client));
    client.on('error', (err) => logger.debug('database connection lost while checked out', { pool: applicationName, err }));
  });
  // Idle connections that break are dropped by the pool; it opens new ones when needed.
  pool.on('error', (err) => logger.warn('idle database connection lost', { pool: applicationName, err: err.message }));
  return {
    pool,
    // pool.end() resolves once it has asked each connection to close, not once they have: wait
    // for that too (briefly), so that a database stopped right after sees no client left and
    // no client sees its database go ("connection lost" warnings at every Ctrl-C).
    end: async () => {
      const closed = [...open].map((c) => new Promise((resolve) => c.once('end', resolve)));
      await pool.end();
      await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 2000).unref())]);
    },
  };
}
