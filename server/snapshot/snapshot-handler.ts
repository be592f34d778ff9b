/**
 * `GET /v1/trees/:tree/snapshot`: the snapshot stream as an HTTP answer. Mount it after the
 * auth middleware (it checks no token itself):
 *
 *   app.get('/v1/trees/:tree/snapshot', snapshotHandler({ snapshotPool, onBytes, onDone }));
 *
 * Errors before the first byte (bad tree id, unknown tree, no connection) are thrown as
 * TreesyncError for the app's onError to shape. Once the answer has started, a failure can only
 * cut the connection (no chunked terminator), which a reader sees as a truncated snapshot.
 * Served by @hono/node-server, the handler destroys the Node response itself at that moment:
 * node-server, seeing the body fail, would otherwise write `Error: <message>` into the body
 * and end it cleanly (a reader still rejects that, but as garbage, and curl as a success).
 *
 * gzip when `Accept-Encoding` allows it, at level 1: on loopback gzip costs more time than it
 * saves, but it shrinks a snapshot several times over, which is what counts on a real network,
 * and level 1 compresses nearly as well as the default for a fraction of the CPU
 * (docs/snapshot.md has the figures).
 */
import type { Readable, Writable } from 'node:stream';
import { constants as zlibConstants, createGzip } from 'node:zlib';
import type { Context } from 'hono';
import type pg from 'pg';
import { SNAPSHOT_CONTENT_TYPE } from '../../protocol/snapshot-format.ts';
import { acceptsGzip } from './accepts-gzip.ts';
import { openSnapshot, type Registration, type SnapshotOptions } from './open-snapshot.ts';
import type { SnapshotResult } from './snapshot-stream.ts';
import { toWebStream } from './web-stream.ts';

export interface SnapshotHandlerDeps {
  /** The snapshot pool: separate from the main pool, so long snapshots never starve pushes. */
  snapshotPool: pg.Pool;
  /** Bytes as they are handed to the socket (after gzip), for a counter. */
  onBytes?(bytes: number): void;
  /** Once per opened snapshot, when its answer is over and its connection given back:
   * milliseconds since the request arrived, bytes sent (after gzip), and how it ended. */
  onDone?(ms: number, bytes: number, result: SnapshotResult): void;
  /** gzip level when the client accepts gzip: 1 (default) to 9; 0 turns gzip off. */
  gzipLevel?: number;
  snapshot?: SnapshotOptions;
  /** A new replica registering with its bootstrap (`?replica=&floor=`), or undefined; may
   * throw TreesyncError for a bad query. */
  registration?(c: Context): Registration | undefined;
}

export function snapshotHandler(deps: SnapshotHandlerDeps): (c: Context) => Promise<Response> {
  const level = deps.gzipLevel ?? 1;
  return async (c) => {
    const started = performance.now();
    const registration = deps.registration?.(c);
    const { header, stream } = await openSnapshot(deps.snapshotPool, c.req.param('tree') ?? '', deps.snapshot, registration);
    const gzip = level > 0 && acceptsGzip(c.req.header('accept-encoding'));
    const headers: Record<string, string> = {
      'content-type': SNAPSHOT_CONTENT_TYPE,
      'x-treesync-seq': String(header.seq),
      ...(header.frontier ? { 'x-treesync-frontier': header.frontier } : {}),
      'cache-control': 'no-store',
      vary: 'accept-encoding',
    };
    if (gzip) headers['content-encoding'] = 'gzip';
    let sent = 0;
    let answered!: () => void;
    const answer = new Promise<void>((resolve) => (answered = resolve));
    void Promise.all([stream.finished, answer]).then(([result]) =>
      deps.onDone?.(performance.now() - started, sent, result),
    );
    if (c.req.method === 'HEAD') {
      stream.destroy();
      answered();
      return c.body(null, 200, headers);
    }
    let body: Readable = stream;
    if (gzip) {
      const deflater = createGzip({ level, chunkSize: 64 * 1024, flush: zlibConstants.Z_NO_FLUSH });
      // Not stream.pipeline: it would destroy the snapshot *with an error* when the client goes
      // away, and that is an ordinary early end ('aborted'), not a failure.
      stream.pipe(deflater);
      stream.on('error', (err) => deflater.destroy(err));
      deflater.once('close', () => {
        if (!stream.readableEnded) stream.destroy();
      });
      body = deflater;
    }
    // c.body, not new Response: it keeps headers that middleware set on the context.
    return c.body(
      toWebStream(body, {
        onChunk: (bytes) => {
          sent += bytes;
          deps.onBytes?.(bytes);
        },
        onSettled: answered,
        onError: (err) => nodeResponse(c)?.destroy(err),
      }),
      200,
      headers,
    );
  };
}

/** The Node response under a request served by @hono/node-server (its `c.env.outgoing`), if
 * that is what serves it. */
function nodeResponse(c: Context): Pick<Writable, 'destroy'> | undefined {
  const env: unknown = c.env;
  const outgoing = typeof env === 'object' && env !== null ? (env as { outgoing?: unknown }).outgoing : undefined;
  return typeof outgoing === 'object' && outgoing !== null && typeof (outgoing as Writable).destroy === 'function'
    ? (outgoing as Writable)
    : undefined;
}
