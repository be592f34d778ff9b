/**
 * A real HTTP server on a free loopback port with nothing but the snapshot route (and an
 * onError that shapes TreesyncError like the app's), for tests and the benchmark.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { TreesyncError } from '../../protocol/errors.ts';
import { snapshotHandler, type SnapshotHandlerDeps } from '../../server/snapshot/snapshot-handler.ts';

export interface SnapshotServer {
  /** The snapshot URL of a tree. */
  url(tree: string): string;
  close(): Promise<void>;
}

export async function serveSnapshots(deps: SnapshotHandlerDeps): Promise<SnapshotServer> {
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof TreesyncError) return c.json(err.toBody(), err.status as ContentfulStatusCode);
    return c.json({ error: { code: 'internal', message: err.message } }, 500);
  });
  app.get('/v1/trees/:tree/snapshot', snapshotHandler(deps));
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
      resolve({ server, port: info.port }),
    );
  });
  // Node closes an idle kept-alive socket after 5 s. A test that holds the event loop for longer
  // (the cut-stream test parses hundreds of streams) can then send its next request on a socket
  // the server has just closed, and fetch fails with ECONNRESET. A test server keeps them a minute.
  if ('keepAliveTimeout' in server) server.keepAliveTimeout = 60_000;
  return {
    url: (tree) => `http://127.0.0.1:${port}/v1/trees/${encodeURIComponent(tree)}/snapshot`,
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
