/**
 * `npm start` as a user runs it, for tests: `server/main.ts` in a child process of its own,
 * with a clean environment, its stderr collected.
 *
 * Waits wait for what they assert: `start` returns once main.ts has printed its whole start
 * message (it ends with `treesync: ready`, written at once), not at its first line.
 *
 * Every process started here is stopped by `stopLeftovers` (call it in `afterEach`), also when
 * the test failed half way: SIGTERM, then SIGKILL after a grace period, and the embedded
 * Postgres of a data folder killed too, so no run leaves a server or a Postgres behind holding
 * its folder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { readLock } from '../../server/embedded-db/lock-file.ts';

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

export interface MainProcess {
  child: ChildProcess;
  pid: number;
  /** What it wrote on stderr so far (the messages for people). */
  stderr(): string;
  /** What it wrote on stdout so far (the JSON log lines). */
  stdout(): string;
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** Resolves with the first match of `pattern` in stderr (now or later); rejects when the
   * process exits first or `timeoutMs` passes. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Sends `signal` (default SIGTERM) and waits for the exit (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

export interface StartedMain extends MainProcess {
  url: string;
}

/** The test run's environment without anything that would change what main.ts does. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of Object.keys(env)) {
    const ours = name === 'DATABASE_URL' || name === 'HOST' || name === 'PORT' || name.startsWith('TREESYNC_');
    if (ours && !(name in extra)) delete env[name];
  }
  return env;
}

const live = new Set<MainProcess>();
const dataDirs = new Set<string>();

/** Spawns main.ts; does not wait for anything. `dataDir` (TREESYNC_DATA_DIR) is remembered so
 * that `stopLeftovers` can stop its embedded Postgres. */
export function spawnMain(env: Record<string, string>, opts: { ownGroup?: boolean } = {}): MainProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: PROJECT,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, as a shell gives a job: a test can then signal the whole
    // group, as a terminal's Ctrl-C does.
    detached: opts.ownGroup ?? false,
  });
  if (env.TREESYNC_DATA_DIR) dataDirs.add(env.TREESYNC_DATA_DIR);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  let err = '';
  const waiters = new Set<() => void>();
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      live.delete(proc);
      resolve(code);
      for (const w of [...waiters]) w();
    }),
  );
  const proc: MainProcess = {
    child,
    pid: child.pid!,
    stderr: () => err,
    stdout: () => out,
    exited,
    waitFor: (pattern, timeoutMs = 90_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`main.ts did not print ${pattern} within ${timeoutMs} ms:\n${err}`));
        }, timeoutMs);
        const check = () => {
          const found = pattern.exec(err);
          const gone = child.exitCode !== null || child.signalCode !== null;
          if (!found && !gone) return;
          waiters.delete(check);
          clearTimeout(timer);
          if (found) resolve(found);
          else reject(new Error(`main.ts exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${err}`));
        };
        waiters.add(check);
        check();
      }),
    stop: async (signal = 'SIGTERM', graceMs = 30_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await Promise.race([exited, delay(graceMs, 'hung' as const)]);
      if (code !== 'hung') return code;
      child.kill('SIGKILL');
      return exited;
    },
  };
  live.add(proc);
  return proc;
}

/** Spawns main.ts and waits for its whole start message. */
export async function startMain(env: Record<string, string>, opts: { ownGroup?: boolean } = {}): Promise<StartedMain> {
  const proc = spawnMain({ PORT: '0', TREESYNC_LOG_LEVEL: 'warn', ...env }, opts);
  try {
    const [, url] = await proc.waitFor(/listening on (http:\/\/\S+)[\s\S]*\ntreesync: ready\n/);
    return Object.assign(proc, { url: url! });
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
}

/** The pid in `<dataDir>/postgres/postmaster.pid`, if there is one. */
export async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/** Waits until `pid` is gone (false if it is still there after `timeoutMs`). */
export async function waitGone(pid: number, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await delay(50);
  }
  return true;
}

/** Stops every main.ts still running (gracefully, then by force) and any embedded Postgres
 * left in a data folder a test used. For `afterEach`. */
export async function stopLeftovers(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop('SIGTERM', 15_000)));
  for (const dir of dataDirs) {
    const lock = await readLock(join(dir, 'postgres'));
    if (lock.state === 'running') {
      process.kill(lock.pid, 'SIGQUIT');
      await waitGone(lock.pid, 10_000);
    }
  }
  dataDirs.clear();
}
