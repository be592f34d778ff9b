/** What the app is made of (given to `createApp` and to every route module), and the
 * per-request values middleware leaves on the Hono context. */
import type pg from 'pg';
import type { Principal } from './auth.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import type { ServerMetrics } from './metrics/server-metrics.ts';
import type { PokeHub } from './pokes/poke-hub.ts';

export interface AppDeps {
  config: Config;
  /** Pushes, pulls, state and everything short. */
  pool: pg.Pool;
  /** Snapshots only (its own connections, so long streams never starve the rest). */
  snapshotPool: pg.Pool;
  clock: Clock;
  logger: Logger;
  metrics: ServerMetrics;
  /** WebSocket subscribers of trees, poked when a tree's seq grows. */
  pokes: PokeHub;
}

export interface AppEnv {
  Variables: {
    /** The request's id: the caller's `x-request-id` when sane, else a fresh one. */
    requestId: string;
    /** Who is calling, set by `requireAccess` on /v1 routes. */
    principal: Principal;
  };
}
