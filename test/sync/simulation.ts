/**
 * One run of the sync simulation: a real server (restartable on its port), real Postgres, N
 * clients made by openTree (real worker threads with wa-sqlite), and a schedule drawn from a
 * seed: creates, conflicting moves, cycle attempts (the same two nodes moved under each other
 * by two clients before either hears of the other), deletes, sets and removals, syncs, offline
 * spells; a server restart in the middle (clients keep editing through it), and a forced reset
 * (the tree restored from a backup taken earlier, while every client holds unpushed edits).
 * The clients reach the server through a faulty link (faulty-link.ts) that delivers some
 * pushes twice: retried after a lost answer, or replayed after newer pushes.
 *
 * It records every op each client made (the `edit` events), every cycle a client ever showed,
 * and which acknowledged ops the restore threw away, for the checks in simulation.pg.test.ts.
 */
import type pg from 'pg';
import { openTree, type TreeClient } from '../../client/index.ts';
import type { Op } from '../../protocol/ops.ts';
import { startTestServer, type TestServer } from '../server/harness.ts';
import { startFaultyLink, type FaultyLink } from './faulty-link.ts';

/** mulberry32: a small seeded generator, so a failing seed replays. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimulationOptions {
  seed: number;
  clients: number;
  steps: number;
  db: { url: string; pool: pg.Pool };
  token: string;
}

export interface SimulationResult {
  tree: string;
  server: TestServer;
  clients: TreeClient[];
  /** Every op every client made, by ts. */
  made: Map<string, Op>;
  /** Ops acknowledged before the restore and not in the backup: the restore lost them. */
  lost: Set<string>;
  /** Cycles seen in a client's tree during the run (should stay empty). */
  cycles: string[];
  /** Local edits the replica refused (its own cycle check, a missing node): counted, not errors. */
  refused: number;
  /** Pushes the link delivered twice. */
  twice: FaultyLink['stats'];
  close(): Promise<void>;
}

const TABLES = ['nodes', 'fields', 'moves', 'ops'] as const;

/** Follows parents from every node a client knows; a node that never reaches ROOT or TRASH
 * (or comes back to itself) is a cycle. */
async function findCycles(client: TreeClient, ids: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const id of ids) {
    const seen = new Set<string>();
    let at: string | null = id;
    while (at !== null && at !== 'ROOT' && at !== 'TRASH') {
      if (seen.has(at)) {
        found.push(`${id}: ${[...seen].join(' > ')}`);
        break;
      }
      seen.add(at);
      const node: { parent: string | null } | null = await client.get(at);
      if (node === null) break;
      at = node.parent;
    }
  }
  return found;
}

export async function runSimulation(opts: SimulationOptions): Promise<SimulationResult> {
  const rand = seeded(opts.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const tree = `sim-${opts.seed}`;
  let server = await startTestServer(opts.db.url);
  const port = server.running.port;
  const url = server.url;
  const holder = { server };
  await server.call('PUT', `/v1/trees/${tree}`, { token: opts.token, body: {} });
  const link = await startFaultyLink(url, seeded(opts.seed + 7919));

  const made = new Map<string, Op>();
  const clients: TreeClient[] = [];
  for (let i = 0; i < opts.clients; i++) {
    const client = await openTree({
      url: link.url,
      tree,
      token: opts.token,
      replica: `s${opts.seed}c${i}`,
      // Small batches and pages, so batching and paging happen; quick backoff for the test.
      sync: { maxOpsPerPush: 7, pullLimit: 5, backoff: { baseMs: 10, maxMs: 250 } },
    });
    client.subscribe((e) => {
      if (e.type === 'edit') for (const op of e.ops) made.set(op.ts, op);
    });
    clients.push(client);
  }
  const ids: string[] = [];
  const cycles: string[] = [];
  let refused = 0;
  const offline = new Set<number>();
  const attempt = async (edit: () => Promise<unknown>) => {
    try {
      await edit();
    } catch (err) {
      // The replica refuses what it can tell is wrong now (a cycle it holds, a node it has not
      // heard of): that is the app's answer, not a failure of sync.
      if ((err as { code?: string }).code !== 'invalid_request') throw err;
      refused++;
    }
  };
  const keys = ['text', 'done', 'n'];
  const randomEdit = async (c: TreeClient) => {
    const r = rand();
    const node = ids.length > 0 ? pick(ids) : undefined;
    const target = rand() < 0.25 || ids.length === 0 ? 'ROOT' : pick(ids);
    if (r < 0.3 || node === undefined) {
      await attempt(async () => ids.push(await c.create(target, { fields: { text: `t${Math.floor(rand() * 1000)}` } })));
    } else if (r < 0.6) {
      await attempt(() => c.move(node, target, rand() < 0.5 ? {} : { before: pick(ids) }));
    } else if (r < 0.7) {
      await attempt(() => c.delete(node));
    } else {
      const value = rand() < 0.2 ? null : pick([1, 'two', { three: [3] }, true, `v${Math.floor(rand() * 100)}`]);
      await attempt(() => c.set(node, pick(keys), value));
    }
  };

  // The backup: the tree's rows copied in one repeatable-read snapshot to tables of its own.
  const bk = `sim_backup_${opts.seed}`;
  let backupSeq: number | undefined;
  const takeBackup = async () => {
    const client = await opts.db.pool.connect();
    try {
      await client.query('begin isolation level repeatable read');
      backupSeq = Number((await client.query('select seq from treesync.trees where id = $1', [tree])).rows[0].seq);
      await client.query(`drop schema if exists ${bk} cascade; create schema ${bk}`);
      for (const t of [...TABLES, 'trees'] as const) {
        await client.query(`create table ${bk}.${t} as select * from treesync.${t} where ${t === 'trees' ? 'id' : 'tree'} = $1`, [tree]);
      }
      await client.query('commit');
    } finally {
      client.release();
    }
  };
  const lost = new Set<string>();
  /** The operator restores the tree from the backup (in one transaction, under the tree's
   * lock): every op acknowledged since is gone from the server. */
  const restore = async () => {
    if (backupSeq === undefined) throw new Error('no backup');
    const client = await opts.db.pool.connect();
    try {
      await client.query('begin');
      await client.query('select 1 from treesync.trees where id = $1 for update', [tree]);
      for (const r of (await client.query('select ts from treesync.ops where tree = $1 and seq > $2', [tree, backupSeq])).rows) lost.add(r.ts);
      for (const t of TABLES) {
        await client.query(`delete from treesync.${t} where tree = $1`, [tree]);
        await client.query(`insert into treesync.${t} select * from ${bk}.${t}`);
      }
      await client.query(`update treesync.trees t set seq = b.seq, newest_ts = b.newest_ts from ${bk}.trees b where t.id = b.id`);
      await client.query('commit');
      await client.query(`drop schema ${bk} cascade`);
    } catch (err) {
      await client.query('rollback');
      throw err;
    } finally {
      client.release();
    }
  };

  const restartAt = Math.floor(opts.steps * 0.3);
  const backupAt = Math.floor(opts.steps * 0.45);
  const resetAt = Math.floor(opts.steps * 0.7);
  for (let step = 0; step < opts.steps; step++) {
    if (step === restartAt) {
      // The server goes away while clients edit and push; it comes back on the same port.
      await holder.server.close();
      for (let k = 0; k < 6; k++) await randomEdit(pick(clients));
      await new Promise((r) => setTimeout(r, 150));
      holder.server = server = await startTestServer(opts.db.url, { env: { PORT: String(port) } });
    }
    if (step === backupAt) {
      await Promise.all(clients.map((c, i) => (offline.has(i) ? undefined : c.sync())));
      await takeBackup();
    }
    if (step === resetAt) {
      // Every client offline with unpushed edits; the tree is restored from the backup; back
      // online one at a time, each finds out (push `reset_required` or pull `reset`),
      // bootstraps again and keeps its edits.
      //
      // The protocol tells a replica of a restore only while its `seen` is ahead of the tree's
      // seq: once the restored tree has grown past it again, the replica would pull from there
      // and never hear of the ops it lost (docs/client.md, "Limits"). So before going offline
      // the tree is taken well past the backup (more new ops than all the clients' offline
      // edits together) and everyone syncs up to it.
      offline.clear();
      for (const c of clients) c.setOnline(true);
      for (let k = 0; k < 20; k++) await attempt(async () => ids.push(await clients[0]!.create('ROOT')));
      await Promise.all(clients.map((c) => c.sync()));
      for (const c of clients) c.setOnline(false);
      for (const c of clients) for (let k = 0; k < 2; k++) await randomEdit(c);
      await link.flush();
      await restore();
      for (const c of clients) {
        c.setOnline(true);
        await c.sync();
      }
    }
    const i = Math.floor(rand() * clients.length);
    const c = clients[i]!;
    const r = rand();
    if (r < 0.06) {
      if (offline.has(i)) offline.delete(i);
      else offline.add(i);
      c.setOnline(!offline.has(i));
    } else if (r < 0.12 && ids.length >= 2) {
      // A cycle attempt: two clients move a and b under each other before hearing of it.
      const a = pick(ids);
      const b = pick(ids);
      const other = clients[(i + 1) % clients.length]!;
      await Promise.all([attempt(() => c.move(a, b)), attempt(() => other.move(b, a))]);
    } else if (r < 0.17) {
      if (!offline.has(i)) await c.sync();
    } else {
      await randomEdit(c);
    }
    if (step % 10 === 9) cycles.push(...(await findCycles(pick(clients), ids)));
  }
  for (const i of offline) clients[i]!.setOnline(true);
  return {
    tree,
    get server() {
      return holder.server;
    },
    clients,
    made,
    lost,
    cycles,
    refused,
    twice: link.stats,
    async close() {
      for (const c of clients) await c.close();
      await link.close();
      await holder.server.close();
    },
  };
}
