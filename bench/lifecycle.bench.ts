/**
 * npm run bench:lifecycle — the log's lifecycle over a simulated 45 days.
 *
 * Two trees get the same history: a 100,000-node tree, then 4 replicas editing it every day
 * (moves, sets, deletes, new nodes) and a fifth (`eve`) away from day 0 to day 40, longer than
 * the 30-day retention window. One tree is truncated at its stability frontier every simulated
 * day (batches of 1,000 rows, as the server's job does); the other never is. Time is simulated
 * with timestamps, floors, `seen_at` and the retention setting, never by waiting: on simulated
 * day d the session's `treesync.retention` is stretched so that "now minus 30 days" falls on
 * day d - 30.
 *
 * Reported: log rows (moves) and stored ops at the end, snapshot bytes at the end (identity
 * encoding), merge speed at the end (an in-order batch, and a late batch that undoes and redoes
 * the log from F on), the longest time a truncation batch held the tree's lock, what eve
 * meets when she returns, and the longest lock a purge of the old trash holds (batches). Runs against DATABASE_URL if set, else an embedded Postgres with
 * durable settings. BENCH_SCALE=0.1 shrinks the tree and the edits. Results:
 * bench/results/lifecycle.md (lifecycle-scale-<s>.md when scaled).
 */
import pg from 'pg';
import { migrate } from '../sql/migrate.ts';
import { formatTs, type Op } from '../protocol/ops.ts';
import { openSnapshot } from '../server/snapshot/open-snapshot.ts';
import { purgeTree } from '../server/lifecycle/purge-tree.ts';
import { startCluster } from '../test/pg/cluster.ts';
import { dbUrl, ident, withClient } from '../test/pg/admin.ts';
import { machine, postgres, type ResultRow, writeResults } from './report.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const n = (count: number) => Math.max(1, Math.round(count * SCALE));
const NODES = n(100_000);
const EDITS_PER_DAY = n(500); // per active replica
const DAYS = 45;
const AWAY_UNTIL = 40;
const DAY = 86_400_000;
const T0 = Date.now() - DAYS * DAY; // simulated day 0; the real clock is day 45
const ACTIVE = ['alice', 'bob', 'carol', 'dave'];
const TREES = { truncated: 'with-truncation', whole: 'without-truncation' } as const;

/** A small deterministic generator (mulberry32): the same history for both trees. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const progress = (msg: string) => console.error(`[bench:lifecycle] ${msg}`);

async function main() {
  const cluster = await startCluster({ durable: true });
  const adminUrl = cluster.url;
  const name = `treesync_lifecycle_${process.pid}`;
  await withClient(adminUrl, (c) => c.query(`create database ${ident(name)}`));
  const url = dbUrl(adminUrl, name);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const snapshotPool = new pg.Pool({ connectionString: url, max: 1 });
  // A snapshot as it was before truncation existed, whole log included: with a retention of 0
  // no replica counts, so a tree never truncated has no frontier and its whole log is sent.
  const wholeLogPool = new pg.Pool({ connectionString: url, max: 1, options: '-c treesync.retention=0' });
  let rows: ResultRow[] = [];
  let version = '';
  try {
    await migrate(db);
    version = (await db.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]!.v;
    rows = await simulate(db, { truncated: snapshotPool, whole: wholeLogPool });
  } finally {
    await db.end();
    await snapshotPool.end();
    await wholeLogPool.end();
    await withClient(adminUrl, (c) => c.query(`drop database if exists ${ident(name)} with (force)`));
    await cluster.stop();
  }
  await writeResults(SCALE === 1 ? 'lifecycle' : `lifecycle-scale-${SCALE}`, [
    `${machine()}; ${postgres(cluster.kind, version)}.`,
    `Simulated: a ${NODES.toLocaleString('en')}-node tree, ${ACTIVE.length} replicas making ` +
      `${EDITS_PER_DAY.toLocaleString('en')} edits each per day for ${DAYS} days, eve away from day 0 to day ` +
      `${AWAY_UNTIL}; retention 30 days; truncation daily in batches of 1,000.${SCALE !== 1 ? ` Scale ${SCALE}.` : ''}`,
    'The machine has 2 cores shared with other work: times are noisy, counts are exact.',
  ], rows);
}

async function apply(db: pg.Client, tree: string, ops: Op[]) {
  const { rows } = await db.query<{ r: { undone: number } }>('select treesync.apply_ops($1, $2::jsonb) as r', [tree, JSON.stringify(ops)]);
  return rows[0]!.r;
}

/** Both trees, the same ops. */
async function applyBoth(db: pg.Client, ops: Op[]) {
  for (const tree of Object.values(TREES)) await apply(db, tree, ops);
}

/** Simulated day `d`: the retention window ends on day d - 30 (the real clock is day 45), and
 * replicas seen on day s were seen (45 - s) real days ago. */
async function setDay(db: pg.Client, d: number) {
  await db.query(`select set_config('treesync.retention', $1, false)`, [`${DAYS - d + 30} days`]);
}
async function noteSeen(db: pg.Client, replica: string, floor: string, d: number) {
  for (const tree of Object.values(TREES)) {
    await db.query('select treesync.note_replica($1, $2, $3)', [tree, replica, floor]);
    await db.query(`update treesync.replicas set seen_at = now() - make_interval(days => $3) where tree = $1 and replica = $2`, [
      tree,
      replica,
      DAYS - d,
    ]);
  }
}

async function simulate(db: pg.Client, snapshotPools: Record<keyof typeof TREES, pg.Pool>): Promise<ResultRow[]> {
  const r = rng(42);
  for (const tree of Object.values(TREES)) await db.query('select treesync.create_tree($1)', [tree]);
  await setDay(db, 0);
  // Day 0: the tree, built by alice (parents among earlier nodes: a random tree).
  let started = performance.now();
  for (let i = 0; i < NODES; i += 1000) {
    const ops: Op[] = [];
    for (let j = i; j < Math.min(NODES, i + 1000); j++) {
      const parent = j < 10 ? 'ROOT' : `n${Math.floor(r() * j)}`;
      ops.push({ ts: formatTs(T0 + j, 0, 'alice'), type: 'move', node: `n${j}`, parent, pos: `p${j}` });
    }
    await applyBoth(db, ops);
  }
  progress(`day 0: ${NODES} nodes in both trees in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await noteSeen(db, 'eve', formatTs(T0 + DAY / 2, 0, 'eve'), 0); // then away
  const eveSeq = NODES;
  for (const tree of Object.values(TREES)) await db.query('select treesync.note_pulled($1, $2, $3)', [tree, 'eve', eveSeq]);

  let maxHeldMs = 0;
  let maxBatchMs = 0;
  let truncateMs = 0;
  let batches = 0;
  const pick = () => `n${Math.floor(r() * NODES)}`;
  started = performance.now();
  for (let d = 1; d < DAYS; d++) {
    await setDay(db, d);
    for (const [k, replica] of ACTIVE.entries()) {
      const ops: Op[] = [];
      for (let i = 0; i < EDITS_PER_DAY; i++) {
        const ts = formatTs(T0 + d * DAY + k * 3_600_000 + i, 0, replica);
        const x = r();
        if (x < 0.5) ops.push({ ts, type: 'move', node: pick(), parent: pick(), pos: `m${d}-${i}` });
        else if (x < 0.85) ops.push({ ts, type: 'set', node: pick(), key: 'text', value: `day ${d} by ${replica}` });
        else if (x < 0.9) ops.push({ ts, type: 'move', node: pick(), parent: 'TRASH', pos: '' });
        else ops.push({ ts, type: 'move', node: `${replica}-${d}-${i}`, parent: pick(), pos: 'new' });
      }
      for (let i = 0; i < ops.length; i += 1000) await applyBoth(db, ops.slice(i, i + 1000));
      const seq = Number((await db.query('select seq from treesync.trees where id = $1', [TREES.whole])).rows[0].seq);
      await noteSeen(db, replica, formatTs(T0 + (d + 1) * DAY - 1, 0, replica), d);
      for (const tree of Object.values(TREES)) await db.query('select treesync.note_pulled($1, $2, $3)', [tree, replica, seq]);
    }
    // The daily truncation of one tree, batch by batch (each its own transaction).
    const t = performance.now();
    for (;;) {
      const b0 = performance.now();
      const b = (await db.query('select treesync.truncate_log($1, 1000) as r', [TREES.truncated])).rows[0].r;
      maxBatchMs = Math.max(maxBatchMs, performance.now() - b0);
      maxHeldMs = Math.max(maxHeldMs, b.held_ms);
      batches++;
      if (!b.more) break;
    }
    truncateMs += performance.now() - t;
    if (d % 5 === 0) progress(`day ${d}: ${((performance.now() - started) / 1000).toFixed(1)} s so far`);
  }

  // Eve returns on day 40 of her own reckoning, with edits she made offline on days 1 to 3.
  const eve = await eveReturns(db);

  const out: ResultRow[] = [];
  const counts = async (tree: string) =>
    (
      await db.query<{ moves: string; ops: string; nodes: string }>(
        `select (select count(*) from treesync.moves where tree = $1) as moves,
                (select count(*) from treesync.ops where tree = $1) as ops,
                (select count(*) from treesync.nodes where tree = $1) as nodes`,
        [tree],
      )
    ).rows[0]!;
  await setDay(db, DAYS);
  const frontier = (await db.query('select treesync.frontier($1) as f', [TREES.truncated])).rows[0].f as string;
  for (const [label, tree] of Object.entries(TREES)) {
    const c = await counts(tree);
    const bytes = await snapshotBytes(snapshotPools[label as keyof typeof TREES], tree);
    const what = label === 'whole' ? 'whole log, as before truncation' : 'log from F';
    out.push({ case: `${label}: log rows (moves)`, figure: Number(c.moves).toLocaleString('en'), detail: `${Number(c.nodes).toLocaleString('en')} nodes` });
    out.push({ case: `${label}: stored ops`, figure: Number(c.ops).toLocaleString('en'), detail: '' });
    out.push({ case: `${label}: snapshot bytes`, figure: `${(bytes / 1e6).toFixed(1)} MB`, detail: `identity encoding, ${what}` });
  }
  // Merge speed at the end: an in-order batch, then a late batch (stamped just above F, so it
  // undoes and redoes the log from F on); three rounds, alternating the trees, the median
  // reported; then once more after a VACUUM (what autovacuum does to the deleted rows).
  const times: Record<string, { inOrder: number[]; late: number[]; undone: number }> = {};
  const mergeRound = async (round: number) => {
    for (const [label, tree] of Object.entries(TREES)) {
      const inOrder: Op[] = Array.from({ length: 1000 }, (_, i) => ({
        ts: formatTs(T0 + DAYS * DAY + round * 10_000 + i, 0, 'alice'), type: 'move', node: pick(), parent: pick(), pos: `end${i}`,
      }));
      const late: Op[] = Array.from({ length: 100 }, (_, i) => ({
        ts: formatTs(Number(frontier.slice(0, 13)) + 1 + i, round, 'zed'), type: 'move', node: pick(), parent: pick(), pos: `late${i}`,
      }));
      const t = (times[`${label}${round === 3 ? ' after VACUUM' : ''}`] ??= { inOrder: [], late: [], undone: 0 });
      let t0 = performance.now();
      await apply(db, tree, inOrder);
      t.inOrder.push(performance.now() - t0);
      t0 = performance.now();
      t.undone = (await apply(db, tree, late)).undone;
      t.late.push(performance.now() - t0);
    }
  };
  for (let round = 0; round < 3; round++) await mergeRound(round);
  await db.query('vacuum analyze treesync.moves, treesync.ops, treesync.nodes, treesync.fields');
  await mergeRound(3);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [label, t] of Object.entries(times)) {
    const runs = t.inOrder.length > 1 ? `median of ${t.inOrder.length}: ${t.inOrder.map((x) => x.toFixed(0)).join(', ')} ms` : 'one run';
    out.push({ case: `${label}: merge 1,000 in-order moves at the end`, figure: `${median(t.inOrder).toFixed(0)} ms`, detail: runs });
    out.push({
      case: `${label}: merge 100 late moves (just above F)`,
      figure: `${median(t.late).toFixed(0)} ms`,
      detail: `${t.undone.toLocaleString('en')} log rows undone and redone; runs ${t.late.map((x) => x.toFixed(0)).join(', ')} ms`,
    });
  }
  out.push({ case: 'truncation: longest lock held by a batch', figure: `${maxHeldMs.toFixed(1)} ms`, detail: `database side; ${maxBatchMs.toFixed(1)} ms end to end with the commit; ${batches} batches of ≤1,000 rows in ${(truncateMs / 1000).toFixed(1)} s over ${DAYS - 1} days` });
  out.push({ case: 'eve returns after 40 days away', figure: eve.figure, detail: eve.detail });
  // The purge of the trash deleted before the window (days 1 to 14), on each tree, in batches
  // of about 500 nodes walked (as the server's job does), each its own transaction.
  for (const [label, tree] of Object.entries(TREES)) {
    const p = await purgeTree(snapshotPools.truncated, tree); // the default retention: day 15 = now - 30 days
    out.push({
      case: `${label}: purge, longest lock held by a batch`,
      figure: `${p.maxHeldMs.toFixed(1)} ms`,
      detail: `database side; ${p.maxBatchMs.toFixed(1)} ms end to end with the commit; ${p.batches} batches in ${p.ms.toFixed(0)} ms: ` +
        `${p.purged} trashed subtrees, ${p.nodes} nodes, ${p.fields} fields, ${p.moves} log rows`,
    });
  }
  return out;
}

/** Eve's pull from where she left (day 0) and her push of day-1..3 edits, on both trees. */
async function eveReturns(db: pg.Client): Promise<{ figure: string; detail: string }> {
  await setDay(db, AWAY_UNTIL);
  const parts: string[] = [];
  for (const [label, tree] of Object.entries(TREES)) {
    const kept = Number((await db.query('select kept_seq from treesync.trees where id = $1', [tree])).rows[0].kept_seq);
    const pull = NODES < kept ? 'pull from day 0: reset (bootstrap again)' : 'pull from day 0: served';
    let push = 'offline edits accepted';
    try {
      await db.query('begin');
      await apply(db, tree, [{ ts: formatTs(T0 + 2 * DAY, 0, 'eve'), type: 'set', node: 'n1', key: 'eve', value: 1 }]);
    } catch (err) {
      push = (err as { code?: string }).code === 'TS005' ? 'offline edits stale (TS005): re-stamped by the client' : String(err);
    } finally {
      await db.query('rollback');
    }
    parts.push(`${label}: ${pull}; ${push}`);
  }
  return { figure: 'see detail', detail: parts.join('. ') };
}

async function snapshotBytes(pool: pg.Pool, tree: string): Promise<number> {
  const { stream } = await openSnapshot(pool, tree);
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  await stream.finished;
  return bytes;
}

await main();
