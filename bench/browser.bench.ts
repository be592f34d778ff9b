/**
 * bench:browser — the replica in headless Chromium (Debian's chromium, playwright-core; the
 * harness of test/browser/), figures measured inside the page:
 *
 * - the two OPFS VFSs that run on wa-sqlite's synchronous build, opened new and reopened with
 *   20,000 nodes (median of ROUNDS, alternating which goes first): how open-opfs.ts chose;
 * - 200,000 node creations applied through the pinned Replica interface into an OPFS replica,
 *   in batches of 10,000: rows/s; then the replica reopened and read back;
 * - a bootstrap of a 200,000-node tree (one field per node, one logged move per node: 600,002
 *   rows) from a server process on embedded Postgres, through the page's own origin, into OPFS
 *   and into memory: seconds, rows/s. The tree is written with SQL (test/snapshot/);
 * - the demo outliner's latencies (browser-latency.ts): a local edit to the page showing it,
 *   and an edit in one page to another page showing it through the server: p50/p99.
 *
 * BENCH_SCALE (default 1) scales the node counts, not the latency rounds.
 * Results go to bench/results/browser.md. The machine is shared (2 cores, other work running):
 * the load averages around the run are written beside the figures.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { CHROMIUM_PATH } from '../test/browser/chromium.ts';
import { startHarness } from '../test/browser/harness.ts';
import type { VfsTiming } from '../test/browser/page/vfs-bench-worker.ts';
import pg from 'pg';
import { migrate } from '../sql/migrate.ts';
import { dbUrl, ident, withClient } from '../test/pg/admin.ts';
import { startCluster } from '../test/pg/cluster.ts';
import { startServerProcess, type ServerProcess } from '../test/snapshot/server-process.ts';
import { insertSyntheticTree } from '../test/snapshot/synthetic-tree.ts';
import { measureLatency, quantile, type Sample } from './browser-latency.ts';
import { machine, postgres, writeResults } from './report.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const scaled = (n: number, step: number) => Math.max(step, Math.round((n * SCALE) / step) * step);
const ROUNDS = 9;
const VFS_NODES = scaled(20_000, 1_000);
const BULK_NODES = scaled(200_000, 10_000);
const BULK_BATCH = 10_000;
const BOOT_NODES = scaled(200_000, 1_000);
const LATENCY_ROUNDS = 50;
const JOURNAL_ROUNDS = 3;
const JOURNAL_EDITS = 100;
const LATENCY_ITEMS = 30;
const TREE = 'bench-browser';

type Bench = {
  timeVfs(vfs: string, name: string, nodes: number): Promise<VfsTiming>;
  bulkCreate(storage: string, name: string, total: number, batch: number): Promise<{ storage: string; applied: number; seconds: number }>;
  reopenAndRead(name: string): Promise<{ openMs: number; readMs: number; nodes: number }>;
  bootstrapInto(storage: string, name: string, tree: string): Promise<{ storage: string; seconds: number; rows: number; bytes: number; seq: number; events: number }>;
  editCost(journalMode: string, name: string, edits: number): Promise<number[]>;
};

function inPage<T>(page: Page, call: (bench: Bench, arg: unknown[]) => Promise<T>, ...arg: unknown[]): Promise<T> {
  return page.evaluate(
    ([source, arg]) => {
      const bench = (globalThis as unknown as { bench: Bench }).bench;
      // The call's source crosses as text: page.evaluate passes one function only.
      return (new Function('bench', 'arg', `return (${source})(bench, arg)`) as (b: Bench, a: unknown[]) => Promise<T>)(bench, arg);
    },
    [call.toString(), arg] as [string, unknown[]],
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;

const loadBefore = os.loadavg();
const version = (await promisify(execFile)(CHROMIUM_PATH, ['--version'])).stdout.trim();
const cluster = await startCluster({ durable: true });
const dbName = `treesync_bench_browser_${process.pid}`;
let server: ServerProcess | undefined;
let harness: Awaited<ReturnType<typeof startHarness>> | undefined;
try {
  await withClient(cluster.url, (c) => c.query(`create database ${ident(dbName)}`));
  const url = dbUrl(cluster.url, dbName);
  await withClient(url, (c) => migrate(c));
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  await insertSyntheticTree(pool, TREE, { nodes: BOOT_NODES, fieldsPerNode: 1, valueChars: 40 });
  await pool.end();
  server = await startServerProcess(url);
  const base = server.url(TREE).replace(`/v1/trees/${TREE}/snapshot`, '');
  harness = await startHarness(new URL('../test/browser/page/bench-page.ts', import.meta.url).pathname, base);
  const page = await harness.openPage();
  const timings: Record<string, VfsTiming[]> = { 'access-handle-pool': [], 'coop-sync': [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['access-handle-pool', 'coop-sync'] : ['coop-sync', 'access-handle-pool'];
    for (const vfs of order) {
      const t = await inPage(page, (b, [vfs, name, n]) => b.timeVfs(vfs as string, name as string, n as number), vfs, `vfs-${vfs}-${round}`, VFS_NODES);
      timings[vfs]!.push(t);
      console.log(`round ${round + 1}: ${vfs} create ${ms(t.createMs)}, fill ${ms(t.fillMs)}, reopen ${ms(t.reopenMs)}`);
    }
  }

  // A local edit's transaction in OPFS by rollback journal mode (open-opfs.ts chose persist).
  const journal: Record<string, number[]> = { delete: [], persist: [], truncate: [] };
  for (let round = 0; round < JOURNAL_ROUNDS; round++) {
    const modes = Object.keys(journal);
    for (const mode of round % 2 === 0 ? modes : modes.reverse()) {
      const t = await inPage(page, (b, [mode, name, n]) => b.editCost(mode as string, name as string, n as number), mode, `journal-${mode}-${round}`, JOURNAL_EDITS);
      journal[mode]!.push(...t);
    }
  }
  for (const [mode, ts] of Object.entries(journal)) console.log(`edit in OPFS, journal_mode ${mode}: p50 ${ms(quantile(ts, 0.5))}, p90 ${ms(quantile(ts, 0.9))}`);

  const bulkIn = (storage: string) =>
    inPage(page, (b, [storage, name, n, batch]) => b.bulkCreate(storage as string, name as string, n as number, batch as number), storage, 'bulk', BULK_NODES, BULK_BATCH);
  const bulk = await bulkIn('opfs');
  console.log(`bulk: ${bulk.applied} nodes in ${bulk.seconds.toFixed(2)} s into ${bulk.storage}`);
  if (bulk.applied !== BULK_NODES || bulk.storage !== 'opfs') throw new Error(`bulk apply: ${JSON.stringify(bulk)}`);
  const reread = await inPage(page, (b, [name]) => b.reopenAndRead(name as string), 'bulk');
  if (reread.nodes !== BULK_NODES + 2) throw new Error(`reopened bulk replica has ${reread.nodes} nodes`);
  // The same in memory: what the merge costs without the storage.
  const inMemory = await bulkIn('memory');
  console.log(`bulk: ${inMemory.applied} nodes in ${inMemory.seconds.toFixed(2)} s into ${inMemory.storage}`);
  const bootIn = async (storage: string) => {
    const b = await inPage(page, (b, [storage, name, tree]) => b.bootstrapInto(storage as string, name as string, tree as string), storage, `boot-${storage}`, TREE);
    console.log(`bootstrap: ${b.rows} rows (${b.bytes} bytes) in ${b.seconds.toFixed(2)} s into ${b.storage}, ${b.events} progress events`);
    if (b.storage !== storage || b.rows !== BOOT_NODES * 3 + 2) throw new Error(`bootstrap: ${JSON.stringify(b)}`);
    return b;
  };
  const bootOpfs = await bootIn('opfs');
  const bootMemory = await bootIn('memory');
  const bootReread = await inPage(page, (b, [name]) => b.reopenAndRead(name as string), 'boot-opfs');
  if (bootReread.nodes !== BOOT_NODES + 2) throw new Error(`reopened bootstrapped replica has ${bootReread.nodes} nodes`);
  await harness.close();
  harness = undefined;

  const loadLatency = os.loadavg();
  const latency = await measureLatency(url, { rounds: LATENCY_ROUNDS, items: LATENCY_ITEMS });
  const pct = (xs: Sample[], pick: (s: Sample) => number) => `p50 ${ms(quantile(xs.map(pick), 0.5))}, p99 ${ms(quantile(xs.map(pick), 0.99))}`;
  for (const [kind, xs] of [['local', latency.local], ['remote', latency.remote]] as const) {
    console.log(`latency ${kind}: painted ${pct(xs, (s) => s.frame)}; DOM ${pct(xs, (s) => s.dom)}; change event ${pct(xs, (s) => s.event)}`);
  }
  console.log(
    `latency local, confirmed: painted from the replica ${pct(latency.local, (s) => s.confirmed ?? Number.NaN)}; the worker's answer ${pct(latency.local, (s) => s.committed ?? Number.NaN)}`,
  );
  const loadAfter = os.loadavg();
  const bootRow = (b: typeof bootOpfs) => ({
    case: `bootstrap of a ${BOOT_NODES.toLocaleString('en')}-node tree into ${b.storage === 'opfs' ? 'OPFS' : 'memory'}`,
    figure: `${b.seconds.toFixed(2)} s, ${Math.round(b.rows / b.seconds).toLocaleString('en')} rows/s`,
    detail: `${b.rows.toLocaleString('en')} rows (nodes, fields, logged moves), ${(b.bytes / 1e6).toFixed(1)} MB of stream, ${Math.round(BOOT_NODES / b.seconds).toLocaleString('en')} nodes/s; ${b.events} progress events`,
  });

  const vfsRow = (vfs: string) => {
    const ts = timings[vfs]!;
    return {
      case: `OPFS ${vfs} (${vfs === 'access-handle-pool' ? 'AccessHandlePoolVFS' : 'OPFSCoopSyncVFS'})`,
      figure: `create ${ms(median(ts.map((t) => t.createMs)))}, reopen ${ms(median(ts.map((t) => t.reopenMs)))}`,
      detail: `median of ${ROUNDS}; filling ${VFS_NODES.toLocaleString('en')} nodes in one batch ${ms(median(ts.map((t) => t.fillMs)))}`,
    };
  };
  await writeResults(
    'browser',
    [
      `Machine: ${machine()}; ${version}, headless, driven by playwright-core. Load average (1/5/15 min) before: ${loadBefore.map((l) => l.toFixed(2)).join(' / ')}, after: ${loadAfter.map((l) => l.toFixed(2)).join(' / ')} — a shared 2-core machine with other test runs going on: the figures are noisy.`,
      '',
      `Bootstrap: a server process (the snapshot route, test/snapshot/server-process-main.ts) on ${postgres(cluster.kind)}, the tree written with SQL (generate_series), the snapshot fetched by the replica's worker through the page's own origin (a pass-through on 127.0.0.1), timed from the call to the committed load.`,
      '',
      `Measured inside the page (performance.now()); "create" is a new replica: wa-sqlite module, VFS, database file, schema; "reopen" the same with a ${VFS_NODES.toLocaleString('en')}-node replica, up to its first read. BENCH_SCALE=${SCALE}.`,
      '',
      `Latencies: the demo outliner (npm run demo's page) with a ${LATENCY_ITEMS}-item outline, npm start's server (development mode, a child process) on the same Postgres, two headless Chromiums (two devices, each with its OPFS replica); ${LATENCY_ROUNDS} edits each, 30 ms apart: window.tree.set(id, 'text', …) in page A, timed to a MutationObserver (or an animation frame) seeing the text in the outline ("DOM") and to the requestAnimationFrame after it ("painted"); locally the demo draws the edit from the TreeClient's pending event (optimistic), and "confirmed" is the frame after it drew the same text from the replica (the worker committed it); across pages on performance.timeOrigin + performance.now(). Load average when they started: ${loadLatency.map((l) => l.toFixed(2)).join(' / ')}.`,
    ],
    [
      vfsRow('access-handle-pool'),
      vfsRow('coop-sync'),
      ...Object.entries(journal).map(([mode, ts]) => ({
        case: `a local edit's transaction in OPFS, journal_mode ${mode}${mode === 'persist' ? ' (the one used)' : ''}`,
        figure: `p50 ${ms(quantile(ts, 0.5))}, p90 ${ms(quantile(ts, 0.9))}`,
        detail: `${ts.length} sets of a field through LocalEdits (merge, outbox, clock; one transaction each, synchronous FULL) on a 1,000-node replica, ${JOURNAL_ROUNDS} rounds alternating the order`,
      })),
      {
        case: `${BULK_NODES.toLocaleString('en')} node creations into OPFS through Replica.apply`,
        figure: `${Math.round(BULK_NODES / bulk.seconds).toLocaleString('en')} rows/s`,
        detail: `${bulk.seconds.toFixed(2)} s, batches of ${BULK_BATCH.toLocaleString('en')}, ops generated in the page (not timed separately), each a move under ROOT or an earlier node`,
      },
      {
        case: 'the same into a memory replica, for comparison',
        figure: `${Math.round(BULK_NODES / inMemory.seconds).toLocaleString('en')} rows/s`,
        detail: `${inMemory.seconds.toFixed(2)} s: the merge's own cost, without the storage`,
      },
      bootRow(bootOpfs),
      bootRow(bootMemory),
      {
        case: 'reopen the bootstrapped OPFS replica and read every node',
        figure: `${ms(bootReread.openMs)} open, ${ms(bootReread.readMs)} read`,
        detail: `${bootReread.nodes.toLocaleString('en')} rows through nodes()`,
      },
      {
        case: 'local edit → visible in the demo page, drawn from the pending edit (target p50 ≤ 16 ms)',
        figure: `painted ${pct(latency.local, (s) => s.frame)}`,
        detail: `DOM ${pct(latency.local, (s) => s.dom)}: the page draws the edit inside the call (the pending event), the next frame paints it`,
      },
      {
        case: 'the same edit confirmed: drawn again from the replica after the worker committed it',
        figure: `painted ${pct(latency.local, (s) => s.confirmed ?? Number.NaN)}`,
        detail: `the worker's answer (the edit committed in the OPFS replica) ${pct(latency.local, (s) => s.committed ?? Number.NaN)}; the TreeClient's change event ${pct(latency.local, (s) => s.event)}`,
      },
      {
        case: 'edit in one page → visible in the other, through the server (target p50 ≤ 100 ms)',
        figure: `painted ${pct(latency.remote, (s) => s.frame)}`,
        detail: `DOM ${pct(latency.remote, (s) => s.dom)}; on the way: A's push acknowledged ${pct(latency.remote, (s) => s.acked ?? Number.NaN)}, B's change event (poke, pull, merge) ${pct(latency.remote, (s) => s.event)}`,
      },
      {
        case: 'reopen the OPFS replica and read every node',
        figure: `${ms(reread.openMs)} open, ${ms(reread.readMs)} read`,
        detail: `${reread.nodes.toLocaleString('en')} rows through nodes()`,
      },
    ],
  );
} finally {
  await harness?.close();
  await server?.stop();
  await withClient(cluster.url, (c) => c.query(`drop database if exists ${ident(dbName)} with (force)`)).catch(() => undefined);
  await cluster.stop();
}
