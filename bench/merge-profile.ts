/**
 * BENCH_PROFILE of the merge (issue 6): where the time of one batch goes, statement by
 * statement inside `apply_ops`, on a random tree of 200,000 nodes (× BENCH_SCALE).
 *
 *   npx tsx bench/merge-profile.ts
 *
 * An embedded Postgres (PG_MAJOR) with pg_stat_statements tracking nested statements (`track =
 * all`, and planning). After the tree is built, three workloads of 5 batches of 1,000 each
 * (BENCH_BATCHES sets how many):
 * in-order creations, re-parenting moves of random nodes, and the server's mixed push (88%
 * creations, 10% moves, 2% deletes, through the 3-argument text `apply_ops` with `seen`, after
 * `note_replica`, as server/db/group-commit.ts calls it). For each, the statements that took the
 * most time, with their calls and mean. A statement's time includes the statements it calls
 * (a `perform f(…)` includes all of f), so read the list as a tree. BENCH_MIGRATIONS_UPTO as in
 * bench:merge. Each workload's line also gives the CPU time of the Postgres backend per batch
 * (from /proc, Linux), which other load on the machine disturbs far less than wall time, and each
 * statement its shared buffers read per batch (hits and reads; a statement's include those of
 * what it calls), which load does not change at all: compare designs by them.
 */
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { TRASH, type Op } from '../protocol/ops.ts';
import { newPassword, startEmbeddedDb } from '../server/embedded-db.ts';
import { parsePgMajor } from '../server/pg-major.ts';
import { migrate } from '../sql/migrate.ts';
import { RandomTree } from './random-tree.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const UPTO = process.env.BENCH_MIGRATIONS_UPTO;
const NODES = Math.max(10_000, Math.round(200_000 * SCALE));
const BATCHES = Number(process.env.BENCH_BATCHES ?? 5);

async function main() {
  const dataDir = await mkdtemp(join(os.tmpdir(), 'treesync-pg-'));
  const sqlDir = await migrationsDir();
  const db = await startEmbeddedDb({
    dir: dataDir,
    password: newPassword(),
    pgMajor: parsePgMajor(process.env.PG_MAJOR),
    settings: ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all',
      'pg_stat_statements.track_planning=on', 'pg_stat_statements.max=5000'],
  });
  const client = new pg.Client({ connectionString: db.url });
  try {
    await client.connect();
    await client.query('create extension pg_stat_statements');
    await migrate(client, { dir: sqlDir.dir });
    const version = (await client.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]!.v;
    log(`Postgres ${version}${UPTO ? `, migrations up to ${UPTO}` : ''}; building a random tree of ${NODES.toLocaleString('en-US')} nodes`);
    await client.query(`select treesync.create_tree('random')`);
    const gen = new RandomTree('r', 7);
    while (gen.size < NODES) await apply(client, gen.creations(1000));

    await profile(client, 'in-order creations', () => apply(client, gen.creations(1000)));
    await profile(client, 're-parenting moves', () => apply(client, gen.reparents(1000)));
    await profile(client, 'server mix (88% creations, 10% moves, 2% deletes)', () => push(client, mixed(gen)));
  } finally {
    await client.end().catch(() => {});
    await db.stop();
    await rm(dataDir, { recursive: true, force: true });
    await sqlDir.done();
  }
}

async function apply(c: pg.Client, ops: Op[]) {
  await c.query('select treesync.apply_ops($1, $2::jsonb)', ['random', JSON.stringify(ops)]);
}

async function push(c: pg.Client, ops: Op[]) {
  const { rows } = await c.query<{ seq: string }>(`select seq from treesync.trees where id = 'random'`);
  await c.query('begin');
  await c.query(
    `select treesync.note_replica($1, 'r', $3, 'bench'), treesync.apply_ops($1, $2::text, $4::bigint)`,
    ['random', JSON.stringify(ops), ops[0]!.ts, rows[0]!.seq],
  );
  await c.query('commit');
}

/** 1,000 moves in ts order: 88% creations, 10% re-parentings, 2% deletes. */
function mixed(gen: RandomTree): Op[] {
  const out: Op[] = [];
  for (let i = 0; i < 1000; i++) {
    const roll = i % 50;
    if (roll < 44) out.push(...gen.creations(1));
    else if (roll < 49) out.push(...gen.reparents(1));
    else out.push({ ...gen.reparents(1)[0]!, parent: TRASH });
  }
  return out;
}

async function profile(c: pg.Client, what: string, batch: () => Promise<void>) {
  await batch(); // plans cached, as in a long-running server
  await c.query('select pg_stat_statements_reset()');
  const backend = (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
  const started = process.cpuUsage();
  const backendStarted = cpuMs(backend);
  const t0 = performance.now();
  for (let b = 0; b < BATCHES; b++) await batch();
  const wall = (performance.now() - t0) / BATCHES;
  const backendCpu = (cpuMs(backend) - backendStarted) / BATCHES;
  const cpu = process.cpuUsage(started);
  const { rows } = await c.query<{ q: string; calls: string; total: number; plan: number; rows: string; top: boolean; blks: string }>(
    `select regexp_replace(query, '\\s+', ' ', 'g') as q, calls, total_exec_time as total,
            total_plan_time as plan, rows, toplevel as top, shared_blks_hit + shared_blks_read as blks
       from pg_stat_statements
      where query not like '%pg_stat_statements%'
      order by total_exec_time + total_plan_time desc limit 30`,
  );
  log(`\n== ${what}: ${BATCHES} batches of 1,000, ${wall.toFixed(1)} ms per batch (wall; Postgres backend cpu ${backendCpu.toFixed(1)} ms; client cpu ${((cpu.user + cpu.system) / 1000 / BATCHES).toFixed(1)} ms)`);
  log('   ms/batch  plan/batch   calls/batch  buffers/batch  statement');
  for (const r of rows) {
    log(`${(r.total / BATCHES).toFixed(2).padStart(10)} ${(r.plan / BATCHES).toFixed(2).padStart(10)} ${(Number(r.calls) / BATCHES).toFixed(0).padStart(12)} ${(Number(r.blks) / BATCHES).toFixed(0).padStart(14)}  ${r.top ? '[top] ' : ''}${r.q.slice(0, 150)}`);
  }
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux; ticks of 10 ms):
 * the backend's own time, which other load on the machine disturbs far less than wall time. */
function cpuMs(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** The migrations folder, or a copy of it holding those up to BENCH_MIGRATIONS_UPTO. */
async function migrationsDir(): Promise<{ dir: string; done: () => Promise<void> }> {
  const all = fileURLToPath(new URL('../sql/', import.meta.url));
  if (!UPTO) return { dir: all, done: async () => {} };
  const dir = await mkdtemp(join(os.tmpdir(), 'treesync-sql-'));
  for (const f of await readdir(all)) if (f.endsWith('.sql') && f.slice(0, 6) <= UPTO) await cp(join(all, f), join(dir, f));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}

function log(msg: string) {
  process.stdout.write(`${msg}\n`);
}

await main();
