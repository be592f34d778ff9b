/** `GET /v1/trees/:tree/snapshot`: the tree as a framed binary COPY stream (docs/snapshot.md),
 * on the snapshot pool, so that long snapshots never starve pushes and pulls. With `replica`
 * and `floor`, the replica's floor is recorded first (snapshot/register-replica.ts). */
import { Hono } from 'hono';
import { allow } from '../auth.ts';
import type { AppDeps, AppEnv } from '../deps.ts';
import { registerReplica } from '../snapshot/register-replica.ts';
import { snapshotHandler } from '../snapshot/snapshot-handler.ts';

export function snapshotRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get(
    '/v1/trees/:tree/snapshot',
    allow('read'),
    async (c, next) => {
      await registerReplica(deps.pool, c);
      await next();
    },
    snapshotHandler({
      snapshotPool: deps.snapshotPool,
      onBytes: (bytes) => deps.metrics.snapshotBytes.inc({}, bytes),
      onDone: (ms) => deps.metrics.snapshotSeconds.observe(ms / 1000),
    }),
  );
  return app;
}
