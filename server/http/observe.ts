/**
 * The first middleware of every request: gives it an id (the caller's `x-request-id` when it
 * is sane, else a new one, echoed in the answer), then, once answered, counts it in the
 * metrics and writes one structured log line. Duration is to the response headers: a streamed
 * body (a snapshot) is measured by its own route.
 *
 * The log has the path without its query: `?token=` must never reach a log.
 */
import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { AppDeps, AppEnv } from '../deps.ts';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function observe(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const given = c.req.header('x-request-id');
    const requestId = given && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    c.set('requestId', requestId);
    await next();
    // On the answer's headers in place: `c.header` after the answer is made (like cors()
    // before it) copies the answer, and the copy's body is a stream, written chunk by chunk
    // (@hono/node-server), a real cost for the 100 kB answers of pushes and pulls. (No answer
    // here has immutable headers: none comes from fetch().)
    c.res.headers.set('x-request-id', requestId);

    const seconds = (performance.now() - started) / 1000;
    const route = routeOf(c);
    const upgraded = c.res.status === 200 && c.req.header('upgrade')?.toLowerCase() === 'websocket';
    const status = upgraded ? 101 : c.res.status;
    const method = c.req.method;
    deps.metrics.requests.inc({ route, method, status: String(status) });
    deps.metrics.requestSeconds.observe(seconds, { route, method });
    const principal = c.get('principal');
    deps.logger.info('request', {
      requestId,
      method,
      path: c.req.path,
      route,
      status,
      ms: Math.round(seconds * 10_000) / 10,
      ...(principal && !principal.dev ? { sub: principal.sub } : {}),
    });
  };
}

/** The route pattern that answered (`/v1/trees/:tree/push`), or `unmatched`. */
function routeOf(c: Context<AppEnv>): string {
  const handlers = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  return handlers.at(-1)?.path ?? 'unmatched';
}
