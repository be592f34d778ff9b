/**
 * Starts the replica's worker in a browser (a module Web Worker) and wraps its one RPC
 * interface. `terminate` releases the proxy and ends the worker.
 */
import * as Comlink from 'comlink';
import type { WorkerApi } from './worker-api.ts';

export interface SpawnedWorker {
  api: Comlink.Remote<WorkerApi>;
  terminate(): Promise<void>;
}

export function spawnWorker(): SpawnedWorker {
  const worker = new Worker(new URL('./worker/worker.ts', import.meta.url), { type: 'module', name: 'treesync-replica' });
  const api = Comlink.wrap<WorkerApi>(worker);
  return {
    api,
    async terminate() {
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
