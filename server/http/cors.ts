/**
 * CORS, so browser apps on other origins can call the server (`TREESYNC_CORS_ORIGINS`,
 * config.ts). Every endpoint is covered, errors included (a browser app must be able to read
 * a 401 or a 409), and preflights (`OPTIONS`) are answered here, before auth: a browser never
 * sends a token with a preflight.
 *
 * An allowed origin may send `Authorization`, `Content-Type` and `X-Request-Id`, and may read
 * the headers the protocol defines (`X-Treesync-Seq` of a snapshot, `Retry-After` of a 429,
 * `X-Request-Id`). No cookies are involved (tokens are bearer headers), so credentials are
 * never allowed.
 *
 * A request that carries an `Origin` that is neither allowed nor the server's own host is
 * refused (403) before it acts. Browsers send simple cross-origin requests (a POST with a
 * text/plain body) without a preflight; in development mode, which asks for no token, any web
 * page could otherwise write to a local server.
 */
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { TreesyncError } from '../../protocol/errors.ts';
import type { Config } from '../config.ts';
import type { AppEnv } from '../deps.ts';

/** Any port of localhost, 127.0.0.0/8 or [::1], over http or https. */
const LOOPBACK_ORIGIN = /^https?:\/\/(?:localhost|127(?:\.[0-9]{1,3}){3}|\[::1\])(?::[0-9]{1,5})?$/;

/** Whether `origin` (the header's exact text) may call the server under `allowed`. */
export function originAllowed(allowed: readonly string[], origin: string): boolean {
  return allowed.some((a) => a === '*' || a === origin.toLowerCase() || (a === 'loopback' && LOOPBACK_ORIGIN.test(origin)));
}

const EXPOSE_HEADERS = ['X-Treesync-Seq', 'X-Request-Id', 'Retry-After', 'Content-Encoding'].join(',');

export function corsPolicy(config: Config): MiddlewareHandler<AppEnv> {
  const allowed = (origin: string) => originAllowed(config.corsOrigins, origin);
  const preflight = cors({
    origin: (origin) => (allowed(origin) ? origin : null),
    allowMethods: ['GET', 'HEAD', 'PUT', 'POST', 'OPTIONS'],
    allowHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
    exposeHeaders: EXPOSE_HEADERS.split(','),
    maxAge: 600,
  });
  return async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && !allowed(origin) && !sameHost(origin, c.req.header('host'))) {
      throw new TreesyncError(
        'forbidden',
        `origin ${JSON.stringify(origin)} may not call this server; list it in TREESYNC_CORS_ORIGINS`,
      );
    }
    if (c.req.method === 'OPTIONS') return preflight(c, next);
    // Any other request: the same headers as hono's cors() sets, but set on the route's answer
    // once it exists, in place (observe.ts says why).
    await next();
    const headers = c.res.headers;
    if (origin !== undefined && allowed(origin)) headers.set('Access-Control-Allow-Origin', origin);
    headers.set('Access-Control-Expose-Headers', EXPOSE_HEADERS);
    headers.append('Vary', 'Origin');
  };
}

/** A page served by this server's own host (or a proxy in front of it that keeps the Host
 * header) is not cross-origin. */
function sameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
