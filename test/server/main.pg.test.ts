// `npm start` as a user runs it: a child process with no DATABASE_URL, so it starts the
// embedded Postgres in a data folder; data pushed before a stop is there after a restart, and
// SIGTERM stops everything and exits 0. Bad configuration stops the start with a message.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { move, set, ts } from '../merge/ops.ts';
import { call } from './harness.ts';

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

interface Started {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** The environment of the test run without anything that would change what main.ts does. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of Object.keys(env)) {
    if ((name === 'DATABASE_URL' || name === 'HOST' || name === 'PORT' || name.startsWith('TREESYNC_')) && !(name in extra)) {
      delete env[name];
    }
  }
  return env;
}

function run(env: Record<string, string>): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: PROJECT,
    env: cleanEnv(env),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

async function start(dataDir: string): Promise<Started> {
  const proc = run({ TREESYNC_DATA_DIR: dataDir, PORT: '0', TREESYNC_LOG_LEVEL: 'warn' });
  const deadline = Date.now() + 90_000;
  for (;;) {
    const url = /listening on (http:\/\/\S+)/.exec(proc.stderr())?.[1];
    if (url) return { ...proc, url };
    if (proc.child.exitCode !== null) throw new Error(`main.ts exited ${proc.child.exitCode}:\n${proc.stderr()}`);
    if (Date.now() > deadline) {
      proc.child.kill('SIGKILL');
      throw new Error(`main.ts did not start:\n${proc.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(s: Started): Promise<void> {
  s.child.kill('SIGTERM');
  const code = await Promise.race([s.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
  if (code === 'hung') s.child.kill('SIGKILL');
  expect(code, s.stderr()).toBe(0);
  expect(s.stderr()).toContain('treesync: stopped');
}

describe('npm start on the embedded database', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'treesync-start-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test('push, stop, start again: the data is there; each stop is clean', { timeout: 180_000 }, async () => {
    const ops = [move(ts(0, 'keeper'), 'n1', 'ROOT', 'a'), set(ts(1, 'keeper'), 'n1', 'text', 'remember me')];

    const first = await start(dataDir);
    expect(first.stderr()).toContain('development mode');
    expect(first.stderr()).toContain(join(dataDir, 'postgres'));
    expect((await call(first.url, 'PUT', '/v1/trees/kept')).status).toBe(201);
    const pushed = await call(first.url, 'POST', '/v1/trees/kept/push', {
      body: { replica: 'keeper', seen: 0, floor: ops[0]!.ts, ops },
    });
    expect(pushed.body).toMatchObject({ seq: 2, accepted: 2 });
    const before = (await call(first.url, 'GET', '/v1/trees/kept/state')).body;
    await stop(first);
    // The embedded Postgres stopped with it.
    await expect(stat(join(dataDir, 'postgres', 'postmaster.pid'))).rejects.toThrow();

    const second = await start(dataDir);
    try {
      expect((await call(second.url, 'GET', '/v1/trees/kept/state')).body).toEqual(before);
      const pulled = await call(second.url, 'GET', '/v1/trees/kept/pull?since=0');
      expect(pulled.body.ops.map((o: { ts: string }) => o.ts)).toEqual(ops.map((o) => o.ts));
      expect((await call(second.url, 'PUT', '/v1/trees/kept')).status).toBe(200);
    } finally {
      await stop(second);
    }
  });
});

describe('a bad configuration stops the start', () => {
  test.each([
    [{ HOST: '0.0.0.0' }, 'HOST=0.0.0.0: without TREESYNC_JWT_SECRET'],
    [{ PORT: 'eighty' }, 'PORT="eighty": expected an integer'],
    [{ TREESYNC_JWT_SECRET: 'short' }, 'TREESYNC_JWT_SECRET: at least 32 characters'],
  ])('%o', async (env, message) => {
    const proc = run(env);
    expect(await proc.exited).toBe(2);
    expect(proc.stderr()).toContain(message);
  });
});
