/**
 * `postmaster.pid`, the lock file a running Postgres keeps in its data folder. After a crash
 * (kill -9 of the server and of Postgres, a power cut in a container) it stays behind. Postgres
 * itself ignores one whose process is gone, but not one whose pid now belongs to some other
 * process (after a reboot or in a fresh container, pids are handed out again from the start):
 * it then refuses to start, "lock file already exists". And when the Postgres it names does
 * run (another `npm start` on the same folder, or one left running), the start must stop with
 * a message that says so.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export type LockState = { state: 'none' } | { state: 'stale'; pid: number } | { state: 'running'; pid: number };

/** What the lock file of `dataDir` says, checked against the running processes. */
export async function readLock(dataDir: string): Promise<LockState> {
  let text: string;
  try {
    text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return { state: 'none' };
    throw err;
  }
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  // An empty or torn file: a Postgres that died while writing it.
  if (!Number.isInteger(pid) || pid <= 0) return { state: 'stale', pid: 0 };
  return (await isPostgres(pid)) ? { state: 'running', pid } : { state: 'stale', pid };
}

/** Removes a stale lock file; throws a clear message for a live one. */
export async function clearStaleLock(dataDir: string): Promise<void> {
  const lock = await readLock(dataDir);
  if (lock.state === 'none') return;
  if (lock.state === 'running') {
    throw new Error(
      `a Postgres (pid ${lock.pid}) is already running on ${dataDir}: another \`npm start\` may be using ` +
        `this data folder, or one was left running. Stop it (\`kill ${lock.pid}\`), or give this server ` +
        `another TREESYNC_DATA_DIR.`,
    );
  }
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
}

/** Whether `pid` is a running Postgres: alive, and (where /proc tells) named `postgres`. */
async function isPostgres(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive, but another user's process (a postgres run as the `postgres` user is one).
    if ((err as { code?: string }).code !== 'EPERM') return false;
  }
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const name = /^Name:\s*(.*)$/m.exec(status)?.[1]?.trim();
    // A zombie has exited already; it only waits for its parent to collect it.
    if (/^State:\s*Z/m.test(status)) return false;
    return name === 'postgres';
  } catch {
    // Linux: gone since the signal check. Elsewhere (no /proc) alive is all that can be
    // known: take it for a Postgres, the safe side.
    return process.platform !== 'linux';
  }
}
