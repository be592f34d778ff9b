/** A route module: a function of the app's dependencies returning a Hono app whose routes use
 * full paths (`/v1/trees/:tree/...`). `createApp` mounts each at `/`, after the middleware every
 * `/v1` route shares (request id and log, auth, rate limit, body limit), so a module adds only
 * `allow(scope)` and its handlers. */
import type { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../deps.ts';

export type RouteModule = (deps: AppDeps) => Hono<AppEnv>;
