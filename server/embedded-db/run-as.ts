/**
 * Postgres refuses to run as root. Started by root, the embedded Postgres runs as the
 * `postgres` system user (created when missing, as a package manager's postgres would be),
 * which owns the data folder; as anyone else it runs as that user, and none of this applies.
 *
 * That user must be able to reach both the programs (in node_modules) and the data folder:
 * every folder on the way must be searchable (x) by it. A project under /root (mode 700) is
 * not, and the start would fail with a bare `spawn … EACCES`; `checkReachable` says instead
 * which folder is in the way and what to do.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RunAs {
  uid: number;
  gid: number;
}

export const POSTGRES_USER = 'postgres';

/** The `postgres` user's ids, after creating the user if there is none. Root only. */
export async function postgresUser(): Promise<RunAs> {
  const ids = await lookup().catch(() => undefined);
  if (ids) return ids;
  try {
    await run('groupadd', ['--system', POSTGRES_USER]).catch(() => {}); // may exist without the user
    await run('useradd', ['--system', '--gid', POSTGRES_USER, '--no-create-home', POSTGRES_USER]);
  } catch (err) {
    throw new Error(
      `the embedded Postgres cannot run as root, and creating a \`${POSTGRES_USER}\` user for it failed ` +
        `(${err instanceof Error ? err.message.trim() : String(err)}); create one, run as another user, or set DATABASE_URL`,
    );
  }
  return lookup();
}

async function lookup(): Promise<RunAs> {
  const [uid, gid] = await Promise.all([
    run('id', ['-u', POSTGRES_USER]).then((r) => Number.parseInt(r.stdout, 10)),
    run('id', ['-g', POSTGRES_USER]).then((r) => Number.parseInt(r.stdout, 10)),
  ]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`no ids for ${POSTGRES_USER}`);
  return { uid, gid };
}

/** The mode bits and owners `firstBlocked` looks at. */
export interface FolderAccess {
  mode: number;
  uid: number;
  gid: number;
}

/**
 * The first folder from the root down to `path` (its parent folders, and `path` itself when
 * `includeSelf`) that `user` cannot search, or undefined when it can reach `path`. The owner
 * bits count for the owner, the group bits for the group, the other bits for the rest (the
 * user's supplementary groups are not known here, so a folder open only to one of them is
 * reported as blocked: the message then names it, which is still the folder to look at).
 */
export async function firstBlocked(
  path: string,
  user: RunAs,
  includeSelf: boolean,
  statFolder: (p: string) => Promise<FolderAccess | undefined> = statOrUndefined,
): Promise<string | undefined> {
  const folders: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    folders.unshift(p);
    if (dirname(p) === p) break;
  }
  if (!includeSelf) folders.pop();
  for (const folder of folders) {
    const s = await statFolder(folder);
    if (s === undefined) return undefined; // from here on it does not exist yet: made by us, for it
    if (!searchable(s, user)) return folder;
  }
  return undefined;
}

function searchable(s: FolderAccess, user: RunAs): boolean {
  if (user.uid === 0) return true;
  if (s.uid === user.uid) return (s.mode & 0o100) !== 0;
  if (s.gid === user.gid) return (s.mode & 0o010) !== 0;
  return (s.mode & 0o001) !== 0;
}

async function statOrUndefined(p: string): Promise<FolderAccess | undefined> {
  try {
    const s = await stat(p);
    return { mode: s.mode, uid: s.uid, gid: s.gid };
  } catch {
    return undefined;
  }
}

/** Throws a message naming the blocking folder when `user` cannot reach `what`. */
export async function checkReachable(what: { path: string; role: string; includeSelf: boolean }, user: RunAs): Promise<void> {
  const blocked = await firstBlocked(what.path, user, what.includeSelf);
  if (blocked === undefined) return;
  throw new Error(
    `the embedded Postgres runs as the \`${POSTGRES_USER}\` user (Postgres refuses to run as root), and that ` +
      `user cannot reach ${what.role} ${what.path}: the folder ${blocked} is not searchable by it. ` +
      `Move the project (and TREESYNC_DATA_DIR) to a folder every user can reach (e.g. /srv or /opt), ` +
      `or allow it with \`chmod o+x ${blocked}\`, or run as a user other than root, or set DATABASE_URL.`,
  );
}
