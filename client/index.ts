/**
 * treesync's client library: the public entry (design.md, "Client").
 *
 * `openReplica()` starts a worker that owns a wa-sqlite replica and applies the same merge as
 * the server. In a browser the worker is a module Web Worker; in Node it is a worker_threads
 * Worker (storage is then `memory`).
 *
 * `openTree()` is an app's data layer for one tree: the replica plus the sync loop.
 */
import { fromWireError } from './errors.ts';
import type { SpawnedWorker } from './spawn-worker.ts';
import { replicaOf, type Replica, type StoredReplica } from './replica.ts';
import { openTreeOn, type OpenTreeOptions, type TreeClient } from './tree-client.ts';
import type { StorageKind } from './worker/storage/storage-kind.ts';

export type { Replica, LocalReplica, StoredReplica } from './replica.ts';
export type { StorageKind } from './worker/storage/storage-kind.ts';
export type { ApplyResult, NodeRow, ValueRow, FieldRow, MoveLogRow, Placement } from './worker-api.ts';
export type { ReplicaError } from './errors.ts';
export type { TreeClient, TreeEvent, OpenTreeOptions, PendingChange } from './tree-client.ts';
export type { SyncStatus, ChangeEvent, NodeInfo, BootstrapProgress, BootstrapResult, TrashItem } from './worker-api.ts';

export interface OpenReplicaOptions {
  /** Where the replica lives (docs/browser.md). `memory` (the default, and the only one in
   * Node) lasts as long as the replica; `opfs` (falling back to `idb` where OPFS is missing) and
   * `idb` persist in the browser: the same `name` in the same origin reopens the same replica,
   * after a reload too, and one tab owns it at a time. */
  storage?: StorageKind;
  /** A persistent replica's name, [A-Za-z0-9_-]{1,64}; default `default`. */
  name?: string;
  /** How long a persistent replica waits for another tab to let go of it before open rejects
   * (code `unavailable`, reason `replica_in_use`); default 3,000 ms. */
  lockWaitMs?: number;
}

export interface OpenLocalReplicaOptions extends OpenReplicaOptions {
  /** The replica id its edits are stamped with; made up when not given. */
  replica?: string;
}

const inNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';

async function spawn(): Promise<SpawnedWorker> {
  if (inNode) {
    // A path in a variable: browser bundlers and the browser's type check leave the Node
    // entry alone (it uses Node's APIs; the root tsconfig checks it with Node's types).
    const nodeEntry = './node/spawn-node-worker.ts';
    const mod = (await import(/* @vite-ignore */ nodeEntry)) as { spawnWorker(): SpawnedWorker };
    return mod.spawnWorker();
  }
  return (await import('./spawn-worker.ts')).spawnWorker();
}

export async function openReplica(options: OpenReplicaOptions = {}): Promise<Replica> {
  return openLocalReplica(options);
}

/** openReplica, with local edits and the inspection calls of LocalReplica. */
export async function openLocalReplica(options: OpenLocalReplicaOptions = {}): Promise<StoredReplica> {
  const worker = await spawn();
  let storage: StorageKind;
  try {
    ({ storage } = await worker.api.open({
      storage: options.storage ?? 'memory',
      ...(options.replica === undefined ? {} : { replica: options.replica }),
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.lockWaitMs === undefined ? {} : { lockWaitMs: options.lockWaitMs }),
    }));
  } catch (err) {
    await worker.terminate();
    throw fromWireError(err);
  }
  return replicaOf(worker, storage);
}

/** A tree kept in sync with the server: bootstraps from a snapshot on first open, then pushes
 * local edits and pulls others' by itself (tree-client.ts, worker/sync/). */
export async function openTree(options: OpenTreeOptions): Promise<TreeClient> {
  return openTreeOn(await spawn(), options);
}
