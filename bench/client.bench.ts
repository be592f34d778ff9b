/**
 * npm run bench:client — the client's replica (the real worker: worker_threads, comlink,
 * wa-sqlite in memory), four cases:
 *
 * 1. Bootstrap of a 1,000,000-node tree (1M nodes under a 10-ary hierarchy, 1M logged moves,
 *    one 40-character text field per node: 3M rows), written into Postgres with SQL
 *    (test/snapshot/synthetic-tree.ts) and served by the snapshot server in a process of its
 *    own over loopback, uncompressed: seconds, rows/s, the CPU time this process used (main
 *    thread + the worker: on a shared machine the part of the wall time that was the client's
 *    own work) and that of the server's process and of Postgres (from /proc, on Linux), the
 *    longest gap between progress events, and the peak RSS growth of this
 *    process (main thread + the worker; the server is elsewhere). Then the
 *    same tree by replaying its 2M operations (the creation moves and the sets, in pull-sized
 *    JSON pages of 10,000 parsed and applied through comlink; no network): the ratio.
 * 2. Applying 100,000 remote operations in order, batches of 1,000 (88% new nodes, 10% moves,
 *    2% deletes: bench/growing-tree.ts): ops/s.
 * 3. Local moves in that 100,000-node replica, each one call through comlink: p50/p99.
 * 4. A late batch: 1,000 operations older than the 100,000 logged ones (all undone and
 *    redone): seconds.
 *
 * Writes bench/results/client.md. BENCH_SCALE=0.1 runs a tenth of cases 1 and 2.
 * BENCH_CASES picks cases by name, comma-separated (default all): `bootstrap` (case 1 without
 * the replay), `replay` (case 1's replay; needs `bootstrap` for its ratio), `replica` (2-4).
 */
import pg from 'pg';
import { openLocalReplica, type LocalReplica } from '../client/index.ts';
import { formatTs, type Op } from '../protocol/ops.ts';
import { migrate } from '../sql/migrate.ts';
import { dbUrl, ident, withClient } from '../test/pg/admin.ts';
import { startCluster } from '../test/pg/cluster.ts';
import { startServerProcess } from '../test/snapshot/server-process.ts';
import { insertSyntheticTree } from '../test/snapshot/synthetic-tree.ts';
import { GrowingTree } from './growing-tree.ts';
import { machine, postgres, writeResults, type ResultRow } from './report.ts';
import { postmasterPid, readCpu } from './snapshot-cpu.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const NODES = Math.max(10, Math.round(1_000_000 * SCALE));
const REMOTE = Math.max(1_000, Math.round(100_000 * SCALE));
const TREE = 'million';
const MB = 1024 * 1024;
const SYNTHETIC_WALL = 1_700_000_000_000;
const CASES = new Set((process.env.BENCH_CASES ?? 'bootstrap,replay,replica').split(',').map((c) => c.trim()));
for (const c of CASES) if (!['bootstrap', 'replay', 'replica'].includes(c)) throw new Error(`BENCH_CASES: unknown case ${c}`);

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const progress = (line: string) => process.stderr.write(`${line}\n`);

/** Samples this process's RSS every 10 ms; `peak()` is the highest since `start()`. */
function rssSampler() {
  let peak = 0;
  let timer: NodeJS.Timeout | undefined;
  return {
    start() {
      peak = process.memoryUsage.rss();
      timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
    },
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/** The synthetic tree's operations, as a server would have stored them (see synthetic-tree.ts). */
function syntheticOps(nodes: number): Op[] {
  const id = (i: number) => `n${String(i).padStart(7, '0')}`;
  const ops: Op[] = [];
  for (let i = 1; i <= nodes; i++) {
    const parent = Math.floor(i / 10) === 0 ? 'ROOT' : id(Math.floor(i / 10));
    ops.push({ ts: formatTs(SYNTHETIC_WALL + i, 0, 'gen'), type: 'move', node: id(i), parent, pos: `a${i.toString(16)}` });
    ops.push({ ts: formatTs(SYNTHETIC_WALL + i, 1, 'gen'), type: 'set', node: id(i), key: 'k1', value: 'x'.repeat(40) });
  }
  return ops;
}

/** The same tree by replaying its operations, as pages of a pull, into a new replica. */
async function replay(rows: ResultRow[], bootstrapSeconds: number) {
  const ops = syntheticOps(NODES);
  const pages: string[] = [];
  for (let i = 0; i < ops.length; i += 10_000) pages.push(JSON.stringify({ seq: i, ops: ops.slice(i, i + 10_000), more: true }));
  const replica = await openLocalReplica();
  try {
    const t = performance.now();
    for (const page of pages) {
      const body = JSON.parse(page) as { ops: Op[] };
      for (let i = 0; i < body.ops.length; i += 1_000) await replica.apply(body.ops.slice(i, i + 1_000));
    }
    const seconds = (performance.now() - t) / 1000;
    progress(`replay: ${seconds.toFixed(2)} s`);
    rows.push({
      case: `the same tree by replaying its ${fmt(ops.length)} operations (JSON pages of 10,000, batches of 1,000)`,
      figure: `${seconds.toFixed(1)} s`,
      detail: `bootstrap is ${(seconds / bootstrapSeconds).toFixed(1)}× faster; ${fmt(ops.length / seconds)} ops/s`,
    });
  } finally {
    await replica.close();
  }
}

async function bootstrapCase(rows: ResultRow[]) {
  const cluster = await startCluster({ durable: true });
  const name = `treesync_bench_client_${process.pid}`;
  await withClient(cluster.url, (c) => c.query(`create database ${ident(name)}`));
  const url = dbUrl(cluster.url, name);
  const server = await (async () => {
    await withClient(url, (c) => migrate(c));
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    await insertSyntheticTree(pool, TREE, { nodes: NODES, fieldsPerNode: 1, valueChars: 40 });
    await pool.end();
    progress(`built a ${fmt(NODES)}-node tree with SQL`);
    return startServerProcess(url);
  })();
  try {
    const base = server.url(TREE).replace(`/v1/trees/${TREE}/snapshot`, '');
    let seconds = 0;
    // The server's process and the Postgres cluster (every backend) are measured from /proc:
    // the whole bootstrap's CPU is theirs and this process's.
    const roots = { server: server.pid, postgres: postmasterPid(url) };
    const replica = await openLocalReplica();
    try {
      // The replica's worker starts its bootstrap feed thread at its first bootstrap (which does
      // not wait for it) and uses it from the next: two small refused bootstraps first, so the
      // measured one runs in two threads as an app's first bootstrap in a browser does.
      for (let i = 0; i < 2; i++) await replica.bootstrap({ url: base, tree: 'no-such-tree', compression: false }).catch(() => undefined);
      const rss = rssSampler();
      global.gc?.();
      const before = process.memoryUsage.rss();
      let lastEvent = 0;
      let longestGap = 0;
      rss.start();
      const cpu = process.cpuUsage();
      const elsewhere = readCpu(roots);
      const started = performance.now();
      lastEvent = started;
      const result = await replica.bootstrap({ url: base, tree: TREE, compression: false }, () => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - lastEvent);
        lastEvent = now;
      });
      seconds = (performance.now() - started) / 1000;
      const cpuUsed = process.cpuUsage(cpu);
      const elsewhereAfter = readCpu(roots);
      const peak = rss.stop();
      const count = (await replica.nodes()).length;
      if (count !== NODES + 2) throw new Error(`the replica holds ${count} nodes, not ${NODES + 2}`);
      progress(`bootstrap: ${seconds.toFixed(2)} s`);
      const cpuOf = (label: string) =>
        elsewhere && elsewhereAfter && elsewhereAfter.trees[label] !== undefined ? `${(elsewhereAfter.trees[label]! - (elsewhere.trees[label] ?? 0)).toFixed(2)} s` : 'not measured';
      rows.push({
        case: `bootstrap of ${fmt(NODES)} nodes (${fmt(result.rows)} rows, ${fmt(result.bytes / MB, 1)} MB) from the server`,
        figure: `${seconds.toFixed(2)} s`,
        detail: `${fmt(result.rows / seconds)} rows/s; CPU of this process (main thread, worker${result.feedThread ? ' and its feed thread' : ''}) ${((cpuUsed.user + cpuUsed.system) / 1e6).toFixed(2)} s, of the server's process ${cpuOf('server')}, of Postgres ${cpuOf('postgres')}; longest gap between progress events ${fmt(longestGap)} ms; peak RSS growth (this process) ${fmt((peak - before) / MB)} MB, of which the replica's database ${fmt(result.databaseBytes / MB)} MB (its SQLite module's memory: ${fmt(result.sqliteMemoryBytes / MB)} MB)`,
      });

    } finally {
      await replica.close();
    }
    if (CASES.has('replay')) await replay(rows, seconds);
  } finally {
    await server.stop();
    await withClient(cluster.url, (c) => c.query(`drop database if exists ${ident(name)} with (force)`));
    await cluster.stop();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function replicaCases(rows: ResultRow[]) {
  const replica: LocalReplica = await openLocalReplica({ replica: 'bench' });
  try {
    // 2. Remote operations in order.
    const grower = new GrowingTree('remote', 1);
    const ops = grower.moves(REMOTE);
    const cpu = process.cpuUsage();
    const t = performance.now();
    for (let i = 0; i < ops.length; i += 1_000) await replica.apply(ops.slice(i, i + 1_000));
    const seconds = (performance.now() - t) / 1000;
    // CPU time is far less disturbed by other processes than wall time: it is what to compare
    // on a shared machine (this process: the main thread, the worker, V8's own threads).
    const cpuUsed = process.cpuUsage(cpu);
    const cpuPerBatch = (cpuUsed.user + cpuUsed.system) / 1000 / (ops.length / 1_000);
    progress(`remote apply: ${seconds.toFixed(2)} s`);
    rows.push({
      case: `${fmt(REMOTE)} remote operations in order, batches of 1,000 (${grower.mix()})`,
      figure: `${fmt(REMOTE / seconds)} ops/s`,
      detail: `${seconds.toFixed(2)} s; CPU of this process ${cpuPerBatch.toFixed(1)} ms per batch; tree depth ${grower.depth()}`,
    });

    // 3. Local moves through comlink: a node moved under ROOT or into the trash (never a
    //    cycle), placed after one of the new parent's children picked at random.
    const all = await replica.nodes();
    const nodes = all.filter((n) => n.parent !== null).map((n) => n.id);
    const under = { ROOT: all.filter((n) => n.parent === 'ROOT').map((n) => n.id), TRASH: all.filter((n) => n.parent === 'TRASH').map((n) => n.id) };
    const latencies: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      const id = nodes[(i * 7919) % nodes.length]!;
      const parent = i % 3 === 2 ? 'TRASH' : 'ROOT';
      const siblings = under[parent];
      const after = siblings.length > 0 ? siblings[(i * 104_729) % siblings.length] : undefined;
      if (after === id) continue;
      const started = performance.now();
      await replica.move(id, parent, after === undefined ? {} : { after });
      latencies.push(performance.now() - started);
      for (const list of Object.values(under)) {
        const at = list.indexOf(id);
        if (at >= 0) list.splice(at, 1);
      }
      siblings.push(id);
    }
    latencies.sort((a, b) => a - b);
    rows.push({
      case: `local move in a ${fmt(nodes.length)}-node replica, through comlink (${fmt(latencies.length)} moves)`,
      figure: `p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`,
      detail: `each: stamp, place, merge, outbox, commit`,
    });

    // 4. A late batch: older than every logged move.
    const late = Array.from({ length: 1_000 }, (_, i): Op => ({
      ts: formatTs(1_600_000_000_000 + i, 0, 'late'),
      type: 'move',
      node: i % 2 === 0 ? `late${i}` : nodes[(i * 104_729) % nodes.length]!,
      parent: i % 2 === 0 ? 'ROOT' : 'TRASH',
      pos: `z${i}`,
    }));
    const logged = (await replica.moveLog()).length;
    const lt = performance.now();
    const answer = await replica.apply(late);
    const lateSeconds = (performance.now() - lt) / 1000;
    rows.push({
      case: `a late batch: 1,000 operations older than ${fmt(logged)} logged moves`,
      figure: `${lateSeconds.toFixed(2)} s`,
      detail: `${fmt(answer.undone)} moves undone and redone`,
    });
  } finally {
    await replica.close();
  }
}

async function main() {
  const rows: ResultRow[] = [];
  if (CASES.has('replica')) await replicaCases(rows);
  if (CASES.has('bootstrap')) await bootstrapCase(rows);
  await writeResults(
    // A partial run writes a file of its own, so it never overwrites the full run's table.
    CASES.size === 3 ? 'client' : `client-${[...CASES].sort().join('-')}`,
    [
      `Machine: ${machine()}; ${postgres('embedded')} for the bootstrap's server. BENCH_SCALE=${SCALE}, BENCH_CASES=${[...CASES].join(',')}.`,
      'A shared 2-core virtual machine with other test runs going on: figures vary by a factor of two or more between runs.',
      'Targets: bootstrap of 1M nodes ≤ 5 s and ≥ 10× faster than replay; local move p50 ≤ 2 ms; remote apply ≥ 50,000 ops/s.',
    ],
    rows,
  );
}

await main();
