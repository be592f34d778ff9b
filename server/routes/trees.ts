/** `PUT /v1/trees/:tree` (create with options, idempotent) and `GET /v1/trees/:tree` (seq, node
 * count, options). */
import { Hono } from 'hono';
import { createTreeRequestSchema, type CreateTreeResponse, type TreeInfoResponse } from '../../protocol/tree.ts';
import { allow } from '../auth.ts';
import { createTree, treeInfo } from '../db/trees.ts';
import type { AppDeps, AppEnv } from '../deps.ts';
import { parse, readJson } from '../http/read-body.ts';

export function treeRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.put('/v1/trees/:tree', allow('write'), async (c) => {
    const tree = c.req.param('tree');
    const options = parse(createTreeRequestSchema, await readJson(c, {}));
    const { created, seq, deletes } = await createTree(deps.pool, tree, { deletes: options.deletes });
    const body: CreateTreeResponse = { tree, seq, deletes };
    return c.json(body, created ? 201 : 200);
  });

  app.get('/v1/trees/:tree', allow('read'), async (c) => {
    const tree = c.req.param('tree');
    const body: TreeInfoResponse = { tree, ...(await treeInfo(deps.pool, tree)) };
    return c.json(body);
  });

  return app;
}
