/**
 * The HTTP app: Hono, built from its dependencies (no I/O here; start-server.ts runs it).
 *
 * Every request: an id and one log line (observe), CORS (preflights answered, other origins
 * refused: http/cors.ts). Under `/v1`: who is calling (auth, 401),
 * how often (rate limit, 429), how big the body may be (413: http/body-limit.ts); then each route authorises its
 * tree and scope (`allow`, 403), parses its input against the protocol schemas (400), acts.
 * One error handler shapes every failure as `{"error": {"code", "message"}}`.
 *
 * Auth comes before parsing: a caller without a valid token learns nothing, not even whether
 * its body would have been valid, and the rate limit counts malformed requests too.
 */
import { Hono } from 'hono';
import { API_PREFIX } from '../protocol/version.ts';
import { authenticateRequest } from './auth.ts';
import type { AppDeps, AppEnv } from './deps.ts';
import { limitBody } from './http/body-limit.ts';
import { corsPolicy } from './http/cors.ts';
import { notFound, onError } from './http/on-error.ts';
import { observe } from './http/observe.ts';
import { rateLimit } from './rate-limit.ts';
import { ROUTES, type RouteModule } from './routes/index.ts';

export function createApp(deps: AppDeps, extraRoutes: readonly RouteModule[] = []): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', observe(deps));
  // Before auth: preflights carry no token, and error answers need the CORS headers too.
  app.use('*', corsPolicy(deps.config));
  app.use(`${API_PREFIX}/*`, authenticateRequest(deps), rateLimit(deps));
  app.use(`${API_PREFIX}/*`, limitBody(deps.config.maxBodyBytes));
  for (const routes of [...ROUTES, ...extraRoutes]) app.route('/', routes(deps));

  app.notFound(notFound);
  app.onError(onError(deps));
  return app;
}
