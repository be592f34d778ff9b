/**
 * The worker entry in Node (a worker_threads Worker; worker-bootstrap.mjs loads it). The same
 * replica service as in a browser; wa-sqlite's Emscripten module cannot fetch its wasm file in
 * Node, so it gets the bytes (`wasmBinary`); the sync loop gets `ws`'s WebSocket.
 */
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite.mjs';
import WebSocket from 'ws';
import { createReplicaService } from '../worker/replica-service.ts';
import type { SocketClass } from '../worker/sync/events-socket.ts';
import { useFeedThreads } from '../worker/sync/snapshot-feed.ts';
import { startFeedThread } from './spawn-feed-thread.ts';

if (!parentPort) throw new Error('worker-main.ts runs in a worker thread');

const wasm = new URL(import.meta.resolve('@journeyapps/wa-sqlite/dist/wa-sqlite.wasm'));

// A bootstrap fetches and parses the snapshot in a second thread while this one inserts.
useFeedThreads(startFeedThread);

// Node loads its HTTP client (undici) on the first `fetch`, blocking this thread for 100–200 ms.
// Load it now, while the replica opens, rather than in the middle of a bootstrap's progress
// events. A `data:` URL reaches no network.
void fetch('data:,')
  .then((res) => res.arrayBuffer())
  .catch(() => undefined);
Comlink.expose(
  // Node 20 has no global WebSocket: the sync loop's events socket uses the `ws` package's.
  createReplicaService(async () => SQLiteESMFactory({ wasmBinary: await readFile(wasm) }), undefined, {
    WebSocket: WebSocket as unknown as SocketClass,
  }),
  nodeEndpoint(parentPort),
);
