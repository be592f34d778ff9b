/**
 * Runs the app on a port: the connection pools, the LISTEN connection for pokes, the HTTP
 * server with its WebSocket upgrades; and stops all of it in order. Used by main.ts and by the
 * tests (which pass their own database and port 0).
 *
 * Stopping: stop accepting connections, close the WebSockets (1001), let requests in flight
 * finish (up to `shutdownTimeoutMs`, then their connections are cut), stop listening for
 * pokes, end the pools. The database itself is the caller's.
 */
import { createAdaptorServer } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { createApp } from './app.ts';
import { type Clock, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import { treeSeqs } from './db/trees.ts';
import type { AppDeps } from './deps.ts';
import type { Logger } from './logger.ts';
import { createMetrics } from './metrics/server-metrics.ts';
import { startLifecycleJob } from './lifecycle/lifecycle-job.ts';
import { openPool } from './open-pool.ts';
import { PokeHub } from './pokes/poke-hub.ts';
import { SeqListener } from './pokes/seq-listener.ts';
import type { RouteModule } from './routes/index.ts';

export interface StartServerOptions {
  config: Config;
  /** The migrated database to serve. */
  databaseUrl: string;
  logger: Logger;
  clock?: Clock;
  /** Route modules beyond the built-in ones (routes/index.ts). */
  extraRoutes?: readonly RouteModule[];
}

export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  port: number;
  deps: AppDeps;
  /** Stops gracefully (see above); safe to call twice. */
  close(): Promise<void>;
}

export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const { config, databaseUrl, logger } = opts;
  const { pool, end: endPool } = openPool(databaseUrl, config.poolSize, 'treesync', config.dbConnectTimeoutMs, logger);
  const { pool: snapshotPool, end: endSnapshotPool } = openPool(
    databaseUrl,
    config.snapshotPoolSize,
    'treesync-snapshot',
    config.dbConnectTimeoutMs,
    logger,
  );

  // The gauges read the hub and the listener at scrape time, by which point both exist.
  let pokes: PokeHub | undefined;
  let listener: SeqListener | undefined;
  const metrics = createMetrics({
    pools: { main: pool, snapshot: snapshotPool },
    openWebSockets: () => pokes?.size ?? 0,
    listening: () => listener?.up ?? false,
  });
  const hub = new PokeHub({ heartbeatMs: config.heartbeatMs, pokesSent: metrics.pokesSent, logger });
  pokes = hub;
  const seqListener = new SeqListener({
    connectionString: databaseUrl,
    logger,
    connectTimeoutMs: config.dbConnectTimeoutMs,
    onSeq: (tree, seq) => hub.poke(tree, seq),
    // Notifications sent while the connection was down are lost: poke from the seqs now.
    onConnect: async () => {
      const trees = hub.trees();
      if (trees.length === 0) return;
      for (const [tree, seq] of await treeSeqs(pool, trees)) hub.poke(tree, seq);
    },
  });
  listener = seqListener;

  const deps: AppDeps = { config, pool, snapshotPool, clock: opts.clock ?? systemClock, logger, metrics, pokes: hub };
  const app = createApp(deps, opts.extraRoutes);
  const wss = new WebSocketServer({ noServer: true });
  const server = createAdaptorServer({ fetch: app.fetch, websocket: { server: wss } }) as Server;

  try {
    await seqListener.start();
    await listen(server, config.host, config.port);
  } catch (err) {
    await seqListener.stop();
    await Promise.all([endPool(), endSnapshotPool()]);
    throw err;
  }
  // Truncation and purge run on the main pool, a batch at a time (lifecycle-job.ts).
  const lifecycle = startLifecycleJob(pool, logger, {
    truncateIntervalMs: config.truncateIntervalMs,
    truncateBatchRows: config.truncateBatchRows,
    purgeIntervalMs: config.purgeIntervalMs,
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    deps,
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await hub.closeAll();
        // Keep-alive connections between requests would hold `close` open: cut them as they idle.
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        server.closeIdleConnections();
        const drained = await Promise.race([
          closed.then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), config.shutdownTimeoutMs).unref()),
        ]);
        if (!drained) {
          logger.warn('requests still running at the shutdown timeout; closing their connections');
          server.closeAllConnections();
          await closed;
        }
        clearInterval(idle);
        await lifecycle.stop();
        await seqListener.stop();
        await Promise.all([endPool(), endSnapshotPool()]);
      })()),
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
