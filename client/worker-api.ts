/**
 * The one RPC interface between the app's thread and the worker that owns the replica (types
 * only). `worker/replica-service.ts` implements it and exposes it with comlink; the main thread
 * calls it through `Comlink.wrap<WorkerApi>`. Rejections carry a WireError (errors.ts).
 */
import type { Op } from '../protocol/ops.ts';

export interface ApplyResult {
  accepted: number;
  duplicates: number;
  undone: number;
  skipped: number;
}

export interface NodeRow {
  id: string;
  parent: string | null;
  pos: string;
}

export interface ValueRow {
  node: string;
  key: string;
  value: unknown;
}

/** A move log entry, as `treesync.moves` holds it (without the tree). */
export interface MoveLogRow {
  ts: string;
  node: string;
  parent: string;
  pos: string;
  old_parent: string | null;
  old_pos: string | null;
  applied: boolean;
}

/** A field with its ts, tombstones (`value` null) included, as `treesync.fields` holds it. */
export interface FieldRow {
  node: string;
  key: string;
  value: unknown;
  ts: string;
}

export interface OpenOptions {
  storage: 'memory';
  /** This replica's id ([A-Za-z0-9_-]{1,32}), the last part of its timestamps; made up when
   * not given. */
  replica?: string;
}

/** Where a created or moved node goes among its new siblings (neither: after the last). */
export interface Placement {
  after?: string;
  before?: string;
}

export interface BootstrapProgress {
  /** Rows loaded so far, and in the whole snapshot (its header's counts). */
  rows: number;
  totalRows: number;
  /** Bytes of the stream read so far. */
  bytes: number;
  /** The snapshot is committed. */
  done: boolean;
}

export interface WorkerApi {
  /** Opens the replica's database (in memory) and creates its schema. After close(), open()
   * starts a new, empty replica in the same worker. */
  open(options: OpenOptions): Promise<void>;
  /** treesync.apply_ops on the replica. */
  apply(ops: Op[]): Promise<ApplyResult>;
  /** Replaces the replica's tree with the server's snapshot of `tree`, in one transaction (a
   * cut or bad stream leaves the replica as it was), then records the snapshot's seq. Local ops
   * not yet acknowledged are kept and merged again. `onProgress` (a Comlink.proxy) hears at
   * least every 100 ms while the load runs. */
  bootstrap(
    options: { url: string; tree: string; token?: string; compression?: boolean },
    onProgress?: (progress: BootstrapProgress) => void,
  ): Promise<{ tree: string; seq: number; rows: number; bytes: number }>;
  /** The server seq the replica holds (after a bootstrap), or null. */
  seq(): Promise<number | null>;
  /** Local edits: stamped by the replica's clock, merged, kept in the outbox. */
  create(parent: string, options?: Placement & { fields?: Record<string, unknown> }): Promise<string>;
  move(id: string, parent: string, options?: Placement): Promise<void>;
  delete(id: string): Promise<void>;
  set(id: string, key: string, value: unknown): Promise<void>;
  /** Local ops not yet acknowledged, in ts order. */
  outbox(): Promise<Op[]>;
  /** This replica's id. */
  replicaId(): Promise<string>;
  /** A parent's children in sibling order, (pos, id) bytewise, with their live fields. */
  children(id: string): Promise<Array<{ id: string; pos: string; fields: Record<string, unknown> }>>;
  /** Every node, ROOT and TRASH too, by id (bytewise). */
  nodes(): Promise<NodeRow[]>;
  /** Live fields (no tombstones), by (node, key). */
  values(): Promise<ValueRow[]>;
  /** Every field row, tombstones too, by (node, key): for comparing with the server's table. */
  fields(): Promise<FieldRow[]>;
  /** The move log, by ts. */
  moveLog(): Promise<MoveLogRow[]>;
  /** Every row of every table of the replica, by table, in key order: for proving that a
   * refused batch changed nothing. */
  dump(): Promise<Record<string, unknown[][]>>;
  /** Closes the database (an in-memory replica is gone). The worker can then be ended. */
  close(): Promise<void>;
}
