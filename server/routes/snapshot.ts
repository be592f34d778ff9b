/** `GET /v1/trees/:tree/snapshot`: the tree as a framed binary COPY stream (docs/snapshot.md),
 * on the snapshot pool, so that long snapshots never starve pushes and pulls. */
import { Hono } from 'hono';
import { allow } from '../auth.ts';
import type { AppDeps, AppEnv } from '../deps.ts';
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
    }),
  );
  return app;
}
