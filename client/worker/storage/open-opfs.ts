/**
 * A replica in the origin private file system, on the synchronous wa-sqlite build.
 *
 * Two of wa-sqlite's OPFS VFSs work with the synchronous build; both keep synchronous access
 * handles, so both need a dedicated worker. `access-handle-pool` (AccessHandlePoolVFS) opens a
 * small pool of files once and maps SQLite's files onto them: one connection only, which is
 * all a replica has (one owner, replica-lock.ts). `coop-sync` (OPFSCoopSyncVFS) maps files
 * one to one and allows several connections. The default is the one that opened faster in
 * headless Chromium (docs/browser.md has the figures; test/browser/vfs-open.bench.ts measures).
 *
 * Each replica gets its own directory, `treesync/<name>`, and its own SQLite module, so a
 * closed replica's VFS can be let go without unregistering anything.
 *
 * On AccessHandlePoolVFS (the default) the rollback journal is kept between transactions
 * (`journal_mode = persist`, its header zeroed at commit) rather than deleted: deleting the
 * journal, and making it again at the next transaction, each rewrite a pool file's header and
 * flush it. A local edit's transaction measured about a quarter faster (docs/browser.md).
 * Durability is the same: `synchronous` stays FULL, and a commit is durable once the zeroed
 * header is flushed. A journal grown by a large transaction (a bootstrap over an existing tree)
 * is cut back to JOURNAL_LIMIT after it.
 */
import * as SQLite from '@journeyapps/wa-sqlite';
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite.mjs';
import { Db } from '../sqlite-db.ts';

export type OpfsVfs = 'access-handle-pool' | 'coop-sync';

export const DEFAULT_OPFS_VFS: OpfsVfs = 'access-handle-pool';

/** Bytes of journal kept after a transaction. */
const JOURNAL_LIMIT = 1 << 20;

export interface OpenedDb {
  db: Db;
  /** Closes the database and lets go of the VFS's files. */
  close(): Promise<void>;
}

export async function openOpfs(name: string, vfs: OpfsVfs = DEFAULT_OPFS_VFS): Promise<OpenedDb> {
  const module = await SQLiteESMFactory();
  const sqlite3 = SQLite.Factory(module);
  const dir = `treesync/${name}`;
  let closeVfs: () => Promise<void>;
  let vfsName: string;
  if (vfs === 'access-handle-pool') {
    const { AccessHandlePoolVFS } = await import('@journeyapps/wa-sqlite/src/examples/AccessHandlePoolVFS.js');
    const pool = await AccessHandlePoolVFS.create(dir, module);
    sqlite3.vfs_register(pool, false);
    vfsName = pool.name;
    closeVfs = () => pool.close();
  } else {
    const { OPFSCoopSyncVFS } = await import('@journeyapps/wa-sqlite/src/examples/OPFSCoopSyncVFS.js');
    const coop = await OPFSCoopSyncVFS.create(dir, module);
    sqlite3.vfs_register(coop, false);
    vfsName = coop.name;
    // Its files close with the database; its temporary-file pool goes with the module.
    closeVfs = async () => {};
  }
  // AccessHandlePoolVFS resolves paths inside its directory; OPFSCoopSyncVFS from the root.
  const filename = vfs === 'access-handle-pool' ? '/replica.sqlite3' : `/${dir}/replica.sqlite3`;
  let handle: number;
  try {
    handle = await sqlite3.open_v2(filename, SQLite.SQLITE_OPEN_CREATE | SQLite.SQLITE_OPEN_READWRITE, vfsName);
  } catch (err) {
    await closeVfs();
    throw err;
  }
  const db = new Db(sqlite3, module as ConstructorParameters<typeof Db>[1], handle);
  try {
    // OPFSCoopSyncVFS allows only off, memory, delete and wal: it keeps SQLite's default.
    if (vfs === 'access-handle-pool') await db.exec(`pragma journal_mode = persist; pragma journal_size_limit = ${JOURNAL_LIMIT}`);
  } catch (err) {
    await db.close();
    await closeVfs();
    throw err;
  }
  return {
    db,
    async close() {
      try {
        await db.close();
      } finally {
        await closeVfs();
      }
    },
  };
}
