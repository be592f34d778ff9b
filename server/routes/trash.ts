/** `GET /v1/trees/:tree/trash?limit=N`: the tops of deleted subtrees, newest delete first, with
 * where each came from (for undelete, an ordinary move back). Pages of `limit` (default 100, at
 * most 1000). */
import { Hono } from 'hono';
import { trashQuerySchema } from '../../protocol/trash.ts';
import { allow } from '../auth.ts';
import { readTrash } from '../db/read-trash.ts';
import type { AppDeps, AppEnv } from '../deps.ts';
import { parse } from '../http/read-body.ts';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

export function trashRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/v1/trees/:tree/trash', allow('read'), async (c) => {
    const query = parse(trashQuerySchema, c.req.query());
    const limit = Math.min(Number(query.limit ?? DEFAULT_LIMIT), MAX_LIMIT);
    return c.json(await readTrash(deps.pool, c.req.param('tree'), limit));
  });
  return app;
}
