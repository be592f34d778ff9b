// 20 replicas push to one tree at once, each retrying its batches (after a lost answer, and
// twice in parallel), while a watcher pulls. Every op is stored exactly once with gap-free
// seqs; no answer ever skips a seq; every replica ends up knowing every op; and the tree is the
// reference model's tree of all the ops.
import { expect, test } from 'vitest';
import type { Op, StoredOp } from '../../protocol/ops.ts';
import { pullResponseSchema } from '../../protocol/pull.ts';
import { pushResponseSchema, type PushResponse } from '../../protocol/push.ts';
import { stateResponseSchema } from '../../protocol/state.ts';
import { checkInvariants, replay } from '../model/reference.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from './harness.ts';
import { histories } from './retrying-pushers.ts';

const db = useTestDb();
const server = useTestServer(db, { env: { TREESYNC_POOL_SIZE: '8', TREESYNC_PULL_LIMIT: '25' } });
const TREE = 'busy';
const CLIENTS = 20;

/** What a replica knows: ops by seq, and the seq it has everything up to. */
interface Replica {
  id: string;
  seen: number;
  known: Map<number, StoredOp>;
}

/** Takes in a page answered for `sentSeen`: its ops must be the seqs right after it, none
 * skipped; then the replica has everything up to the page's last op, or up to `upTo` when the
 * page is the last one. */
function absorb(r: Replica, sentSeen: number, ops: StoredOp[], more: boolean, upTo: number): void {
  expect(ops.map((o) => o.seq)).toEqual(ops.map((_, i) => sentSeen + 1 + i));
  for (const op of ops) r.known.set(op.seq, op);
  r.seen = Math.max(r.seen, more ? ops.at(-1)!.seq : upTo);
}

/** Pushes `ops`; `floor` is the oldest ts the replica may still send: its oldest unpushed op
 * (the tree's stability frontier must not pass it, or its later batches would be stale). */
async function push(r: Replica, token: string, ops: Op[], floor: string): Promise<{ sentSeen: number; answer: PushResponse }> {
  const sentSeen = r.seen;
  const res = await server.call('POST', `/v1/trees/${TREE}/push`, {
    token,
    body: { replica: r.id, seen: sentSeen, floor, ops },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { sentSeen, answer: pushResponseSchema.parse(res.body) };
}

async function pullToEnd(r: Replica, token: string): Promise<void> {
  for (;;) {
    const sentSeen = r.seen;
    const res = await server.call('GET', `/v1/trees/${TREE}/pull?since=${sentSeen}&replica=${r.id}`, { token });
    const page = pullResponseSchema.parse(res.body);
    if ('reset' in page) throw new Error(`unexpected reset for ${r.id} at ${sentSeen}`);
    absorb(r, sentSeen, page.ops, page.more, page.seq);
    if (!page.more) return;
  }
}

/** Pushes a replica's history in batches of 1 to 8: some once, some again after a "lost"
 * answer (ignored, like a timeout), some twice at the same time. */
async function runReplica(r: Replica, token: string, ops: Op[]): Promise<void> {
  for (let at = 0, b = 0; at < ops.length; b++) {
    const floor = ops.slice(at).reduce((oldest, op) => (op.ts < oldest ? op.ts : oldest), ops[at]!.ts);
    const batch = ops.slice(at, at + 1 + ((b * 5 + r.id.charCodeAt(2)) % 8));
    at += batch.length;
    const mode = (b + r.id.charCodeAt(2)) % 3;
    const lost = mode === 1 ? [await push(r, token, batch, floor)] : []; // its answer never arrives: retry
    const answers = mode === 2 ? await Promise.all([push(r, token, batch, floor), push(r, token, batch, floor)]) : [await push(r, token, batch, floor)];
    for (const { sentSeen, answer } of answers) absorb(r, sentSeen, answer.ops, answer.more, answer.seq);
    // Each attempt saw every op of the batch, and exactly one attempt stored each.
    const attempts = [...lost, ...answers].map((a) => a.answer);
    for (const a of attempts) expect(a.accepted + a.duplicates).toBe(batch.length);
    expect(attempts.reduce((sum, a) => sum + a.accepted, 0)).toBe(batch.length);
  }
}

/** Pulls in small pages while the pushes run, checking that no page ever skips a seq. */
async function watch(token: string, done: () => boolean): Promise<number> {
  const watcher: Replica = { id: 'watcher', seen: 0, known: new Map() };
  let pages = 0;
  while (!done()) {
    const sentSeen = watcher.seen;
    const res = await server.call('GET', `/v1/trees/${TREE}/pull?since=${sentSeen}&limit=7`, { token });
    const page = pullResponseSchema.parse(res.body);
    if ('reset' in page) throw new Error('unexpected reset');
    absorb(watcher, sentSeen, page.ops, page.more, page.seq);
    pages++;
  }
  return pages;
}

test(`${CLIENTS} replicas pushing at once with retries: each op once, no gaps, the model's tree`, async () => {
  const token = await server.token();
  // Delete-wins: this test is about storage (each op once, no gaps), so the tree is the model's
  // tree of exactly the pushed ops, without restores (docs/deletes.md; tested on their own).
  expect((await server.call('PUT', `/v1/trees/${TREE}`, { token, body: { deletes: 'win' } })).status).toBe(201);
  // 30 to 40 ops each on a few shared nodes (conflicts and cycles galore).
  const perReplica = histories(CLIENTS, 1000, 30, 40, (i) => `c${String(i).padStart(2, '0')}`);
  const all = perReplica.flat();
  const replicas: Replica[] = perReplica.map((ops) => ({ id: ops[0]!.ts.slice(20), seen: 0, known: new Map() }));

  // Each replica first says who it is and how far back it may send, as a client does when it
  // bootstraps, so the stability frontier never passes its unpushed operations. (The frontier
  // never moves back: a replica first seen with a floor older than it is counted from it on.
  // These histories are all "made" before any sync, so the oldest floor goes first.)
  const floors = replicas.map((r, i) => ({
    r,
    floor: perReplica[i]!.reduce((oldest, op) => (op.ts < oldest ? op.ts : oldest), perReplica[i]![0]!.ts),
  }));
  for (const { r, floor } of floors.sort((a, b) => (a.floor < b.floor ? -1 : 1))) {
    const res = await server.call('GET', `/v1/trees/${TREE}/pull?since=0&replica=${r.id}&floor=${floor}`, { token });
    expect(res.status).toBe(200);
  }

  let pushing = true;
  const watching = watch(token, () => !pushing);
  await Promise.all(replicas.map((r, i) => runReplica(r, token, perReplica[i]!)));
  pushing = false;
  expect(await watching).toBeGreaterThan(0);

  // Stored exactly once each, seqs 1..N without a gap.
  const { rows } = await db.query<{ n: string; distinct_ts: string; lo: string; hi: string; tree_seq: string }>(
    `select count(*) n, count(distinct ts) distinct_ts, min(seq) lo, max(seq) hi,
            (select seq from treesync.trees where id = $1) tree_seq
       from treesync.ops where tree = $1`,
    [TREE],
  );
  const n = String(all.length);
  expect(rows[0]).toEqual({ n, distinct_ts: n, lo: '1', hi: n, tree_seq: n });

  // Every replica, after pulling to the end, knows every op under the seq the server gave it.
  const stored = await db.query<{ seq: string; ts: string }>(`select seq, ts from treesync.ops where tree = $1`, [TREE]);
  const tsBySeq = new Map(stored.rows.map((r) => [Number(r.seq), r.ts]));
  for (const [i, r] of replicas.entries()) {
    await pullToEnd(r, token);
    const own = new Set(perReplica[i]!.map((op) => op.ts));
    for (const [seq, ts] of tsBySeq) {
      if (own.has(ts)) continue; // its own ops it has anyway (and may have been sent back)
      expect(r.known.get(seq)?.ts, `${r.id} misses seq ${seq}`).toBe(ts);
    }
    expect(r.seen).toBe(all.length);
  }

  // The tree is the reference model's tree of all the ops.
  const state = stateResponseSchema.parse((await server.call('GET', `/v1/trees/${TREE}/state`, { token })).body);
  const model = replay(all);
  expect(checkInvariants(model)).toEqual([]);
  expect({ nodes: state.nodes, fields: state.values }).toEqual(model);
  expect(state.seq).toBe(all.length);
});
