/**
 * A snapshot server in a child process of its own (server-process-main.ts), so that its memory
 * can be measured without the reader's: the slow-reader test and the benchmark assert on it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ProcessMemory {
  rss: number;
  /** heapUsed + external (Buffers live outside the heap). */
  heap: number;
  /** Highest values sampled since the last reset. */
  peakRss: number;
  peakHeap: number;
}

export interface DoneMessage {
  type: 'done';
  ms: number;
  bytes: number;
  outcome: string;
  connection: string;
  error?: string;
}

export type ChildMessage =
  | { type: 'listening'; base: string }
  | { type: 'memory'; memory: ProcessMemory }
  | DoneMessage;

export type ParentMessage = { type: 'memory' } | { type: 'reset' } | { type: 'stop' };

export interface ServerProcess {
  pid: number;
  url(tree: string): string;
  /** Memory now and the peaks since the last reset. */
  memory(): Promise<ProcessMemory>;
  /** Collects garbage, then starts new peaks from the memory now, which it returns. */
  resetPeak(): Promise<ProcessMemory>;
  /** Snapshots finished so far (their connection given back). */
  done: DoneMessage[];
  stop(): Promise<void>;
}

export interface ServerProcessOptions {
  poolMax?: number;
  stallTimeoutMs?: number;
  gzipLevel?: number;
}

export async function startServerProcess(dbUrl: string, opts: ServerProcessOptions = {}): Promise<ServerProcess> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./server-process-main.ts', import.meta.url)), {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: {
      ...process.env,
      TREESYNC_TEST_DB_URL: dbUrl,
      ...(opts.poolMax ? { TREESYNC_TEST_POOL_MAX: String(opts.poolMax) } : {}),
      ...(opts.stallTimeoutMs ? { TREESYNC_TEST_STALL_MS: String(opts.stallTimeoutMs) } : {}),
      ...(opts.gzipLevel !== undefined ? { TREESYNC_TEST_GZIP_LEVEL: String(opts.gzipLevel) } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const done: DoneMessage[] = [];
  const waiting: Array<(memory: ProcessMemory) => void> = [];
  const base = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the snapshot server process exited (${code})`)));
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'listening') resolve(message.base);
      else if (message.type === 'memory') waiting.shift()?.(message.memory);
      else if (message.type === 'done') done.push(message);
    });
  });
  const ask = (message: ParentMessage) =>
    new Promise<ProcessMemory>((resolve) => {
      waiting.push(resolve);
      child.send(message);
    });
  return {
    pid: child.pid!,
    url: (tree) => `${base}/v1/trees/${encodeURIComponent(tree)}/snapshot`,
    memory: () => ask({ type: 'memory' }),
    resetPeak: () => ask({ type: 'reset' }),
    done,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.send({ type: 'stop' } satisfies ParentMessage);
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
