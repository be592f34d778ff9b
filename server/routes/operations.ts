/**
 * For operators and load balancers; none needs a token, none reveals tree ids.
 *
 * - `GET /healthz`, liveness: the process answers. It does not touch the database, so a
 *   database outage does not get healthy servers restarted.
 * - `GET /readyz`, readiness: 200 when the database answers a query within the connect
 *   timeout, else `503 unavailable`; a load balancer sends traffic elsewhere meanwhile. (The
 *   LISTEN connection for pokes does not decide readiness, since pushes and pulls work without
 *   it; /metrics has `treesync_listener_up`.)
 * - `GET /metrics`: Prometheus text format.
 */
import { Hono } from 'hono';
import type pg from 'pg';
import { TreesyncError } from '../../protocol/errors.ts';
import { PROTOCOL_VERSION } from '../../protocol/version.ts';
import type { AppDeps, AppEnv } from '../deps.ts';

export function operationsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok', protocol: PROTOCOL_VERSION }));
  app.get('/readyz', async (c) => {
    const timeoutMs = deps.config.dbConnectTimeoutMs;
    if (await databaseAnswers(deps.pool, timeoutMs)) {
      return c.json({ status: 'ready', protocol: PROTOCOL_VERSION });
    }
    const e = new TreesyncError('unavailable', `the database did not answer within ${timeoutMs} ms`);
    return c.json(e.toBody(), 503);
  });
  app.get('/metrics', async (c) =>
    c.body(await deps.metrics.registry.render(), 200, { 'content-type': deps.metrics.registry.contentType }),
  );
  return app;
}

/** Whether `select 1` comes back within `timeoutMs` (connecting included); never throws. */
async function databaseAnswers(pool: pg.Pool, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  const answered = pool.query({ text: 'select 1', query_timeout: timeoutMs } as pg.QueryConfig).then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([answered, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
