/**
 * The worker's side of WorkerApi: one replica in one wa-sqlite database. Every call runs alone
 * (serial.ts), and a failing call rejects with a WireError (errors.ts) so its `code` and details
 * cross the boundary. How the SQLite module is loaded differs between a browser worker and a
 * Node worker thread, so the caller passes `loadSqlite`.
 */
import * as SQLite from '@journeyapps/wa-sqlite';
import { MAX_VALUE_BYTES } from '../../protocol/ops.ts';
import { TreesyncError } from '../../protocol/errors.ts';
import { toWireError } from '../errors.ts';
import type { FieldRow, MoveLogRow, NodeRow, ValueRow, WorkerApi } from '../worker-api.ts';
import { applyOps } from './apply-ops.ts';
import { createSchema, TABLE_NAMES as DUMPED_TABLES } from './schema.ts';
import { serial } from './serial.ts';
import { Db } from './sqlite-db.ts';
import type { OpenStorage } from './storage/open-storage.ts';
import { checkStorageOptions } from './storage/storage-kind.ts';

/** Loads the wa-sqlite Emscripten module (in Node: with the wasm binary passed in). */
export type LoadSqlite = () => Promise<unknown>;

/** `openStorage` opens a persistent replica (worker/storage/; browsers only): without it, as in
 * Node, storage is `memory` only. */
export function createReplicaService(loadSqlite: LoadSqlite, openStorage?: OpenStorage): WorkerApi {
  let db: Db | undefined;
  /** Closes `db` and lets go of what its storage holds (files, the replica's lock). */
  let closeDb: (() => Promise<void>) | undefined;
  /** The SQLite API, made once per worker: a closed replica can be opened again (fresh). */
  let sqlite3: SQLiteAPI | undefined;
  const queue = serial();
  const opened = (): Db => {
    if (!db) throw new Error('the replica is not open');
    return db;
  };
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
        if (options.storage === 'memory') {
          sqlite3 ??= SQLite.Factory(await loadSqlite());
          const opening = await Db.open(sqlite3);
          await createSchema(opening);
          db = opening;
          closeDb = () => opening.close();
          return { storage: 'memory' as const };
        }
        if (!openStorage) throw new TreesyncError('invalid_request', `storage ${options.storage} needs a browser worker (in Node, storage is memory)`);
        const opened = await openStorage({ storage: options.storage, name: options.name ?? 'default', lockWaitMs: options.lockWaitMs });
        try {
          await createSchema(opened.db);
        } catch (err) {
          await opened.close();
          throw err;
        }
        db = opened.db;
        closeDb = opened.close;
        return { storage: opened.storage };
      }),

    apply: (ops) => call(() => applyOps(opened(), ops, { maxValueBytes: MAX_VALUE_BYTES })),

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
        const closing = closeDb;
        db = undefined;
        closeDb = undefined;
        await closing?.();
      }),
  };
}
