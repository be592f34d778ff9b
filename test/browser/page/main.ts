/**
 * The test page: the client library as an app imports it, put on `window.treesync` so a test
 * drives it through page.evaluate. Replicas opened here stay on `window.replicas` by key
 * between calls.
 */
import * as Comlink from 'comlink';
import { openLocalReplica, type OpenReplicaOptions } from '../../../client/index.ts';
import { fromWireError } from '../../../client/errors.ts';
import { replicaOf } from '../../../client/replica.ts';
import type { SpawnedWorker } from '../../../client/spawn-worker.ts';
import type { WorkerApi } from '../../../client/worker-api.ts';

/** openLocalReplica's steps, with the worker of a browser that has no OPFS. */
async function openWithoutOpfs(options: OpenReplicaOptions) {
  const worker = new Worker(new URL('./no-opfs-worker.ts', import.meta.url), { type: 'module' });
  const api = Comlink.wrap<WorkerApi>(worker);
  const spawned: SpawnedWorker = {
    api,
    async terminate() {
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
  try {
    const { storage } = await api.open({ storage: options.storage ?? 'memory', name: options.name, lockWaitMs: options.lockWaitMs });
    return replicaOf(spawned, storage);
  } catch (err) {
    await spawned.terminate();
    throw fromWireError(err);
  }
}

const page = globalThis as unknown as Record<string, unknown>;
page.treesync = { openReplica: openLocalReplica, openWithoutOpfs };
page.replicas = {};
page.treesyncReady = true;
