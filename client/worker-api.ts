/**
 * The one RPC interface between the app's thread and the worker that owns the replica (types
 * only). `worker/replica-service.ts` implements it and exposes it with comlink; the main thread
 * calls it through `Comlink.wrap<WorkerApi>`. Rejections carry a WireError (errors.ts).
 */
import type { Op } from '../protocol/ops.ts';
import type { StorageKind } from './worker/storage/storage-kind.ts';

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
  storage: StorageKind;
  /** A persistent replica's name ([A-Za-z0-9_-]{1,64}; default `default`): the same name in the
   * same origin is the same database. Ignored for `memory`. */
  name?: string;
  /** How long a persistent replica waits for another tab's worker to let go of it. */
  lockWaitMs?: number;
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

/** What a bootstrap loaded. */
export interface BootstrapResult {
  tree: string;
  seq: number;
  /** Rows loaded, and bytes of the stream read. */
  rows: number;
  bytes: number;
  /** The replica's database after the load (SQLite's pages), and the memory of the worker's
   * SQLite module, which never shrinks (its peak so far: the database's pages in memory
   * storage, SQLite's caches, and the load's passing buffers). */
  databaseBytes: number;
  sqliteMemoryBytes: number;
  /** The stream was fetched and parsed by a second thread (a feed worker started by the
   * replica's worker) while this one inserted; false where none could start (one thread). */
  feedThread: boolean;
}

/** How the worker's sync loop reaches the server (client/worker/sync/sync-loop.ts). */
export interface SyncConfig {
  /** The server's base URL, e.g. `https://sync.example.com`. */
  url: string;
  tree: string;
  /** Start online (default true). */
  online?: boolean;
  /** Ops per push (default 1000, the server's default limit). */
  maxOpsPerPush?: number;
  /** Ops per pull page (default: the server's). */
  pullLimit?: number;
  /** Retry waits: exponential from baseMs (250) up to maxMs (30 000), with full jitter. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** false: ask for the snapshot uncompressed. */
  compression?: boolean;
}

export interface SyncStatus {
  /** Network allowed: the app's setOnline and the browser's online state. */
  online: boolean;
  /** A sync cycle is running. */
  syncing: boolean;
  /** Local ops not yet acknowledged by the server. */
  pending: number;
  /** The last failure of the loop (cleared by the next successful cycle). */
  lastError: { code: string; message: string } | null;
  /** The server seq the replica holds; null before the first bootstrap. */
  seq: number | null;
}

/** Parents whose children (their order, membership or fields) changed; `all` when too much
 * changed to name (a bootstrap). */
export interface ChangeEvent {
  parents: string[];
  all: boolean;
}

/** What the worker tells the app's thread (a Comlink.proxy). */
export interface SyncListener {
  token(refresh: boolean): Promise<string | undefined> | string | undefined;
  status(status: SyncStatus): void;
  changes(changes: ChangeEvent): void;
  progress(progress: BootstrapProgress): void;
  /** The ops a local edit made (stamped, merged, in the outbox). */
  edited(ops: Op[]): void;
}

export interface NodeInfo {
  id: string;
  parent: string | null;
  pos: string;
  fields: Record<string, unknown>;
}

/**
 * A top of the trash, as the replica knows it (worker/trash.ts): the shape of the server's
 * trash entry (protocol/trash.ts) with the node's live fields. `ts` and `replica` are the
 * delete's; `parent` and `pos` where it took the node from (null when the node was created in
 * the trash, or when the delete is older than the log the replica keeps: then `ts` and
 * `replica` are null too).
 */
export interface TrashItem {
  node: string;
  ts: string | null;
  replica: string | null;
  parent: string | null;
  pos: string | null;
  parentExists: boolean;
  fields: Record<string, unknown>;
}

export interface WorkerApi {
  /** Opens the replica's database and creates its schema (keeping what a persistent one holds).
   * After close(), open() starts again in the same worker: a new, empty replica in memory, the
   * same one again for a persistent storage and name. Resolves with the storage it got (`opfs`
   * falls back to `idb`; worker/storage/). */
  open(options: OpenOptions): Promise<{ storage: StorageKind }>;
  /** treesync.apply_ops on the replica. */
  apply(ops: Op[]): Promise<ApplyResult>;
  /** `apply` of a batch packed into one string (packed-ops.ts): the same answer and the same
   * errors, without cloning each op across the boundary. */
  applyPacked(packed: string): Promise<ApplyResult>;
  /** Replaces the replica's tree with the server's snapshot of `tree`, in one transaction (a
   * cut or bad stream leaves the replica as it was), then records the snapshot's seq. Local ops
   * not yet acknowledged are kept and merged again. `onProgress` (a Comlink.proxy) hears at
   * least every 100 ms while the load runs. */
  bootstrap(
    options: { url: string; tree: string; token?: string; compression?: boolean },
    onProgress?: (progress: BootstrapProgress) => void,
  ): Promise<BootstrapResult>;
  /** The server seq the replica holds (after a bootstrap), or null. */
  seq(): Promise<number | null>;
  /** Local edits: stamped by the replica's clock, merged, kept in the outbox. `create` makes a
   * new id unless `id` names one (refused when that node exists). */
  create(parent: string, options?: Placement & { fields?: Record<string, unknown>; id?: string }): Promise<string>;
  move(id: string, parent: string, options?: Placement): Promise<void>;
  delete(id: string): Promise<void>;
  /** A move of a node inside the trash back where its delete took it from, or to the end of
   * ROOT when that parent is gone or in the trash (worker/trash.ts). */
  undelete(id: string): Promise<void>;
  /** The tops of the trash, newest delete first, at most `limit` (default 100). */
  trash(limit?: number): Promise<TrashItem[]>;
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
  /** Starts the sync loop for this replica (once per open). */
  startSync(config: SyncConfig, listener: SyncListener): Promise<void>;
  /** The app's offline switch: false stops all network traffic until true. */
  setOnline(online: boolean): Promise<void>;
  /** The runtime's own online/offline state (the browser's events). */
  setNetwork(online: boolean): Promise<void>;
  /** Resolves once every local edit made before the call is acknowledged and the replica has
   * pulled up to the server's seq at that time; rejects on an error that retrying cannot fix. */
  sync(): Promise<void>;
  status(): Promise<SyncStatus>;
  /** A node with its place and live fields, or null. */
  node(id: string): Promise<NodeInfo | null>;
  /** The ids from the top (ROOT or TRASH) down to `id`; empty when it does not exist. */
  path(id: string): Promise<string[]>;
  /** Closes the database (an in-memory replica is gone). The worker can then be ended. */
  close(): Promise<void>;
}
