// Pushes to one tree at once through a real server are merged in shared transactions (group
// commit), and each still gets its own answer: the good ones their seqs, a bad batch, a push
// that is ahead of the tree and one whose `seen` is below what the tree keeps their own
// errors, with nothing of theirs stored.
import { expect, test } from 'vitest';
import { formatTs, type Op } from '../../protocol/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from './harness.ts';

const db = useTestDb();
const server = useTestServer(db, { env: { TREESYNC_POOL_SIZE: '4' } });
const TREE = 'grouped';
const WRITERS = 13;

const at = (ms: number, replica: string) => formatTs(Date.now() - 60_000 + ms, 0, replica);

test('13 pushes at once, one of them a conflicting batch, one ahead of the tree, one behind what it keeps', async () => {
  const token = await server.token();
  await server.call('PUT', `/v1/trees/${TREE}`, { token });
  // The seed is w3's: an op's ts names the replica that pushes it, so w3 can later send the
  // seed's ts with other content.
  const first: Op = { ts: at(0, 'w3'), type: 'move', node: 'seed', parent: 'ROOT', pos: 'a' };
  const seeded = await server.call('POST', `/v1/trees/${TREE}/push`, {
    token, body: { replica: 'w3', seen: 0, floor: first.ts, ops: [first] },
  });
  expect(seeded.status).toBe(200);

  const batches = Array.from({ length: WRITERS }, (_, w): { replica: string; seen: number; ops: Op[] } => {
    const replica = `w${w}`;
    const ops: Op[] = Array.from({ length: 20 }, (_, i) => ({
      ts: at(1000 + i, replica), type: 'move', node: `${replica}-${i}`, parent: i ? `${replica}-${i - 1}` : 'seed', pos: 'a',
    }));
    // w3 sends its seed's ts again with other content (ts_conflict); w7 claims a seq the tree
    // never had; w12 has seen nothing, and the tree no longer keeps seq 1 (below).
    if (w === 3) ops.push({ ...first, parent: 'TRASH' });
    return { replica, seen: w === 7 ? 10_000 : w === 12 ? 0 : 1, ops };
  });
  // Hold the tree's lock meanwhile: the pushes pile up behind it. Merged one group at a time,
  // only one of them waits in Postgres (the rest wait in the server, to be merged together),
  // where pushes each in their own transaction would take every pooled connection (4).
  // As if truncation had passed seq 1 (sql/000006): read by the group, which admits the pushes.
  await db.query('update treesync.trees set kept_seq = 1 where id = $1', [TREE]);
  const blocker = await db.client();
  await blocker.query('begin');
  await blocker.query('select 1 from treesync.trees where id = $1 for update', [TREE]);
  const pending = Promise.all(
    batches.map((b) => server.call('POST', `/v1/trees/${TREE}/push`, {
      token, body: { replica: b.replica, seen: b.seen, floor: b.ops[0]!.ts, ops: b.ops },
    })),
  );
  const waitingOnLock = async () =>
    (await db.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
    )).rows[0]!.n;
  for (let i = 0; i < 100 && (await waitingOnLock()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  expect(await waitingOnLock()).toBe(1);
  await blocker.query('commit');
  blocker.release();
  const answers = await pending;

  answers.forEach((answer, w) => {
    if (w === 3) expect(answer).toMatchObject({ status: 409, body: { error: { code: 'ts_conflict' } } });
    else if (w === 7) expect(answer).toMatchObject({ status: 409, body: { error: { code: 'reset_required', message: expect.stringContaining('ahead') } } });
    else if (w === 12) expect(answer).toMatchObject({ status: 409, body: { error: { code: 'reset_required', seq: 1, message: expect.stringContaining('below') } } });
    else expect(answer, JSON.stringify(answer.body)).toMatchObject({ status: 200, body: { accepted: 20, duplicates: 0 } });
  });
  // Each good push's seqs are its own 20, and together they are 2 .. 201 without a gap.
  const bad = new Set([3, 7, 12]);
  const good = answers.filter((_, w) => !bad.has(w)).map((a) => a.body.seq as number).sort((a, b) => a - b);
  expect(good).toEqual(Array.from({ length: WRITERS - 3 }, (_, i) => 1 + 20 * (i + 1)));

  const stored = await db.query<{ replica: string; n: number }>(
    `select split_part(ts, '.', 3) as replica, count(*)::int as n
       from treesync.ops where tree = $1 group by 1 order by 1`,
    [TREE],
  );
  expect(stored.rows.map((r) => [r.replica, r.n])).toEqual(
    ['w3', ...batches.filter((_, w) => !bad.has(w)).map((b) => b.replica)].sort().map((r) => [r, r === 'w3' ? 1 : 20]),
  );
  const nodes = await db.query<{ n: number }>('select count(*)::int as n from treesync.nodes where tree = $1', [TREE]);
  expect(nodes.rows[0]!.n).toBe(2 + 1 + 20 * (WRITERS - 3));
});
