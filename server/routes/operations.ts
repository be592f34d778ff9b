/** For operators: `GET /healthz` (liveness: the process answers; it does not touch the
 * database, so a database outage does not get healthy servers restarted) and `GET /metrics`
 * (Prometheus text format). Neither needs a token; neither reveals tree ids. */
import { Hono } from 'hono';
import { PROTOCOL_VERSION } from '../../protocol/version.ts';
import type { AppDeps, AppEnv } from '../deps.ts';

export function operationsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok', protocol: PROTOCOL_VERSION }));
  app.get('/metrics', async (c) =>
    c.body(await deps.metrics.registry.render(), 200, { 'content-type': deps.metrics.registry.contentType }),
  );
  return app;
}
