// `npm start` as a user runs it: a child process with no DATABASE_URL, so it starts the
// embedded Postgres in a data folder; data pushed before a stop is there after a restart, and
// SIGTERM stops everything and exits 0. Bad configuration stops the start with a message.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { move, set, ts } from '../merge/ops.ts';
import { call } from './harness.ts';
import { type StartedMain, spawnMain, startMain, stopLeftovers } from './main-process.ts';

afterEach(stopLeftovers);

async function stop(s: StartedMain): Promise<void> {
  const code = await s.stop('SIGTERM');
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

    const first = await startMain({ TREESYNC_DATA_DIR: dataDir });
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

    const second = await startMain({ TREESYNC_DATA_DIR: dataDir });
    expect((await call(second.url, 'GET', '/v1/trees/kept/state')).body).toEqual(before);
    const pulled = await call(second.url, 'GET', '/v1/trees/kept/pull?since=0');
    expect(pulled.body.ops.map((o: { ts: string }) => o.ts)).toEqual(ops.map((o) => o.ts));
    expect((await call(second.url, 'PUT', '/v1/trees/kept')).status).toBe(200);
    await stop(second);
  });
});

describe('a bad configuration stops the start', () => {
  test.each([
    [{ HOST: '0.0.0.0' }, 'HOST=0.0.0.0: without TREESYNC_JWT_SECRET'],
    [{ PORT: 'eighty' }, 'PORT="eighty": expected an integer'],
    [{ TREESYNC_JWT_SECRET: 'short' }, 'TREESYNC_JWT_SECRET: at least 32 characters'],
    [{ TREESYNC_DB_CONNECT_TIMEOUT_MS: '0' }, 'TREESYNC_DB_CONNECT_TIMEOUT_MS="0": expected an integer from 100'],
  ])('%o', async (env, message) => {
    const proc = spawnMain(env);
    expect(await proc.exited).toBe(2);
    expect(proc.stderr()).toContain(message);
  });
});
