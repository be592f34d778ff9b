/**
 * The pinned `Replica` (design.md, "Client"): one replica and its merge, nothing else, no
 * network. A thin main-thread face over the worker's RPC interface: every call is one message,
 * a rejection becomes a TreesyncError with `code` (and `index` for a bad operation).
 */
import type { Op } from '../protocol/ops.ts';
import { TreesyncError } from '../protocol/errors.ts';
import { rpc } from './errors.ts';
import type { SpawnedWorker } from './spawn-worker.ts';
import type { ApplyResult, FieldRow, MoveLogRow, NodeRow, ValueRow } from './worker-api.ts';
import type { StorageKind } from './worker/storage/storage-kind.ts';

export interface Replica {
  /** treesync.apply_ops's semantics and validation; a bad batch rejects (an error with `code`
   * and `index`) and changes nothing. */
  apply(ops: Op[]): Promise<ApplyResult>;
  /** All nodes, ROOT and TRASH too. */
  nodes(): Promise<NodeRow[]>;
  /** Live fields (no removed ones). */
  values(): Promise<ValueRow[]>;
  close(): Promise<void>;
}

/** More than the pinned interface, for tests and tools that compare with the server's tables. */
export interface InspectableReplica extends Replica {
  /** Every field row with its ts, removed ones (value null) too. */
  fields(): Promise<FieldRow[]>;
  /** The move log, by ts. */
  moveLog(): Promise<MoveLogRow[]>;
  /** Every row of every table. */
  dump(): Promise<Record<string, unknown[][]>>;
}

/** An opened replica, and where it lives. */
export interface StoredReplica extends InspectableReplica {
  /** The storage asked for, or `idb` where `opfs` was asked for and OPFS is missing. */
  readonly storage: StorageKind;
}

export function replicaOf(worker: SpawnedWorker, storage: StorageKind = 'memory'): StoredReplica {
  let closed: Promise<void> | undefined;
  /** The worker's API while open; after close() every call rejects, saying so. */
  const api = () => {
    if (closed) throw new TreesyncError('invalid_request', 'the replica is closed');
    return worker.api;
  };
  return {
    storage,
    apply: (ops) => rpc(() => api().apply(ops)),
    nodes: () => rpc(() => api().nodes()),
    values: () => rpc(() => api().values()),
    fields: () => rpc(() => api().fields()),
    moveLog: () => rpc(() => api().moveLog()),
    dump: () => rpc(() => api().dump()),
    close() {
      // Closing twice is closing once; the worker ends even when the database's close fails.
      closed ??= rpc(() => worker.api.close()).finally(() => worker.terminate());
      return closed;
    },
  };
}
