/**
 * `openTree()` and the pinned `TreeClient` (design.md, "Client"): an app's whole data layer for
 * one tree. The replica and the sync loop live in the worker (worker/sync/sync-loop.ts); this is
 * the app's thread side: edits and reads are one RPC call each, the worker's news (status,
 * changes, bootstrap progress) arrive through one listener proxy and are handed to the app's
 * subscribers, change events batched per task (several merges in a row become one event).
 *
 * Every edit is also told at once, on this thread: its `pending` event is emitted inside the
 * call, before the call returns, so an app can draw the edit in the same frame (from what it
 * shows already) instead of waiting for the worker's round trip and the replica's commit; its
 * `settled` event follows when the worker has answered (committed, or refused and why). The
 * replica stays the truth: an app redraws from it what change events name (a committed edit's
 * among them) and what a refused edit touched (docs/client.md, "Drawing an edit at once").
 */
import * as Comlink from 'comlink';
import { TreesyncError } from '../protocol/errors.ts';
import type { Op } from '../protocol/ops.ts';
import { fromWireError, rpc } from './errors.ts';
import { newNodeId } from './node-id.ts';
import type { SpawnedWorker } from './spawn-worker.ts';
import type { BootstrapProgress, ChangeEvent, NodeInfo, Placement, SyncConfig, SyncListener, SyncStatus, TrashItem } from './worker-api.ts';

export interface OpenTreeOptions {
  /** The server's base URL. */
  url: string;
  tree: string;
  /** A bearer token, or a function giving a fresh one (called again after a 401). */
  token?: string | (() => Promise<string>);
  /** This device's replica id ([A-Za-z0-9_-]{1,32}); made up and kept in the replica when not given. */
  replica?: string;
  /** Where the replica lives: `memory` (the default, and the only one in Node) or, in a
   * browser, `opfs` (falling back to `idb`) or `idb`, persistent under the tree's id as its name
   * (docs/browser.md): a reload reopens the same replica, its outbox and its seq. */
  storage?: 'memory' | 'opfs' | 'idb';
  /** Tuning of the loop (tests and special deployments): batch sizes, backoff, online at start. */
  sync?: Omit<SyncConfig, 'url' | 'tree'>;
}

export type TreeEvent =
  | { type: 'changes'; parents: string[]; all: boolean }
  | { type: 'status'; status: SyncStatus }
  | { type: 'bootstrap'; progress: BootstrapProgress }
  /** A local edit's operations, as stamped (one event per edit, in order). */
  | { type: 'edit'; ops: Op[] }
  /** An edit as the app asked for it, emitted inside the edit's call before the worker has
   * made it: for drawing it at once. `edit` numbers the handle's edits (1, 2, …). */
  | { type: 'pending'; edit: number; change: PendingChange }
  /** The worker's answer to edit `edit`: `error` null when it is committed in the replica (its
   * change event may come just before or just after this), else why it was refused (nothing
   * changed). Either way, what the replica holds is the truth to draw. */
  | { type: 'settled'; edit: number; error: { code: string; message: string } | null };

/** What a pending edit asks for. `after`/`before` as given to the call; `node` of a create is
 * the id the created node will have (the one its promise resolves with). */
export type PendingChange =
  | { kind: 'create'; node: string; parent: string; after?: string; before?: string; fields: Record<string, unknown> }
  | { kind: 'move'; node: string; parent: string; after?: string; before?: string }
  | { kind: 'delete'; node: string }
  | { kind: 'undelete'; node: string }
  | { kind: 'set'; node: string; key: string; value: unknown };

export interface TreeClient {
  create(parent: string, options?: Placement & { fields?: Record<string, unknown> }): Promise<string>;
  move(id: string, parent: string, options?: Placement): Promise<void>;
  /** A move into TRASH. */
  delete(id: string): Promise<void>;
  /** An ordinary move of a node in the trash back to the parent and order key its delete took
   * it from, or to the end of ROOT when that parent is gone or in the trash (docs/deletes.md). */
  undelete(id: string): Promise<void>;
  /** The trash ("recently deleted"): the tops of deleted subtrees, newest delete first, with
   * when and by which replica, from the local replica (docs/client.md). */
  trash(options?: { limit?: number }): Promise<TrashItem[]>;
  /** `null` removes the field. */
  set(id: string, key: string, value: unknown): Promise<void>;
  /** A parent's children in sibling order, with their live fields. */
  children(id: string): Promise<Array<{ id: string; pos: string; fields: Record<string, unknown> }>>;
  /** Resolves once every local edit is acknowledged and the replica has pulled up to the
   * server's seq at that time (waiting while offline); rejects on an error retrying cannot fix. */
  sync(): Promise<void>;
  /** false: no network traffic at all until set back to true. */
  setOnline(online: boolean): void;
  close(): Promise<void>;
  /** A node, its place and live fields; null when it does not exist. */
  get(id: string): Promise<NodeInfo | null>;
  /** The ids from ROOT (or TRASH) down to `id`; empty when it does not exist. */
  path(id: string): Promise<string[]>;
  /** Hears changes (parents whose children changed), status and bootstrap progress; returns
   * the unsubscribe function. */
  subscribe(listener: (event: TreeEvent) => void): () => void;
  /** The loop's last reported status. */
  status(): SyncStatus;
  /** This replica's id. */
  replica(): Promise<string>;
}

export async function openTreeOn(worker: SpawnedWorker, options: OpenTreeOptions): Promise<TreeClient> {
  const listeners = new Set<(event: TreeEvent) => void>();
  const emit = (event: TreeEvent) => {
    for (const l of listeners) {
      try {
        l(event);
      } catch {
        // a listener's failure is its own
      }
    }
  };
  let status: SyncStatus = { online: options.sync?.online ?? true, syncing: false, pending: 0, lastError: null, seq: null };
  // Change events batched per task: the parents of every merge until the next task runs.
  let batch: { parents: Set<string>; all: boolean } | undefined;
  const flush = () => {
    const b = batch;
    batch = undefined;
    if (b) emit({ type: 'changes', parents: [...b.parents].sort(), all: b.all });
  };
  const token = options.token;
  const hooks: SyncListener = {
    token: async () => (typeof token === 'function' ? token() : token),
    status(s) {
      status = s;
      emit({ type: 'status', status: s });
    },
    changes(c: ChangeEvent) {
      if (!batch) {
        batch = { parents: new Set(), all: false };
        setTimeout(flush, 0);
      }
      for (const p of c.parents) batch.parents.add(p);
      batch.all ||= c.all;
    },
    progress(p) {
      emit({ type: 'bootstrap', progress: p });
    },
    edited(ops) {
      emit({ type: 'edit', ops });
    },
  };
  try {
    await worker.api.open({
      storage: options.storage ?? 'memory',
      // A persistent replica is named after its tree, so two trees never share one.
      name: options.tree,
      ...(options.replica === undefined ? {} : { replica: options.replica }),
    });
    await worker.api.startSync({ ...options.sync, url: options.url, tree: options.tree }, Comlink.proxy(hooks));
    const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
    if (nav?.onLine === false) await worker.api.setNetwork(false);
  } catch (err) {
    await worker.terminate();
    throw fromWireError(err);
  }
  let closed: Promise<void> | undefined;
  const api = () => {
    if (closed) throw new TreesyncError('invalid_request', 'the tree is closed');
    return worker.api;
  };
  let edits = 0;
  /** An edit: `pending` now, the call, then `settled` (after the change events that arrived
   * before the answer, so an app hears the replica's news first). A closed tree rejects
   * without a pending event. */
  const edit = async <T>(change: PendingChange, call: (worker: SpawnedWorker['api']) => Promise<T>): Promise<T> => {
    const w = api();
    const n = ++edits;
    emit({ type: 'pending', edit: n, change });
    try {
      const result = await rpc(() => call(w));
      flush();
      emit({ type: 'settled', edit: n, error: null });
      return result;
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      flush();
      emit({ type: 'settled', edit: n, error: { code: typeof e.code === 'string' ? e.code : 'internal', message: String(e.message ?? err) } });
      throw err;
    }
  };
  const placed = (o: Placement | undefined) => ({
    ...(o?.after === undefined ? {} : { after: o.after }),
    ...(o?.before === undefined ? {} : { before: o.before }),
  });
  return {
    create(parent, o) {
      // The id is made here so the pending event can name the node before the worker makes it.
      const node = newNodeId();
      return edit({ kind: 'create', node, parent, ...placed(o), fields: { ...o?.fields } }, (w) => w.create(parent, { ...o, id: node }));
    },
    move: (id, parent, o) => edit({ kind: 'move', node: id, parent, ...placed(o) }, (w) => w.move(id, parent, o)),
    delete: (id) => edit({ kind: 'delete', node: id }, (w) => w.delete(id)),
    undelete: (id) => edit({ kind: 'undelete', node: id }, (w) => w.undelete(id)),
    trash: (o) => rpc(() => api().trash(o?.limit)),
    set: (id, key, value) => edit({ kind: 'set', node: id, key, value }, (w) => w.set(id, key, value)),
    children: (id) => rpc(() => api().children(id)),
    sync: () =>
      rpc(async () => {
        try {
          await api().sync();
        } finally {
          // The status as the worker has it now (its own messages may still be on their way).
          if (!closed) status = await worker.api.status();
        }
      }),
    setOnline(online) {
      if (closed) return;
      status = { ...status, online };
      void worker.api.setOnline(online).catch(() => undefined);
    },
    get: (id) => rpc(() => api().node(id)),
    path: (id) => rpc(() => api().path(id)),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    status: () => status,
    replica: () => rpc(() => api().replicaId()),
    close() {
      closed ??= rpc(() => worker.api.close()).finally(() => {
        listeners.clear();
        return worker.terminate();
      });
      return closed;
    },
  };
}
