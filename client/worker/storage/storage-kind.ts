/**
 * Where a replica's database lives, and which of those a worker can have.
 *
 * - `memory`: SQLite's own in-memory database; gone when the replica closes.
 * - `opfs`: the origin private file system, through synchronous access handles (dedicated
 *   workers in a secure context only). The default for a persistent replica; where OPFS is
 *   missing, a request for it falls back to `idb`.
 * - `idb`: IndexedDB, through wa-sqlite's IDBBatchAtomicVFS (the asynchronous build).
 */
import { TREE_ID } from '../../../protocol/ops.ts';
import { TreesyncError } from '../../../protocol/errors.ts';
import { web } from './web-apis.ts';

export type StorageKind = 'memory' | 'opfs' | 'idb';
export type PersistentStorageKind = Exclude<StorageKind, 'memory'>;

export const STORAGE_KINDS: readonly StorageKind[] = ['memory', 'opfs', 'idb'];

/** A persistent replica's name: a tree id's alphabet, since it names files, an IndexedDB
 * database and a lock, and openTree names replicas after their tree. */
export const REPLICA_NAME = TREE_ID;

export function opfsAvailable(): boolean {
  const g = web();
  return typeof g.navigator?.storage?.getDirectory === 'function' && typeof g.FileSystemFileHandle?.prototype?.createSyncAccessHandle === 'function';
}

export function idbAvailable(): boolean {
  return typeof web().indexedDB?.open === 'function';
}

/** The storage a request gets here: `opfs` falls back to `idb` where OPFS is missing; a
 * storage this context cannot have is a clear error. */
export function resolveStorage(requested: PersistentStorageKind): PersistentStorageKind {
  if (requested === 'opfs' && opfsAvailable()) return 'opfs';
  if (idbAvailable()) return 'idb';
  throw new TreesyncError('invalid_request', `storage ${requested} is not available here: neither OPFS (a dedicated worker in a secure context) nor IndexedDB`);
}

export function checkStorageOptions(options: { storage?: unknown; name?: unknown }): void {
  if (!STORAGE_KINDS.includes(options.storage as StorageKind)) {
    throw new TreesyncError('invalid_request', `storage must be one of ${STORAGE_KINDS.join(', ')}, not ${JSON.stringify(options.storage)}`);
  }
  if (options.name !== undefined && (typeof options.name !== 'string' || !REPLICA_NAME.test(options.name))) {
    throw new TreesyncError('invalid_request', `a replica name is [A-Za-z0-9_-]{1,64}, not ${JSON.stringify(options.name)}`);
  }
}
