/**
 * The route modules `createApp` mounts, in order. A new endpoint is a file in this folder
 * exporting a `RouteModule`, listed here; it
 * inherits the shared /v1 middleware (see route-module.ts) and adds `allow(scope)`.
 */
import { eventsRoutes } from './events.ts';
import { operationsRoutes } from './operations.ts';
import { pullRoutes } from './pull.ts';
import { pushRoutes } from './push.ts';
import type { RouteModule } from './route-module.ts';
import { snapshotRoutes } from './snapshot.ts';
import { stateRoutes } from './state.ts';
import { trashRoutes } from './trash.ts';
import { treeRoutes } from './trees.ts';

export type { RouteModule } from './route-module.ts';

export const ROUTES: readonly RouteModule[] = [
  operationsRoutes,
  treeRoutes,
  pushRoutes,
  pullRoutes,
  stateRoutes,
  trashRoutes,
  snapshotRoutes,
  eventsRoutes,
];
