/**
 * The browser's worker entry: `new Worker(new URL('./worker/worker.ts', import.meta.url),
 * { type: 'module' })` (spawn-worker.ts). wa-sqlite finds its wasm file next to its module. The
 * sync loop uses the browser's WebSocket, and the worker's online/offline events (a worker
 * hears them too) switch its network off and on.
 */
import * as Comlink from 'comlink';
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite.mjs';
import { createReplicaService } from './replica-service.ts';
import { openBrowserStorage } from './storage/open-storage.ts';
import type { SocketClass } from './sync/events-socket.ts';

const scope = globalThis as unknown as {
  WebSocket?: SocketClass;
  navigator?: { onLine?: boolean };
  addEventListener?(type: string, listener: () => void): void;
};
const service = createReplicaService(() => SQLiteESMFactory(), openBrowserStorage, scope.WebSocket ? { WebSocket: scope.WebSocket } : {});
scope.addEventListener?.('online', () => void service.setNetwork(true));
scope.addEventListener?.('offline', () => void service.setNetwork(false));
Comlink.expose(service);
