/**
 * The worker's side of WorkerApi: one replica in one wa-sqlite database. Every call runs alone
 * (serial.ts), and a failing call rejects with a WireError (errors.ts) so its `code` and details
 * cross the boundary. How the SQLite module is loaded differs between a browser worker and a
 * Node worker thread, so the caller passes `loadSqlite`.
 */
import * as SQLite from '@journeyapps/wa-sqlite';
import * as Comlink from 'comlink';
import { MAX_VALUE_BYTES, type Op } from '../../protocol/ops.ts';
import { TreesyncError } from '../../protocol/errors.ts';
import { toWireError } from '../errors.ts';
import { unpackOps } from '../packed-ops.ts';
import type { FieldRow, MoveLogRow, NodeRow, SyncListener, ValueRow, WorkerApi } from '../worker-api.ts';
import { applyOps } from './apply-ops.ts';
import { childrenOf } from './children.ts';
import { bootstrap } from './sync/bootstrap.ts';
import { readState } from './sync-state.ts';
import { LocalEdits } from './local-edits.ts';
import { newNodeId } from '../node-id.ts';
import { createSchema, TABLE_NAMES as DUMPED_TABLES } from './schema.ts';
import { serial } from './serial.ts';
import { listTrash, undeleteTarget } from './trash.ts';
import type { SocketClass } from './sync/events-socket.ts';
import { SyncLoop } from './sync/sync-loop.ts';
import { Db } from './sqlite-db.ts';
import type { OpenStorage } from './storage/open-storage.ts';
import { checkStorageOptions, type StorageKind } from './storage/storage-kind.ts';

/** Loads the wa-sqlite Emscripten module (in Node: with the wasm binary passed in). */
export type LoadSqlite = () => Promise<unknown>;

const APPLY_OPTIONS = { maxValueBytes: MAX_VALUE_BYTES };

/** What the runtime gives the sync loop: the WebSocket class (the browser's global one, or
 * the `ws` package's in Node 20, injected by the Node entry). */
export interface Runtime {
  WebSocket?: SocketClass;
}

/** `openStorage` opens a persistent replica (worker/storage/; browsers only): without it, as in
 * Node, storage is `memory` only. */
export function createReplicaService(loadSqlite: LoadSqlite, openStorage?: OpenStorage, runtime: Runtime = {}): WorkerApi {
  let db: Db | undefined;
  let edits: LocalEdits | undefined;
  /** Closes `db` and lets go of what its storage holds (files, the replica's lock). */
  let closeDb: (() => Promise<void>) | undefined;
  let loop: SyncLoop | undefined;
  let listener: SyncListener | undefined;
  const looping = (): SyncLoop => {
    if (!loop) throw new Error('the sync loop is not started');
    return loop;
  };
  /** Tells the app's thread, never failing here (its side may be closing). */
  const tell = (fn: () => unknown) => {
    try {
      void Promise.resolve(fn()).catch(() => undefined);
    } catch {
      // gone
    }
  };
  /** A local edit: runs it, then tells the app which parents changed and the loop to push. */
  const localEdit = <T>(nodes: string[], parents: string[], task: () => Promise<T>): Promise<T> =>
    call(async () => {
      const d = opened();
      const placeOf = async () => Promise.all(nodes.map(async (id) => ((await d.get('select parent from nodes where id = ?', [id]))?.[0] ?? null) as string | null));
      const before = await placeOf();
      const result = await task();
      const after = await placeOf();
      const changed = new Set(parents);
      for (const p of [...before, ...after]) if (p !== null) changed.add(p);
      if (listener) {
        const l = listener;
        const ops = editor().lastOps;
        tell(() => l.edited(ops));
        if (changed.size > 0) tell(() => l.changes({ parents: [...changed].sort(), all: false }));
      }
      if (loop) {
        const pending = Number((await d.get('select count(*) from outbox'))?.[0] ?? 0);
        loop.edited(pending);
      }
      return result;
    });
  /** The SQLite API, made once per worker: a closed replica can be opened again (fresh). */
  let sqlite: { api: SQLiteAPI; module: unknown } | undefined;
  const queue = serial();
  const opened = (): Db => {
    if (!db) throw new Error('the replica is not open');
    return db;
  };
  const editor = (): LocalEdits => {
    if (!edits) throw new Error('the replica is not open');
    return edits;
  };
  /** A batch from elsewhere merged as `treesync.apply_ops` would, and told to the local edits. */
  const applyRemote = (ops: Op[]) => applyOps(opened(), ops, APPLY_OPTIONS, (batch) => editor().observe(batch));
  /** Runs a call in turn; errors leave as WireErrors. */
  const call = <T>(task: () => Promise<T>): Promise<T> =>
    queue(task).catch((err: unknown) => {
      throw toWireError(err);
    });

  return {
    open: (options) =>
      call(async () => {
        if (db) throw new Error('the replica is open already');
        checkStorageOptions(options);
        let opening: Db;
        let closing: () => Promise<void>;
        let storage: StorageKind;
        if (options.storage === 'memory') {
          if (!sqlite) {
            const module = await loadSqlite();
            sqlite = { api: SQLite.Factory(module), module };
          }
          const memory = await Db.open(sqlite.api, sqlite.module);
          [opening, closing, storage] = [memory, () => memory.close(), 'memory'];
        } else {
          if (!openStorage) throw new TreesyncError('invalid_request', `storage ${options.storage} needs a browser worker (in Node, storage is memory)`);
          const stored = await openStorage({ storage: options.storage, name: options.name ?? 'default', lockWaitMs: options.lockWaitMs });
          [opening, closing, storage] = [stored.db, stored.close, stored.storage];
        }
        try {
          await createSchema(opening);
          // A persistent replica reopened keeps the id its clock was made with.
          const replica = options.replica ?? (await readState<string>(opening, 'replica')) ?? newNodeId();
          edits = await LocalEdits.load(opening, replica, APPLY_OPTIONS);
        } catch (err) {
          await closing();
          throw err;
        }
        db = opening;
        closeDb = closing;
        return { storage };
      }),

    apply: (ops) => call(() => applyRemote(ops)),
    applyPacked: (packed) => call(() => applyRemote(unpackOps(packed))),

    bootstrap: (options, onProgress) =>
      call(async () => {
        try {
          return await bootstrap(opened(), options, APPLY_OPTIONS.maxValueBytes, onProgress ? (p) => void onProgress(p) : undefined, editor());
        } finally {
          // The callback is a proxy of the app's function: release its port.
          (onProgress as { [Comlink.releaseProxy]?: () => void } | undefined)?.[Comlink.releaseProxy]?.();
        }
      }),
    seq: () => call(async () => (await readState<number>(opened(), 'seq')) ?? null),

    create: (parent, options) => localEdit([], [parent], () => editor().create(parent, options)),
    move: (id, parent, options) => localEdit([id], [parent], () => editor().move(id, parent, options)),
    delete: (id) => localEdit([id], [], () => editor().delete(id)),
    undelete: (id) =>
      localEdit([id], [], async () => {
        const target = await undeleteTarget(opened(), id);
        if (target === 'unknown') throw new TreesyncError('invalid_request', `node ${id} does not exist`);
        if (target === 'not_in_trash') throw new TreesyncError('invalid_request', `node ${id} is not in the trash`);
        if (target.pos === null) await editor().move(id, target.parent);
        else await editor().moveToKey(id, target.parent, target.pos);
      }),
    trash: (limit = 100) =>
      call(async () => {
        if (!Number.isInteger(limit) || limit < 1) throw new TreesyncError('invalid_request', 'limit must be a positive integer');
        return listTrash(opened(), limit);
      }),
    set: (id, key, value) => localEdit([id], [], () => editor().set(id, key, value)),

    startSync: (config, hooks) =>
      call(async () => {
        if (loop) throw new Error('the sync loop is started already');
        listener = hooks;
        loop = new SyncLoop(
          { db: opened(), edits: editor(), applyOptions: APPLY_OPTIONS, queue, WebSocket: runtime.WebSocket },
          config,
          {
            token: async (refresh) => (await hooks.token(refresh)) ?? undefined,
            status: (s) => tell(() => hooks.status(s)),
            changes: (c) => tell(() => hooks.changes(c)),
            progress: (p) => tell(() => hooks.progress(p)),
          },
        );
        // Outside the queue: start() queues its own reads.
        const started = loop;
        void Promise.resolve().then(() => started.start());
      }),
    setOnline: async (online) => looping().setOnline(online),
    setNetwork: async (online) => loop?.setNetwork(online),
    sync: () => Promise.resolve().then(() => looping().sync()).catch((err: unknown) => {
      throw toWireError(err);
    }),
    status: async () => looping().status(),
    node: (id) =>
      call(async () => {
        const row = await opened().get('select parent, pos from nodes where id = ?', [id]);
        if (row === undefined) return null;
        const fields: Record<string, unknown> = {};
        for (const f of await opened().all('select key, value from fields where node = ? and value is not null order by key', [id])) {
          fields[f[0] as string] = JSON.parse(f[1] as string);
        }
        return { id, parent: row[0] as string | null, pos: row[1] as string, fields };
      }),
    path: (id) =>
      call(async () => {
        const rows = await opened().all(
          `with recursive up(id, parent, depth) as (
             select id, parent, 0 from nodes where id = ?1
             union all select n.id, n.parent, up.depth + 1 from nodes n join up on n.id = up.parent
             where up.depth < 1000000)
           select id from up order by depth desc`,
          [id],
        );
        return rows.map((r) => r[0] as string);
      }),
    outbox: () => call(() => editor().outbox()),
    replicaId: () => call(async () => editor().replica),
    children: (id) => call(() => childrenOf(opened(), id)),

    nodes: () =>
      call(async () =>
        (await opened().all('select id, parent, pos from nodes order by id')).map(
          (r): NodeRow => ({ id: r[0] as string, parent: r[1] as string | null, pos: r[2] as string }),
        ),
      ),

    values: () =>
      call(async () =>
        (await opened().all('select node, key, value from fields where value is not null order by node, key')).map(
          (r): ValueRow => ({ node: r[0] as string, key: r[1] as string, value: JSON.parse(r[2] as string) }),
        ),
      ),

    fields: () =>
      call(async () =>
        (await opened().all('select node, key, value, ts from fields order by node, key')).map(
          (r): FieldRow => ({
            node: r[0] as string,
            key: r[1] as string,
            value: r[2] === null ? null : JSON.parse(r[2] as string),
            ts: r[3] as string,
          }),
        ),
      ),

    moveLog: () =>
      call(async () =>
        (await opened().all('select ts, node, parent, pos, old_parent, old_pos, applied from moves order by ts')).map(
          (r): MoveLogRow => ({
            ts: r[0] as string,
            node: r[1] as string,
            parent: r[2] as string,
            pos: r[3] as string,
            old_parent: r[4] as string | null,
            old_pos: r[5] as string | null,
            applied: Number(r[6]) === 1,
          }),
        ),
      ),

    dump: () =>
      call(async () => {
        const d = opened();
        const out: Record<string, unknown[][]> = {};
        for (const table of DUMPED_TABLES) out[table] = await d.all(`select * from ${table} order by 1, 2`);
        return out;
      }),

    close: () =>
      call(async () => {
        loop?.stop();
        loop = undefined;
        listener = undefined;
        const closing = closeDb;
        db = undefined;
        closeDb = undefined;
        edits = undefined;
        await closing?.();
      }),
  };
}
