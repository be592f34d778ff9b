// The process around the embedded Postgres, as a user at a terminal meets it: closing the
// terminal (SIGHUP) stops everything cleanly; Ctrl-C reaches the server's process group but
// not Postgres, which the server stops last (no "connection lost" warnings); a Postgres that
// dies under the server is started again; a start after a
// kill -9 of both processes works; a Postgres still running on the folder is named; and, as
// root, a folder the `postgres` user cannot reach is refused with a message that says so.
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { move, ts } from '../merge/ops.ts';
import { call } from './harness.ts';
import { isAlive, postmasterPid, spawnMain, startMain, type StartedMain, stopLeftovers, waitGone } from './main-process.ts';

afterEach(stopLeftovers);

/** The process group of `pid`, from /proc (Linux). */
async function processGroup(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // pid (comm) state ppid pgrp …; comm may hold spaces, so count from its closing parenthesis.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

async function pushSomething(s: StartedMain, tree: string, n: number): Promise<void> {
  expect((await call(s.url, 'PUT', `/v1/trees/${tree}`)).status).toBeLessThan(300);
  const op = move(ts(n, 'term'), `n${n}`, 'ROOT', 'a');
  const res = await call(s.url, 'POST', `/v1/trees/${tree}/push`, { body: { replica: 'term', seen: 0, floor: op.ts, ops: [op] } });
  expect(res.status).toBe(200);
}

describe('npm start at a terminal', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'treesync-terminal-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test('SIGHUP (the terminal closed) stops the server and then Postgres, cleanly', { timeout: 120_000 }, async () => {
    const s = await startMain({ TREESYNC_DATA_DIR: dataDir });
    await pushSomething(s, 'hup', 1);
    const postgres = (await postmasterPid(dataDir))!;
    expect(isAlive(postgres)).toBe(true);
    expect(await s.stop('SIGHUP')).toBe(0);
    expect(s.stderr()).toContain('treesync: SIGHUP, stopping');
    expect(s.stderr()).toContain('treesync: stopped');
    expect(s.stdout()).not.toContain('connection lost');
    expect(await waitGone(postgres, 5_000)).toBe(true);
    await expect(stat(join(dataDir, 'postgres', 'postmaster.pid'))).rejects.toThrow();
  });

  test("Ctrl-C reaches the server's process group only; Postgres stops last, no warnings", { timeout: 120_000 }, async () => {
    const s = await startMain({ TREESYNC_DATA_DIR: dataDir }, { ownGroup: true });
    await pushSomething(s, 'ctrl-c', 2);
    await pushSomething(s, 'ctrl-c', 3); // idle pooled connections now exist
    const postgres = (await postmasterPid(dataDir))!;
    expect(await processGroup(s.pid)).toBe(s.pid);
    expect(await processGroup(postgres)).not.toBe(s.pid);

    process.kill(-s.pid, 'SIGINT'); // what a terminal does: the whole foreground group
    expect(await s.exited).toBe(0);
    expect(s.stderr()).toContain('treesync: stopped');
    expect(s.stdout()).not.toContain('connection lost');
    expect(s.stdout()).not.toContain('"level":"error"');
    expect(await waitGone(postgres, 5_000)).toBe(true);
  });

  test('Postgres killed under the running server is started again, and the server serves again', { timeout: 120_000 }, async () => {
    const s = await startMain({ TREESYNC_DATA_DIR: dataDir, TREESYNC_DB_CONNECT_TIMEOUT_MS: '1000' });
    await pushSomething(s, 'revived', 5);
    const postgres = (await postmasterPid(dataDir))!;
    process.kill(postgres, 'SIGKILL');
    expect(await waitGone(postgres)).toBe(true);
    const deadline = Date.now() + 90_000;
    while ((await call(s.url, 'GET', '/readyz')).status !== 200) {
      expect(Date.now(), s.stdout()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(s.child.exitCode).toBeNull();
    expect(await postmasterPid(dataDir)).not.toBe(postgres);
    expect(s.stdout()).toContain('embedded Postgres exited; starting it again');
    await pushSomething(s, 'revived', 6);
    const state = await call(s.url, 'GET', '/v1/trees/revived/state');
    expect(state.body.nodes.map((n: { id: string }) => n.id)).toEqual(expect.arrayContaining(['n5', 'n6']));
    expect(await s.stop()).toBe(0);
  });

  test('after a kill -9 of the server and of Postgres, npm start starts again', { timeout: 120_000 }, async () => {
    const first = await startMain({ TREESYNC_DATA_DIR: dataDir });
    await pushSomething(first, 'crash', 4);
    const postgres = (await postmasterPid(dataDir))!;
    first.child.kill('SIGKILL');
    process.kill(postgres, 'SIGKILL');
    expect(await waitGone(postgres)).toBe(true);
    expect(await first.exited).toBeNull();
    // The lock file stayed behind, naming a process that is gone.
    expect(await postmasterPid(dataDir)).toBe(postgres);

    const second = await startMain({ TREESYNC_DATA_DIR: dataDir });
    const state = await call(second.url, 'GET', '/v1/trees/crash/state');
    expect(state.body.nodes.map((n: { id: string }) => n.id)).toContain('n4');
    expect(await second.stop()).toBe(0);
  });

  test("a lock file whose pid now belongs to another process (pids reused) does not block the start", { timeout: 120_000 }, async () => {
    const lock = join(dataDir, 'postgres', 'postmaster.pid');
    // This test's own process: alive, and not a Postgres.
    await writeFile(lock, `${process.pid}\n${join(dataDir, 'postgres')}\n0\n5432\n\n127.0.0.1\n0 0\nready\n`);
    const s = await startMain({ TREESYNC_DATA_DIR: dataDir });
    expect((await call(s.url, 'GET', '/v1/trees/crash/state')).status).toBe(200);
    expect(await s.stop()).toBe(0);
  });

  test('a Postgres still running on the data folder gets a clear message', { timeout: 120_000 }, async () => {
    const first = await startMain({ TREESYNC_DATA_DIR: dataDir });
    const postgres = (await postmasterPid(dataDir))!;
    first.child.kill('SIGKILL'); // Postgres, in its own group, stays
    await first.exited;
    expect(isAlive(postgres)).toBe(true);

    const second = spawnMain({ TREESYNC_DATA_DIR: dataDir, PORT: '0' });
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`a Postgres (pid ${postgres}) is already running on ${join(dataDir, 'postgres')}`);
    expect(second.stderr()).toContain(`kill ${postgres}`);
    // stopLeftovers stops the orphan.
  });
});

describe.runIf(userInfo().uid === 0)('as root', () => {
  test('a data folder the postgres user cannot reach is refused with what to do', { timeout: 60_000 }, async () => {
    const outer = await mkdtemp(join(tmpdir(), 'treesync-private-'));
    try {
      await chmod(outer, 0o700);
      const dataDir = join(outer, 'data');
      await mkdir(dataDir);
      const s = spawnMain({ TREESYNC_DATA_DIR: dataDir, PORT: '0' });
      expect(await s.exited).toBe(1);
      expect(s.stderr()).toContain(`cannot reach the data folder ${join(dataDir, 'postgres')}`);
      expect(s.stderr()).toContain(`the folder ${outer} is not searchable by it`);
      expect(s.stderr()).toContain(`chmod o+x ${outer}`);
      expect(s.stderr()).not.toContain('EACCES');
    } finally {
      await rm(outer, { recursive: true, force: true });
    }
  });
});
