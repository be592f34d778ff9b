/** `GET /v1/trees/:tree/state`: the whole tree as JSON, for small trees, tests and debugging
 * (large trees bootstrap from the snapshot stream). */
import { Hono } from 'hono';
import { allow } from '../auth.ts';
import { readState } from '../db/read-state.ts';
import type { AppDeps, AppEnv } from '../deps.ts';

export function stateRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/v1/trees/:tree/state', allow('read'), async (c) => c.json(await readState(deps.pool, c.req.param('tree'))));
  return app;
}
