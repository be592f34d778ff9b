/**
 * bench:merge, part (e): the merge on a random tree (bench/random-tree.ts) as it grows, the
 * workload of issue 6.
 *
 * - in-order creations in batches of 1,000 up to 1,000,000 nodes: moves/s around 10k, 100k,
 *   200k and 1M nodes (the 5 batches that end there), and the time of a batch at the end
 *   relative to one at the start (10k);
 * - re-parenting moves of random existing nodes, batches of 1,000 (cycle checks);
 * - late branches: 5,000 and 10,000 moves older than 100,000 logged ones.
 *
 * Sizes are multiplied by BENCH_SCALE; BENCH_LATE_ONLY=1 runs only the late branches (they do
 * not use the random tree). Where it can be read (an embedded Postgres on Linux), the
 * rows also give Postgres' CPU time (all its processes, bench/process-cpu.ts), which other load on
 * the machine disturbs far less than wall time.
 */
import type pg from 'pg';
import type { Op } from '../protocol/ops.ts';
import { postgresCpuMs } from './process-cpu.ts';
import { RandomTree } from './random-tree.ts';
import type { ResultRow } from './report.ts';

type Apply = (tree: string, ops: Op[]) => Promise<{ undone: number; skipped: number }>;

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

export async function scaling(db: pg.Pool, apply: Apply, scale: number, progress: (msg: string) => void): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  if (process.env.BENCH_LATE_ONLY !== '1') rows.push(...(await randomTree(db, apply, scale, progress)));
  for (const branch of [5_000, 10_000]) rows.push(await lateBranch(db, apply, scale, branch, progress));
  return rows;
}

/** The random tree's growth and re-parenting in it. */
async function randomTree(db: pg.Pool, apply: Apply, scale: number, progress: (msg: string) => void): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const total = Math.max(10_000, Math.round(1_000_000 * scale));
  await db.query(`select treesync.create_tree('random')`);
  const gen = new RandomTree('r', 7);
  const batchMs: number[] = [];
  const buildCpu = postgresCpuMs();
  while (gen.size < total) {
    const batch = gen.creations(1000);
    const started = performance.now();
    await apply('random', batch);
    batchMs.push(performance.now() - started);
    if (gen.size % 50_000 === 0) progress(`(e) random tree at ${fmt(gen.size)} nodes, last batch ${batchMs.at(-1)!.toFixed(0)} ms`);
  }
  /** moves/s over the 5 batches that end at `nodes`, and their mean batch time. */
  const around = (nodes: number) => {
    const end = Math.round(nodes / 1000);
    const window = batchMs.slice(Math.max(0, end - 5), end);
    const mean = window.reduce((a, b) => a + b, 0) / window.length;
    return { perSecond: 1000 / (mean / 1000), mean };
  };
  const checkpoints = [10_000, 100_000, 200_000, 1_000_000].filter((c) => c <= total);
  const start = around(10_000);
  const end = around(total);
  for (const c of checkpoints) {
    const at = around(c);
    rows.push({
      case: `(e) random tree: in-order creations, batches of 1,000, at ${fmt(c)} nodes`,
      figure: `${fmt(at.perSecond)} moves/s`,
      detail: `mean of the 5 batches ending there: ${at.mean.toFixed(1)} ms per batch`,
    });
  }
  rows.push({
    case: `(e) random tree: batch time at ${fmt(total)} nodes / at 10,000`,
    figure: `${(end.mean / start.mean).toFixed(2)}×`,
    detail: `${end.mean.toFixed(1)} ms / ${start.mean.toFixed(1)} ms (5-batch means); the whole build ${(batchMs.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} s${cpuPerBatch(buildCpu, batchMs.length)}`,
  });

  const reparentBatches = 20;
  let skipped = 0;
  const reparentStarted = performance.now();
  const reparentCpu = postgresCpuMs();
  for (let b = 0; b < reparentBatches; b++) skipped += (await apply('random', gen.reparents(1000))).skipped;
  const reparentSeconds = (performance.now() - reparentStarted) / 1000;
  const reparentCpuDetail = cpuPerBatch(reparentCpu, reparentBatches);
  rows.push({
    case: `(e) random tree of ${fmt(total)} nodes: re-parenting moves of random nodes, batches of 1,000`,
    figure: `${fmt((reparentBatches * 1000) / reparentSeconds)} moves/s`,
    detail: `${fmt(reparentBatches * 1000)} moves in ${reparentSeconds.toFixed(2)} s, ${fmt(skipped)} skipped as cycles${reparentCpuDetail}`,
  });
  progress(`(e) re-parenting: ${fmt((reparentBatches * 1000) / reparentSeconds)} moves/s`);
  return rows;
}

/** `branch` moves (scaled) of a replica that forked from a 1,000-node start, merged after
 * 100,000 (scaled) newer moves of another replica: all of those are undone and redone. */
async function lateBranch(db: pg.Pool, apply: Apply, scale: number, branch: number, progress: (msg: string) => void): Promise<ResultRow> {
  const logged = Math.max(1000, Math.round(100_000 * scale));
  const moves = Math.max(100, Math.round(branch * scale));
  const tree = `late-${branch}`;
  await db.query('select treesync.create_tree($1)', [tree]);
  const online = new RandomTree('online', 11);
  await apply(tree, online.creations(1000));
  const offline = online.fork('offline', 12, online.clock);
  for (let done = 0; done < logged; done += 1000) {
    await apply(tree, [...online.creations(800), ...online.reparents(Math.min(200, logged - done))]);
  }
  const ops = [...offline.creations(Math.round(moves * 0.8)), ...offline.reparents(moves - Math.round(moves * 0.8))];
  const started = performance.now();
  const cpu = postgresCpuMs();
  const result = await apply(tree, ops);
  const seconds = (performance.now() - started) / 1000;
  const cpuDetail = cpuPerBatch(cpu, 1, '');
  progress(`(e) late branch of ${moves}: ${seconds.toFixed(2)} s, ${result.undone} redone`);
  return {
    case: `(e) late branch: ${fmt(moves)} moves older than ${fmt(logged)} logged ones`,
    figure: `${seconds.toFixed(2)} s`,
    detail: `one push; ${fmt(result.undone)} logged moves undone and redone; random tree, 80% creations${cpuDetail}`,
  };
}

/** `; Postgres CPU … ms per batch` since `before` (postgresCpuMs; `what` follows the figure), or ''
 * where it cannot be read. */
function cpuPerBatch(before: number | undefined, batches: number, what = 'per batch'): string {
  const now = postgresCpuMs();
  if (before === undefined || now === undefined) return '';
  return `; Postgres CPU ${((now - before) / batches).toFixed(batches === 1 ? 0 : 1)} ms${what ? ` ${what}` : ''}`;
}
