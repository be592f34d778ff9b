/** `GET /v1/trees/:tree/snapshot`: the tree as a framed binary COPY stream (docs/snapshot.md),
 * on the snapshot pool, so that long snapshots never starve pushes and pulls. */
import { type Context, Hono } from 'hono';
import { TreesyncError } from '../../protocol/errors.ts';
import { snapshotQuerySchema } from '../../protocol/snapshot-query.ts';
import { allow } from '../auth.ts';
import type { AppDeps, AppEnv } from '../deps.ts';
import { parse } from '../http/read-body.ts';
import { snapshotHandler } from '../snapshot/snapshot-handler.ts';

export function snapshotRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get(
    '/v1/trees/:tree/snapshot',
    allow('read'),
    snapshotHandler({
      snapshotPool: deps.snapshotPool,
      onBytes: (bytes) => deps.metrics.snapshotBytes.inc({}, bytes),
      onDone: (ms) => deps.metrics.snapshotSeconds.observe(ms / 1000),
      // `?replica=&floor=`: a new replica registers its floor with its bootstrap. Only its
      // own subject may (403 otherwise), as for pulls and pushes.
      registration: (c) => {
        const query = parse(snapshotQuerySchema, c.req.query());
        if ((query.replica === undefined) !== (query.floor === undefined)) {
          throw new TreesyncError('invalid_request', 'give replica and floor together, or neither', {
            field: query.replica === undefined ? 'replica' : 'floor',
          });
        }
        if (query.replica === undefined || query.floor === undefined) return undefined;
        return { replica: query.replica, floor: query.floor, subject: (c as Context<AppEnv>).get('principal').sub };
      },
    }),
  );
  return app;
}
