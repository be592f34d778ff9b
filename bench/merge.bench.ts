/**
 * npm run bench:merge — what the merge in Postgres costs.
 *
 *   (a) in-order pushes: 200,000 moves in batches of 1,000 into a growing tree
 *   (b) late merge: a 10,000-move offline branch with old timestamps merged into a tree that
 *       has 100,000 newer moves (all of them undone and redone)
 *   (c) a 10,000-deep chain: one move's cycle check, the worst case (top under bottom)
 *   (d) 8 connections pushing at once, to one tree and to 8 trees
 *   (e) a random tree growing to 1,000,000 nodes, re-parenting in it, late branches
 *       (merge-scaling.ts)
 *
 * Runs against DATABASE_URL if set, else an embedded Postgres with durable settings (fsync on),
 * of version PG_MAJOR (default 18). Prints a table and writes it to
 * bench/results/merge-pg<major>.md. BENCH_SCALE=0.1 runs a tenth of it; BENCH_CASES=a,e runs
 * only those parts; BENCH_MIGRATIONS_UPTO=000002 migrates only that far (to measure the merge
 * as it was before a migration; the file name then says so).
 */
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate } from '../sql/migrate.ts';
import { startCluster } from '../test/pg/cluster.ts';
import { dbUrl, ident, withClient } from '../test/pg/admin.ts';
import { formatTs, type MoveOp, type Op } from '../protocol/ops.ts';
import { GrowingTree } from './growing-tree.ts';
import { scaling } from './merge-scaling.ts';
import { machine, postgres, type ResultRow, writeResults } from './report.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const n = (count: number) => Math.max(1, Math.round(count * SCALE));
const CASES = new Set((process.env.BENCH_CASES ?? 'a,b,c,d,e').split(','));
const UPTO = process.env.BENCH_MIGRATIONS_UPTO;

/** The migrations folder, or a copy of it holding those up to BENCH_MIGRATIONS_UPTO. */
async function migrationsDir(): Promise<{ dir: string; done: () => Promise<void> }> {
  const all = fileURLToPath(new URL('../sql/', import.meta.url));
  if (!UPTO) return { dir: all, done: async () => {} };
  const dir = await mkdtemp(join(os.tmpdir(), 'treesync-sql-'));
  for (const f of await readdir(all)) if (f.endsWith('.sql') && f.slice(0, 6) <= UPTO) await cp(join(all, f), join(dir, f));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}


async function main() {
  const cluster = await startCluster({ durable: true });
  const name = `treesync_bench_${process.pid}`;
  await withClient(cluster.url, (c) => c.query(`create database ${ident(name)}`));
  const pool = new pg.Pool({ connectionString: dbUrl(cluster.url, name), max: 10 });
  const rows: ResultRow[] = [];
  let version = '';
  try {
    const migrations = await migrationsDir();
    await withClient(dbUrl(cluster.url, name), (c) => migrate(c, { dir: migrations.dir })).finally(migrations.done);
    version = (await pool.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]!.v;
    progress(`Postgres ${version}${UPTO ? `, migrations up to ${UPTO}` : ''}`);
    if (CASES.has('a')) rows.push(await inOrder(pool));
    if (CASES.has('b')) rows.push(await lateMerge(pool));
    if (CASES.has('c')) rows.push(...(await chain(pool)));
    if (CASES.has('d')) rows.push(...(await concurrent(pool)));
    if (CASES.has('e')) rows.push(...(await scaling(pool, (tree, ops) => apply(pool, tree, ops), SCALE, progress)));
  } finally {
    await pool.end();
    await withClient(cluster.url, (c) => c.query(`drop database if exists ${ident(name)} with (force)`));
    await cluster.stop();
  }
  await report(rows, cluster.kind, version);
}

async function apply(db: pg.Pool | pg.PoolClient, tree: string, ops: Op[]) {
  const { rows } = await db.query<{ r: { skipped: number; undone: number } }>(
    'select treesync.apply_ops($1, $2::jsonb) as r',
    [tree, JSON.stringify(ops)],
  );
  return rows[0]!.r;
}

async function newTree(db: pg.Pool, tree: string) {
  await db.query('select treesync.create_tree($1)', [tree]);
}

async function inOrder(db: pg.Pool): Promise<ResultRow> {
  const total = n(200_000);
  await newTree(db, 'in-order');
  const tree = new GrowingTree('pusher', 1);
  const started = performance.now();
  let skipped = 0;
  for (let done = 0; done < total; done += 1000) {
    skipped += (await apply(db, 'in-order', tree.moves(Math.min(1000, total - done)))).skipped;
  }
  const seconds = (performance.now() - started) / 1000;
  progress(`(a) ${total} moves in ${seconds.toFixed(2)} s`);
  return {
    case: '(a) in-order pushes, batches of 1,000',
    figure: `${Math.round(total / seconds).toLocaleString('en-US')} moves/s`,
    detail: `${total.toLocaleString('en-US')} moves in ${seconds.toFixed(2)} s; ${tree.mix()}; ${skipped} skipped; final depth ${tree.depth()}`,
  };
}

async function lateMerge(db: pg.Pool): Promise<ResultRow> {
  const online = n(100_000);
  const offline = n(10_000);
  await newTree(db, 'late');
  // A shared start: 1,000 nodes both replicas know, then the offline replica leaves.
  const onlineTree = new GrowingTree('online', 2);
  await apply(db, 'late', onlineTree.moves(1000, { createOnly: true }));
  // Everything the offline replica does is older than what the online one does next.
  const offlineTree = onlineTree.fork('offline', 3, 10_000);
  onlineTree.setClock(1_000_000);
  for (let done = 0; done < online; done += 1000) await apply(db, 'late', onlineTree.moves(1000));
  const branch = offlineTree.moves(offline);
  const started = performance.now();
  const result = await apply(db, 'late', branch);
  const seconds = (performance.now() - started) / 1000;
  progress(`(b) merged ${offline} late moves in ${seconds.toFixed(2)} s, ${result.undone} redone`);
  return {
    case: '(b) late merge of an offline branch',
    figure: `${seconds.toFixed(2)} s`,
    detail: `${offline.toLocaleString('en-US')} old moves into a tree of ${online.toLocaleString('en-US')} newer moves; ${result.undone.toLocaleString('en-US')} moves undone and redone; ${onlineTree.mix()}`,
  };
}

async function chain(db: pg.Pool): Promise<ResultRow[]> {
  const depth = n(10_000);
  await newTree(db, 'chain');
  const ts = (i: number) => formatTs(1_700_000_000_000 + i, 0, 'chain');
  const ops: MoveOp[] = Array.from({ length: depth }, (_, i) => ({
    ts: ts(i), type: 'move', node: `c${i}`, parent: i ? `c${i - 1}` : 'ROOT', pos: '',
  }));
  for (let i = 0; i < depth; i += 1000) await apply(db, 'chain', ops.slice(i, i + 1000));
  const client = await db.connect();
  const time = async (build: (i: number) => MoveOp, times: number) => {
    const samples: number[] = [];
    for (let i = 0; i < times; i++) {
      const op = build(i);
      const started = performance.now();
      await apply(client, 'chain', [op]);
      samples.push(performance.now() - started);
    }
    return median(samples);
  };
  try {
    let at = depth + 10;
    const cycle = await time(() => ({ ts: ts(at++), type: 'move', node: 'c0', parent: `c${depth - 1}`, pos: '' }), 21);
    const leaf = await time((i) => ({ ts: ts(at++), type: 'move', node: `c${depth - 1}`, parent: `c${depth - 2}`, pos: `p${i}` }), 21);
    const mid = await time((i) => ({ ts: ts(at++), type: 'move', node: `m${i}`, parent: `c${depth - 1}`, pos: '' }), 21);
    // The proof of concept's figure (1.7 ms per move on chains, with its depth cap of 100):
    // moves of nodes of a 100-deep chain under other nodes of it, 1,000 to a push, each
    // checking for a cycle over up to 100 levels.
    await newTree(db, 'chain-100');
    const short: MoveOp[] = Array.from({ length: 100 }, (_, i) => ({
      ts: ts(i), type: 'move', node: `s${i}`, parent: i ? `s${i - 1}` : 'ROOT', pos: '',
    }));
    await apply(client, 'chain-100', short);
    let x = 7;
    const rand = (k: number) => (x = (x * 1103515245 + 12345) & 0x7fffffff) % k;
    const batches = 10;
    let skippedShort = 0;
    const startedShort = performance.now();
    for (let b = 0; b < batches; b++) {
      const batch: MoveOp[] = Array.from({ length: 1000 }, () => ({
        ts: ts(at++), type: 'move', node: `s${rand(100)}`, parent: `s${rand(100)}`, pos: `p${rand(10)}`,
      }));
      skippedShort += (await apply(client, 'chain-100', batch)).skipped;
    }
    const perMove = (performance.now() - startedShort) / (batches * 1000);
    progress(`(c) cycle check over ${depth} levels: ${cycle.toFixed(2)} ms; ${perMove.toFixed(3)} ms per move on a 100-deep chain`);
    return [
      {
        case: `(c) ${depth.toLocaleString('en-US')}-deep chain: top under bottom (cycle, skipped)`,
        figure: `${cycle.toFixed(2)} ms`,
        detail: `one push of one move, median of 21; walks all ${depth.toLocaleString('en-US')} ancestors (${((cycle * 1000) / depth).toFixed(2)} µs per level)`,
      },
      {
        case: '(c) 100-deep chain: moves of its nodes under one another, 1,000 per push',
        figure: `${perMove.toFixed(3)} ms per move`,
        detail: `${batches * 1000} moves, ${skippedShort} skipped as cycles; the proof of concept took about 1.7 ms per move on chains`,
      },
      {
        case: '(c) same chain: a move that changes only the order key',
        figure: `${leaf.toFixed(2)} ms`,
        detail: 'one push of one move, median of 21 (no walk needed)',
      },
      {
        case: '(c) same chain: a new node under the bottom',
        figure: `${mid.toFixed(2)} ms`,
        detail: 'one push of one move, median of 21 (a creation needs no walk)',
      },
    ];
  } finally {
    client.release();
  }
}

async function concurrent(db: pg.Pool): Promise<ResultRow[]> {
  const perClient = n(20_000);
  const run = async (trees: string[]) => {
    for (const t of new Set(trees)) await newTree(db, t);
    const started = performance.now();
    await Promise.all(
      trees.map(async (tree, i) => {
        const gen = new GrowingTree(`w${i}`, 10 + i, 0, 'realtime');
        for (let done = 0; done < perClient; done += 1000) await apply(db, tree, gen.moves(1000, { createOnly: true }));
      }),
    );
    return (trees.length * perClient) / ((performance.now() - started) / 1000);
  };
  const one = await run(Array.from({ length: 8 }, () => 'shared'));
  const eight = await run(Array.from({ length: 8 }, (_, i) => `own-${i}`));
  const single = await run(['alone']);
  progress(`(d) 1 tree: ${Math.round(one)} moves/s, 8 trees: ${Math.round(eight)} moves/s`);
  const fmt = (x: number) => `${Math.round(x).toLocaleString('en-US')} moves/s`;
  return [
    { case: '(d) 1 connection, 1 tree (for comparison)', figure: fmt(single), detail: `${perClient.toLocaleString('en-US')} creations per connection in batches of 1,000, real-time clocks` },
    { case: '(d) 8 connections, 1 shared tree', figure: fmt(one), detail: 'merges of one tree are serialised by its row lock; batches made at the same moment arrive late and redo each other' },
    { case: '(d) 8 connections, 8 trees', figure: fmt(eight), detail: `total; ${os.cpus().length} cores` },
  ];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function progress(msg: string) {
  console.error(`[bench:merge] ${msg}`);
}

async function report(rows: ResultRow[], kind: string, version: string) {
  const scale = SCALE !== 1 ? ` Scale ${SCALE}.` : '';
  const upto = UPTO ? ` Migrations up to ${UPTO} only.` : '';
  // A run of the late branches alone writes a file of its own, not over the whole case's.
  const late = process.env.BENCH_LATE_ONLY === '1' ? '-late' : '';
  const cases = process.env.BENCH_CASES ? ` Parts ${process.env.BENCH_CASES}${late ? ' (late branches only)' : ''}.` : '';
  const file = `merge-pg${version.split('.')[0]}${late}${UPTO ? `-upto-${UPTO}` : ''}${SCALE !== 1 ? `-scale-${SCALE}` : ''}`;
  await writeResults(file, [`Machine: ${machine()}; other work was running on it (figures are noisy). Postgres: ${postgres(kind, version)}.${scale}${upto}${cases}`], rows);
}

await main();
