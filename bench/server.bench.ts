/**
 * npm run bench:server — what the sync server adds on top of the merge: HTTP, auth, parsing,
 * the transaction, the answer; and how fast a push reaches WebSocket subscribers.
 *
 *   (a) push throughput into one shared tree: 1 client with batches of 1,000 operations (a
 *       realistic mix, then creations only, to compare with bench:merge), 8 and 32 clients
 *       with batches of 100 (operations/s, p50/p99 latency per push)
 *   (b) push-to-poke latency: 100 WebSocket subscribers, one small push every 20 ms; from the
 *       push being sent to each subscriber holding the poke (p50/p99 over all pairs)
 *
 * A real server on a loopback port, with a token, against DATABASE_URL if set, else an
 * embedded Postgres with durable settings (fsync on). The push cases' writers run in a process
 * of their own (push-clients.ts); each case reports the CPU time per 1,000 operations stored of
 * the server's process, of Postgres (embedded only: its processes' times from /proc) and of
 * the writers' process: far less disturbed by other load than ops/s. Prints a table and writes it to
 * bench/results/server.md. BENCH_SCALE=0.1 runs a tenth of it. Each push case says how the
 * server's transactions merged its pushes (alone, several as one batch, several one by one);
 * BENCH_PROFILE=1 also prints the Postgres functions that took the time (track_functions);
 * BENCH_CASES=32 (or 1, 1c, 8, b, comma-separated) runs only those cases, and writes
 * bench/results/server-some-cases.md instead.
 */
import { type ChildProcess, fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { sign } from 'hono/jwt';
import type pg from 'pg';
import WebSocket from 'ws';
import { formatTs } from '../protocol/ops.ts';
import { migrate } from '../sql/migrate.ts';
import { loadConfig } from '../server/config.ts';
import { silentLogger } from '../server/logger.ts';
import { type RunningServer, startServer } from '../server/start-server.ts';
import { dbUrl, ident, withClient } from '../test/pg/admin.ts';
import { startCluster } from '../test/pg/cluster.ts';
import { GrowingTree } from './growing-tree.ts';
import { postgresCpuMs } from './process-cpu.ts';
import type { ClientsResult, ClientsRun } from './push-clients.ts';
import { machine, postgres, type ResultRow, writeResults } from './report.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const n = (count: number) => Math.max(1, Math.round(count * SCALE));
const PROFILE = process.env.BENCH_PROFILE === '1';
/** BENCH_CASES=1,1c,8,32,b runs only those cases (1c: one client, creations only; b: pokes). */
const CASES = process.env.BENCH_CASES?.split(',').map((c) => c.trim());
const runs = (name: string) => CASES === undefined || CASES.includes(name);
const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';


async function main() {
  const cluster = await startCluster({ durable: true });
  const name = `treesync_bench_server_${process.pid}`;
  await withClient(cluster.url, (c) => c.query(`create database ${ident(name)}`));
  const url = dbUrl(cluster.url, name);
  const rows: ResultRow[] = [];
  let server: RunningServer | undefined;
  let writers: ClientsProcess | undefined;
  try {
    await withClient(url, (c) => migrate(c));
    // BENCH_PROFILE=1: Postgres times its functions, printed after each push case.
    if (PROFILE) await withClient(cluster.url, (c) => c.query(`alter database ${ident(name)} set track_functions = 'pl'`));
    const config = loadConfig({
      TREESYNC_JWT_SECRET: SECRET,
      PORT: '0',
      TREESYNC_RATE_LIMIT: '0',
      TREESYNC_POOL_SIZE: '16',
      TREESYNC_LOG_LEVEL: 'silent',
      // No truncation mid-run: these clients never pull, and a replica that has not pushed yet
      // would be told to bootstrap again once the log passed its `seen` of 0.
      TREESYNC_TRUNCATE_INTERVAL_MS: '0',
    });
    server = await startServer({ config, databaseUrl: url, logger: silentLogger });
    const token = await sign({ sub: 'bench', trees: ['*'], scope: 'write' }, SECRET, 'HS256');
    const cases: Array<[name: string, clients: number, batch: number, total: number, opts?: { createOnly?: boolean }]> = [
      ['1', 1, 1000, n(50_000)],
      ['1c', 1, 1000, n(50_000), { createOnly: true }],
      ['8', 8, 100, n(40_000)],
      ['32', 32, 100, n(40_000)],
    ];
    writers = new ClientsProcess();
    // Warm-up, not reported: else the first case pays for compiling the server's code.
    await throughput(writers, server.url, token, 4, 250, n(4_000), { label: 'warm-up' });
    for (const [name, clients, batch, total, opts] of cases) {
      if (!runs(name)) continue;
      if (PROFILE) await withClient(url, (c) => c.query('select pg_stat_reset()'));
      rows.push(await throughput(writers, server.url, token, clients, batch, total, opts));
      if (PROFILE) await withClient(url, profile);
    }
    if (runs('b')) rows.push(await pokeLatency(server.url, token, 100, n(300)));
  } finally {
    writers?.stop();
    await server?.close();
    await withClient(cluster.url, (c) => c.query(`drop database if exists ${ident(name)} with (force)`));
    await cluster.stop();
  }
  await report(rows, cluster.kind);
}

async function call(base: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** The push cases' writers, in a process of their own (push-clients.ts). */
class ClientsProcess {
  private readonly child: ChildProcess = fork(fileURLToPath(new URL('./push-clients.ts', import.meta.url)), {
    execArgv: ['--import', 'tsx'],
  });

  run(job: ClientsRun): Promise<ClientsResult> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the clients' process exited (${code})`));
      this.child.once('exit', onExit);
      this.child.once('message', (msg: { ok: true; result: ClientsResult } | { ok: false; error: string }) => {
        this.child.off('exit', onExit);
        if (msg.ok) resolve(msg.result);
        else reject(new Error(`in the clients' process: ${msg.error}`));
      });
      this.child.send(job);
    });
  }

  stop(): void {
    this.child.kill();
  }
}

/** `clients` replicas push `total` operations between them into one new tree, in batches. */
async function throughput(
  writers: ClientsProcess,
  base: string,
  token: string,
  clients: number,
  batch: number,
  total: number,
  opts: { createOnly?: boolean; label?: string } = {},
): Promise<ResultRow> {
  const tree = opts.label ?? `push-${clients}${opts.createOnly ? '-create' : ''}`;
  await call(base, token, 'PUT', `/v1/trees/${tree}`);
  // Each replica first says who it is and the oldest ts it may send, as a client does when it
  // bootstraps: else the stability frontier could pass a replica that has not pushed yet.
  await Promise.all(
    Array.from({ length: clients }, (_, c) =>
      call(base, token, 'GET', `/v1/trees/${tree}/pull?since=0&replica=r${c}&floor=${formatTs(Date.now(), 0, `r${c}`)}`),
    ),
  );
  const groupsBefore = await pushGroupCounts(base);
  const serverCpu = process.cpuUsage();
  const pgCpu = postgresCpuMs();
  const run = await writers.run({ base, token, tree, clients, batch, total, createOnly: opts.createOnly ?? false });
  const serverUsed = process.cpuUsage(serverCpu);
  const pgUsed = pgCpu === undefined ? undefined : postgresCpuMs()! - pgCpu;
  const { stored, latencies, seconds } = run;
  const groups = await pushGroups(base, groupsBefore);
  const perK = (ms: number) => `${((ms * 1000) / stored).toFixed(1)} ms`;
  const cpu =
    `CPU per 1,000 ops: server ${perK((serverUsed.user + serverUsed.system) / 1000)}, ` +
    `${pgUsed === undefined ? '' : `Postgres ${perK(pgUsed)}, `}clients ${perK(run.cpuMs)}`;
  progress(`${opts.label ?? '(a)'} ${clients} client(s): ${stored} ops in ${seconds.toFixed(2)} s; ${cpu}; ${groups}`);
  return {
    case: `(a) push, ${clients} client${clients > 1 ? 's' : ''}, batches of ${batch.toLocaleString('en-US')}, one tree${opts.createOnly ? ', creations only' : ''}`,
    figure: `${Math.round(stored / seconds).toLocaleString('en-US')} ops/s`,
    detail: `${stored.toLocaleString('en-US')} ops in ${seconds.toFixed(2)} s; per push p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}; ${cpu}; ${groups}`,
  };
}

/** The functions that took the most time since the last reset, in their own code. */
async function profile(c: pg.Client): Promise<void> {
  await c.query('select pg_stat_force_next_flush()');
  await new Promise((r) => setTimeout(r, 100));
  const { rows } = await c.query<{ f: string; calls: string; total: number; self: number }>(
    `select funcname as f, calls, total_time as total, self_time as self
       from pg_stat_user_functions order by self_time desc limit 12`,
  );
  for (const r of rows) progress(`   ${r.f.padEnd(28)} ${r.calls.padStart(8)} calls  self ${r.self.toFixed(0).padStart(7)} ms  total ${r.total.toFixed(0).padStart(7)} ms`);
}

/** The server's count of push groups by how they were merged (/metrics). */
async function pushGroupCounts(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^treesync_push_groups_total\{merge="(\w+)"\} (\d+)$/gm)) counts[m[1]!] = Number(m[2]);
  return counts;
}

/** What a throughput case added to those counts, in words. */
async function pushGroups(base: string, before: Record<string, number>): Promise<string> {
  const after = await pushGroupCounts(base);
  const added = (way: string) => (after[way] ?? 0) - (before[way] ?? 0);
  return `transactions: ${added('alone')} of one push, ${added('union')} of several merged as one batch, ${added('each')} of several one by one`;
}

/** `subscribers` WebSockets on one tree; `pushes` one-op pushes 20 ms apart; the time from
 * sending each push to each subscriber getting a poke of its seq (or later). */
async function pokeLatency(base: string, token: string, subscribers: number, pushes: number): Promise<ResultRow> {
  const tree = 'pokes';
  await call(base, token, 'PUT', `/v1/trees/${tree}`);
  const sentAt = new Map<number, number>(); // seq -> when its push was sent
  const latencies: number[] = [];
  const sockets = await Promise.all(
    Array.from({ length: subscribers }, async () => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/trees/${tree}/events?token=${token}`);
      let last = 0;
      ws.on('message', (data) => {
        const now = performance.now();
        const { seq } = JSON.parse(String(data)) as { seq: number };
        // A poke of seq N tells about every push up to N.
        for (let s = last + 1; s <= seq; s++) {
          const t = sentAt.get(s);
          if (t !== undefined) latencies.push(now - t);
        }
        last = Math.max(last, seq);
      });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      return ws;
    }),
  );
  const replica = new GrowingTree('poker', 7, 0, 'realtime');
  for (let i = 1; i <= pushes; i++) {
    const ops = replica.moves(1);
    sentAt.set(i, performance.now());
    await call(base, token, 'POST', `/v1/trees/${tree}/push`, { replica: 'poker', seen: i - 1, floor: ops[0]!.ts, ops });
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const ws of sockets) ws.close();
  const expected = subscribers * pushes;
  progress(`(b) ${latencies.length} of ${expected} pokes`);
  return {
    case: `(b) push to poke, ${subscribers} WebSocket subscribers`,
    figure: `p99 ${ms(percentile(latencies, 99))}`,
    detail: `p50 ${ms(percentile(latencies, 50))}, max ${ms(Math.max(...latencies))}; ${pushes} pushes 20 ms apart, ${latencies.length.toLocaleString('en-US')} of ${expected.toLocaleString('en-US')} (push, subscriber) pairs poked`,
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function ms(value: number): string {
  return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

function progress(msg: string) {
  process.stderr.write(`${msg}\n`);
}

async function report(rows: ResultRow[], kind: string) {
  const scale = SCALE !== 1 ? ` Scale ${SCALE}.` : '';
  // Some cases only: not the whole table, so the results file of a full run is kept.
  await writeResults(CASES === undefined ? 'server' : 'server-some-cases', [
    `Machine: ${machine()}. Postgres: ${postgres(kind)}. Server in one process, the push cases' clients in another, over loopback; load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(', ')}.${scale}`,
    '',
    'Targets (issues 3 and 6): a single client pushing 1,000-operation batches ≥ 20,000 ops/s; 32 clients pushing batches of 100 to one tree ≥ 15,000 ops/s in all with p99 ≤ 500 ms per push; push-to-poke p99 ≤ 50 ms.',
  ], rows);
}

await main();
