/**
 * Many replicas from one worker: the real worker (worker_threads, comlink, wa-sqlite), whose
 * database is closed and opened again for each new replica, so a property can make thousands
 * of replicas without starting a thread for each. Close it in afterAll.
 */
import { afterAll } from 'vitest';
import { rpc } from '../../client/errors.ts';
import { spawnWorker } from '../../client/node/spawn-node-worker.ts';
import { applyOn, type LocalReplica } from '../../client/replica.ts';

export interface ReplicaSource {
  /** A new, empty replica; the one before is gone. */
  fresh(): Promise<Pick<LocalReplica, 'apply' | 'nodes' | 'values' | 'fields' | 'moveLog' | 'dump'>>;
}

/** One worker for the test file, ended after its tests. */
export function useWorkerReplicas(): ReplicaSource {
  const worker = spawnWorker();
  const { api } = worker;
  let open = false;
  afterAll(() => worker.terminate());
  return {
    async fresh() {
      if (open) await rpc(() => api.close());
      await rpc(() => api.open({ storage: 'memory' }));
      open = true;
      return {
        // As an app's replica sends a batch: packed where it can be (client/packed-ops.ts).
        apply: (ops) => rpc(() => applyOn(api, ops)),
        nodes: () => rpc(() => api.nodes()),
        values: () => rpc(() => api.values()),
        fields: () => rpc(() => api.fields()),
        moveLog: () => rpc(() => api.moveLog()),
        dump: () => rpc(() => api.dump()),
      };
    },
  };
}
