/**
 * The pinned `Replica` (design.md, "Client"): one replica and its merge, nothing else, no
 * network. A thin main-thread face over the worker's RPC interface: every call is one message,
 * a rejection becomes a TreesyncError with `code` (and `index` for a bad operation).
 */
import type { Op } from '../protocol/ops.ts';
import { TreesyncError } from '../protocol/errors.ts';
import { rpc } from './errors.ts';
import { packOps } from './packed-ops.ts';
import type { SpawnedWorker } from './spawn-worker.ts';
import * as Comlink from 'comlink';
import type { ApplyResult, WorkerApi, BootstrapProgress, BootstrapResult, FieldRow, MoveLogRow, NodeRow, Placement, TrashItem, ValueRow } from './worker-api.ts';
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

/** More than the pinned interface: local edits (what openTree builds on), and the rows tests and
 * tools compare with the server's tables. */
export interface LocalReplica extends Replica {
  /** Creates a node under `parent` (after the last child unless placed); returns its id. */
  create(parent: string, options?: Placement & { fields?: Record<string, unknown> }): Promise<string>;
  move(id: string, parent: string, options?: Placement): Promise<void>;
  /** A move into TRASH. */
  delete(id: string): Promise<void>;
  /** Back from the trash (see TreeClient.undelete). */
  undelete(id: string): Promise<void>;
  /** The trash's tops, newest delete first (see TreeClient.trash). */
  trash(options?: { limit?: number }): Promise<TrashItem[]>;
  /** `null` removes the field. */
  set(id: string, key: string, value: unknown): Promise<void>;
  /** Local ops not yet acknowledged, in ts order. */
  outbox(): Promise<Op[]>;
  replicaId(): Promise<string>;
  children(id: string): Promise<Array<{ id: string; pos: string; fields: Record<string, unknown> }>>;
  /** Loads the server's snapshot of a tree (see WorkerApi.bootstrap). */
  bootstrap(
    options: { url: string; tree: string; token?: string; compression?: boolean },
    onProgress?: (progress: BootstrapProgress) => void,
  ): Promise<BootstrapResult>;
  seq(): Promise<number | null>;
  /** Every field row with its ts, removed ones (value null) too. */
  fields(): Promise<FieldRow[]>;
  /** The move log, by ts. */
  moveLog(): Promise<MoveLogRow[]>;
  /** Every row of every table. */
  dump(): Promise<Record<string, unknown[][]>>;
}

/** An opened replica, and where it lives. */
export interface StoredReplica extends LocalReplica {
  /** The storage asked for, or `idb` where `opfs` was asked for and OPFS is missing. */
  readonly storage: StorageKind;
}

/** `apply` through the worker's API: a batch of plain ops as one string (packed-ops.ts), any
 * other as it is. The same answer and the same errors either way. */
export function applyOn(api: Pick<WorkerApi, 'apply' | 'applyPacked'>, ops: Op[]): Promise<ApplyResult> {
  const packed = packOps(ops);
  return packed === undefined ? api.apply(ops) : api.applyPacked(packed);
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
    apply: (ops) => rpc(() => applyOn(api(), ops)),
    create: (parent, options) => rpc(() => api().create(parent, options)),
    move: (id, parent, options) => rpc(() => api().move(id, parent, options)),
    delete: (id) => rpc(() => api().delete(id)),
    undelete: (id) => rpc(() => api().undelete(id)),
    trash: (o) => rpc(() => api().trash(o?.limit)),
    set: (id, key, value) => rpc(() => api().set(id, key, value)),
    outbox: () => rpc(() => api().outbox()),
    replicaId: () => rpc(() => api().replicaId()),
    children: (id) => rpc(() => api().children(id)),
    bootstrap: (options, onProgress) => rpc(() => api().bootstrap(options, onProgress ? Comlink.proxy(onProgress) : undefined)),
    seq: () => rpc(() => api().seq()),
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
