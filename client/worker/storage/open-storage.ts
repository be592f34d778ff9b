/**
 * Opens a persistent replica's database in a browser worker: takes the replica's lock (one
 * owner per replica and origin, replica-lock.ts), picks the storage (`opfs`, else `idb`), and
 * opens SQLite on it. Reopening the same name in the same origin finds the same database, so a
 * reloaded page keeps its replica. The lock is held until `close()`, or until the worker ends.
 */
import type { OpenedDb } from './open-opfs.ts';
import { holdReplicaLock } from './replica-lock.ts';
import { resolveStorage, type PersistentStorageKind } from './storage-kind.ts';

export interface PersistentOptions {
  storage: PersistentStorageKind;
  name: string;
  /** How long to wait for another owner of the replica (replica-lock.ts). */
  lockWaitMs?: number;
}

export interface OpenedStorage extends OpenedDb {
  /** The storage it got: `idb` where `opfs` was asked for and OPFS is missing. */
  storage: PersistentStorageKind;
}

export type OpenStorage = (options: PersistentOptions) => Promise<OpenedStorage>;

export const openBrowserStorage: OpenStorage = async (options) => {
  const storage = resolveStorage(options.storage);
  const release = await holdReplicaLock(storage, options.name, options.lockWaitMs);
  try {
    const opened = storage === 'opfs' ? await (await import('./open-opfs.ts')).openOpfs(options.name) : await (await import('./open-idb.ts')).openIdb(options.name);
    return {
      storage,
      db: opened.db,
      async close() {
        try {
          await opened.close();
        } finally {
          release();
        }
      },
    };
  } catch (err) {
    release();
    throw err;
  }
};
