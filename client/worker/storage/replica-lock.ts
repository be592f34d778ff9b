/**
 * One owner per persistent replica: a Web Lock named after the replica, held by the worker
 * that opened it for as long as it stays open. The browser releases it when that worker
 * ends (its tab closed or reloaded) even if close() never ran.
 *
 * A second tab (or worker) of the same origin asking for the same replica waits up to
 * `waitMs` — a reloading tab's old worker may still be shutting down — and then gets a clear
 * error (`unavailable`, reason `replica_in_use`) instead of a second connection: two workers
 * applying merges and running sync loops on one database would each keep their own clock and
 * outbox cursor, and OPFS access handles are exclusive anyway.
 */
import { TreesyncError } from '../../../protocol/errors.ts';
import type { PersistentStorageKind } from './storage-kind.ts';
import { web } from './web-apis.ts';

/** How long a replica waits for another owner to let go before it refuses to open. */
export const DEFAULT_LOCK_WAIT_MS = 3_000;

export function lockName(name: string): string {
  return `treesync-replica:${name}`;
}

/** Takes the replica's lock; resolves with its release once held. */
export async function holdReplicaLock(storage: PersistentStorageKind, name: string, waitMs = DEFAULT_LOCK_WAIT_MS): Promise<() => void> {
  const locks = web().navigator?.locks;
  if (!locks) {
    throw new TreesyncError('invalid_request', `storage ${storage} needs Web Locks (navigator.locks: a secure context) to keep one owner per replica`);
  }
  const signal = AbortSignal.timeout(waitMs);
  return new Promise<() => void>((resolve, reject) => {
    locks
      .request(lockName(name), { signal }, () => new Promise<void>((release) => resolve(() => release())))
      .catch((err: unknown) => {
        if ((err as { name?: unknown } | null)?.name === 'TimeoutError' || signal.aborted) {
          reject(
            new TreesyncError(
              'unavailable',
              `the replica "${name}" is open in another tab or worker of this origin (waited ${waitMs} ms); close it there, or talk to it through that tab`,
              { reason: 'replica_in_use', name },
            ),
          );
        } else reject(err);
      });
  });
}
