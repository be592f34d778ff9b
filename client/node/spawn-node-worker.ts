/**
 * Starts the replica's worker in Node: a worker_threads Worker reached through comlink's node
 * adapter. The Node counterpart of spawn-worker.ts; index.ts loads it only in Node.
 */
import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { SpawnedWorker } from '../spawn-worker.ts';
import type { WorkerApi } from '../worker-api.ts';

export function spawnWorker(): SpawnedWorker {
  const worker = new Worker(new URL('./worker-bootstrap.mjs', import.meta.url));
  const api = Comlink.wrap<WorkerApi>(nodeEndpoint(worker));
  return {
    api,
    async terminate() {
      api[Comlink.releaseProxy]();
      await worker.terminate();
    },
  };
}
