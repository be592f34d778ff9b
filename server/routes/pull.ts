/**
 * `GET /v1/trees/:tree/pull?since=N&limit=M&replica=R&floor=TS`: the operations stored after
 * `since`, a page at a time (`more`), or `{"reset": true, "seq"}` when `since` is ahead of the
 * tree or below what the server keeps (`kept_seq`: operations up to it may have been truncated
 * or purged, sql/000006). A page carries the tree's stability frontier (`frontier`).
 *
 * A `limit` above the configured maximum is served as the maximum, not refused: `more` tells
 * the client to come back.
 */
import { Hono } from 'hono';
import { pullQuerySchema, type PullResponse } from '../../protocol/pull.ts';
import { allow } from '../auth.ts';
import { readOps } from '../db/read-ops.ts';
import type { AppDeps, AppEnv } from '../deps.ts';
import { jsonWithOps } from '../http/json-with-ops.ts';
import { parse } from '../http/read-body.ts';

type PullPage = Extract<PullResponse, { ops: unknown[] }>;

export function pullRoutes(deps: AppDeps): Hono<AppEnv> {
  const { config, pool } = deps;
  const app = new Hono<AppEnv>();

  app.get('/v1/trees/:tree/pull', allow('read'), async (c) => {
    const tree = c.req.param('tree');
    const query = parse(pullQuerySchema, c.req.query());
    const since = Number(query.since);
    const limit = Math.min(query.limit === undefined ? config.pullLimit : Number(query.limit), config.pullMaxLimit);
    // A replica that says who it is and how far back it may still send keeps the tree's
    // stability frontier from passing its unpushed work. Only its own subject may speak for
    // it (403 otherwise): a floor moved forward by someone else would make its work stale.
    if (query.replica !== undefined && query.floor !== undefined) {
      await pool.query('select treesync.note_replica($1, $2, $3, $4)', [
        tree,
        query.replica,
        query.floor,
        c.get('principal').sub,
      ]);
      // How far it has come: operations it still needs are kept (truncate_log).
      await pool.query('select treesync.note_pulled($1, $2, $3)', [tree, query.replica, since]);
    }
    // Read after noting, so the answer's frontier counts this replica's floor.
    const page = await readOps(pool, tree, { after: since, limit, maxBytes: config.pullMaxBytes });
    if (since > page.treeSeq || since < page.keptSeq) return c.json({ reset: true, seq: page.treeSeq } satisfies PullResponse);
    return jsonWithOps<PullPage>(c, { seq: page.treeSeq, ops: page.ops, more: page.more, frontier: page.frontier });
  });

  return app;
}
