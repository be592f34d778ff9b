// Pushes of one tree that wait together are merged as ONE batch (server/db/merge-union.ts):
// their timestamps interleave, a retry of one of them waits in the same group, one move has
// no parent. Each pusher still gets exactly its own answer (its own seqs, counts, skips), the
// tree is the reference model's tree of all the ops; and a group whose union fails (two
// members with one ts and other content) is merged push by push: the bad one alone is refused,
// with nothing of it stored, and the others land.
import { expect, test } from 'vitest';
import { formatTs, type MoveOp, type Op } from '../../protocol/ops.ts';
import { pushResponseSchema } from '../../protocol/push.ts';
import { stateResponseSchema } from '../../protocol/state.ts';
import { replay } from '../model/reference.ts';
import { useTestDb } from '../pg/db.ts';
import { type Answer, useTestServer } from './harness.ts';

const db = useTestDb();
const server = useTestServer(db, { env: { TREESYNC_POOL_SIZE: '4' } });

const at = (ms: number, replica: string) => formatTs(Date.now() - 60_000 + ms, 0, replica);

interface Push {
  replica: string;
  seen: number;
  ops: Op[];
}

interface ChainPush extends Push {
  ops: MoveOp[];
}

/** Creates `tree` with w0's seed node, holds the tree's lock while `pushes` are sent, so that
 * they queue up in the server (one waits in Postgres), then lets them go. */
async function pushTogether(tree: string, token: string, pushes: Push[]): Promise<{ seed: Op; answers: Answer[] }> {
  expect((await server.call('PUT', `/v1/trees/${tree}`, { token })).status).toBe(201);
  const seed: Op = { ts: at(0, 'w0'), type: 'move', node: 'seed', parent: 'ROOT', pos: 'a' };
  const seeded = await server.call('POST', `/v1/trees/${tree}/push`, { token, body: { replica: 'w0', seen: 0, floor: seed.ts, ops: [seed] } });
  expect(seeded.status).toBe(200);

  const blocker = await db.client();
  await blocker.query('begin');
  await blocker.query('select 1 from treesync.trees where id = $1 for update', [tree]);
  const pending = Promise.all(
    pushes.map((p) => server.call('POST', `/v1/trees/${tree}/push`, {
      token, body: { replica: p.replica, seen: p.seen, floor: p.ops[0]!.ts, ops: p.ops },
    })),
  );
  const waitingOnLock = async () =>
    (await db.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
    )).rows[0]!.n;
  for (let i = 0; i < 100 && (await waitingOnLock()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  await blocker.query('commit');
  blocker.release();
  return { seed, answers: await pending };
}

async function groups(): Promise<Record<string, number>> {
  const text = String((await server.call('GET', '/metrics')).body);
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^treesync_push_groups_total\{merge="(\w+)"\} (\d+)$/gm)) counts[m[1]!] = Number(m[2]);
  return counts;
}

/** Writer w's 10 ops: a chain of new nodes under the seed, stamped so that the writers'
 * timestamps interleave (w's i-th op at 1000 + 10 i + w ms). */
function chain(w: number): MoveOp[] {
  const replica = `w${w}`;
  return Array.from({ length: 10 }, (_, i): MoveOp => ({
    ts: at(1000 + 10 * i + w, replica), type: 'move', node: `${replica}-${i}`, parent: i ? `${replica}-${i - 1}` : 'seed', pos: 'a',
  }));
}

test('a group merged as one batch: each pusher gets its own seqs and counts; the tree is the model\'s', async () => {
  const token = await server.token();
  const before = await groups();
  const pushes: Push[] = Array.from({ length: 8 }, (_, w) => ({ replica: `w${w + 1}`, seen: 1, ops: chain(w + 1) }));
  // w3 also sets a field; w5's last move goes under a node nobody made (it changes nothing).
  pushes[2]!.ops.push({ ts: at(1200, 'w3'), type: 'set', node: 'w3-0', key: 'title', value: 'three' });
  pushes[4]!.ops.push({ ts: at(1200, 'w5'), type: 'move', node: 'w5-0', parent: 'nobody', pos: 'b' });
  // w8 sends its batch again while the first is still waiting (a retry after a timeout).
  pushes.push({ ...pushes[7]! });
  const { seed, answers } = await pushTogether('union', token, pushes);

  const parsed = answers.map((a) => {
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    return pushResponseSchema.parse(a.body);
  });
  const after = await groups();
  // The one that reached Postgres first waited there alone; the others were merged as one batch.
  expect((after.union ?? 0) - (before.union ?? 0)).toBe(1);
  expect((after.each ?? 0) - (before.each ?? 0)).toBe(0);

  // w8's two attempts: one stored its ops, the other found them stored.
  const w8 = parsed.slice(7);
  expect(w8.map((a) => a.accepted + a.duplicates)).toEqual([10, 10]);
  expect(w8.map((a) => a.accepted).sort()).toEqual([0, 10]);
  parsed.slice(0, 7).forEach((a, i) => expect(a.accepted + a.duplicates, `w${i + 1}`).toBe(pushes[i]!.ops.length));
  expect(parsed.map((a) => a.skipped)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0]);

  // Each answer's seqs hold exactly its own new ops, and together they are 2 .. 83.
  const stored = await db.query<{ seq: string; ts: string }>('select seq, ts from treesync.ops where tree = $1 order by seq', ['union']);
  const tsAt = new Map(stored.rows.map((r) => [Number(r.seq), r.ts]));
  const ranges: number[] = [];
  parsed.forEach((a, i) => {
    const own = Array.from({ length: a.accepted }, (_, k) => tsAt.get(a.seq - a.accepted + 1 + k));
    expect(own.sort(), pushes[i]!.replica).toEqual(a.accepted ? pushes[i]!.ops.map((op) => op.ts).sort() : []);
    for (let s = a.seq - a.accepted + 1; s <= a.seq; s++) ranges.push(s);
  });
  expect(ranges.sort((x, y) => x - y)).toEqual(Array.from({ length: 82 }, (_, k) => k + 2));
  expect(stored.rows.length).toBe(83);

  // Each answer carries every op stored after its `seen` (1) and before its own (read for the
  // whole group in one statement), as stored: seqs 2 .. seq - accepted.
  const rows = await db.query<{ seq: string; ts: string; type: string; node: string; parent: string | null; pos: string | null; key: string | null; value: unknown }>(
    'select seq, ts, type, node, parent, pos, key, value from treesync.ops where tree = $1 order by seq', ['union'],
  );
  const asStored = rows.rows.map((r) => r.type === 'move'
    ? { seq: Number(r.seq), ts: r.ts, type: 'move', node: r.node, parent: r.parent, pos: r.pos }
    : { seq: Number(r.seq), ts: r.ts, type: 'set', node: r.node, key: r.key, value: r.value });
  parsed.forEach((a, i) => {
    expect({ ops: a.ops, more: a.more }, pushes[i]!.replica).toEqual({ ops: asStored.slice(1, a.seq - a.accepted), more: false });
  });
  expect(parsed.some((a) => a.ops.some((op) => op.type === 'set' && op.value === 'three'))).toBe(true);

  const state = stateResponseSchema.parse((await server.call('GET', '/v1/trees/union/state', { token })).body);
  expect({ nodes: state.nodes, fields: state.values }).toEqual(replay([seed, ...pushes.flatMap((p) => p.ops)]));
});

test('a group whose union fails is merged push by push: only the bad batch is refused, and leaves no trace', async () => {
  const token = await server.token();
  const before = await groups();
  const pushes: ChainPush[] = Array.from({ length: 6 }, (_, w) => ({ replica: `w${w + 1}`, seen: 1, ops: chain(w + 1) }));
  // w4 repeats the ts of one of its own ops with other content: the union cannot be merged.
  pushes[3]!.ops.push({ ...pushes[3]!.ops[2]!, parent: 'ROOT' });
  const { seed, answers } = await pushTogether('split', token, pushes);

  answers.forEach((a, w) => {
    if (w === 3) expect(a).toMatchObject({ status: 409, body: { error: { code: 'ts_conflict', index: 10 } } });
    else expect(a, JSON.stringify(a.body)).toMatchObject({ status: 200, body: { accepted: 10, duplicates: 0 } });
  });
  const after = await groups();
  expect((after.each ?? 0) - (before.each ?? 0)).toBe(1);
  expect((after.union ?? 0) - (before.union ?? 0)).toBe(0);

  const stored = await db.query<{ replica: string; n: number }>(
    `select split_part(ts, '.', 3) as replica, count(*)::int as n from treesync.ops where tree = $1 group by 1 order by 1`,
    ['split'],
  );
  expect(stored.rows.map((r) => [r.replica, r.n])).toEqual([['w0', 1], ['w1', 10], ['w2', 10], ['w3', 10], ['w5', 10], ['w6', 10]]);
  const state = stateResponseSchema.parse((await server.call('GET', '/v1/trees/split/state', { token })).body);
  expect({ nodes: state.nodes, fields: state.values }).toEqual(replay([seed, ...pushes.filter((_, w) => w !== 3).flatMap((p) => p.ops)]));
});
