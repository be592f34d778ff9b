/**
 * A replica in IndexedDB (one database per replica, `treesync-<name>`), through wa-sqlite's
 * IDBBatchAtomicVFS on the asynchronous (Asyncify) build: IndexedDB has no synchronous API.
 * Slower than OPFS; the fallback where OPFS is missing. The asynchronous build is loaded only
 * here, so a bundler splits it off and an OPFS replica never downloads it. Statements run
 * through AsyncDb (async-db.ts), which awaits every step.
 */
import * as SQLite from '@journeyapps/wa-sqlite';
import { AsyncDb } from './async-db.ts';
import type { OpenedDb } from './open-opfs.ts';

/** IDBBatchAtomicVFS as it is (the declaration wa-sqlite ships for it is out of date). */
interface IdbVfsModule {
  IDBBatchAtomicVFS: { create(name: string, module: unknown): Promise<SQLiteVFS & { readonly name: string; close(): void }> };
}

export async function openIdb(name: string): Promise<OpenedDb> {
  const [{ default: SQLiteAsyncESMFactory }, { IDBBatchAtomicVFS }] = await Promise.all([
    import('@journeyapps/wa-sqlite/dist/wa-sqlite-async.mjs'),
    import('@journeyapps/wa-sqlite/src/examples/IDBBatchAtomicVFS.js') as Promise<unknown> as Promise<IdbVfsModule>,
  ]);
  const module = await SQLiteAsyncESMFactory();
  const sqlite3 = SQLite.Factory(module);
  const vfs = await IDBBatchAtomicVFS.create(`treesync-${name}`, module);
  sqlite3.vfs_register(vfs, false);
  let db: AsyncDb;
  try {
    db = await AsyncDb.openAsync(sqlite3, module, 'replica.sqlite3', vfs.name);
  } catch (err) {
    vfs.close();
    throw err;
  }
  return {
    db,
    async close() {
      try {
        await db.close();
      } finally {
        vfs.close();
      }
    },
  };
}
