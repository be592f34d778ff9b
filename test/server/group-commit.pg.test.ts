// Pushes to one tree at once through a real server are merged in shared transactions (group
// commit), and each still gets its own answer: the good ones their seqs, a bad batch and a
// push that is ahead of the tree their own errors, with nothing of theirs stored.
import { expect, test } from 'vitest';
import { formatTs, type MoveOp, type Op } from '../../protocol/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from './harness.ts';

const db = useTestDb();
const server = useTestServer(db, { env: { TREESYNC_POOL_SIZE: '4' } });
const TREE = 'grouped';
const WRITERS = 12;

const at = (ms: number, replica: string) => formatTs(Date.now() - 60_000 + ms, 0, replica);

test('12 pushes at once, one of them a conflicting batch and one ahead of the tree', async () => {
  const token = await server.token();
  await server.call('PUT', `/v1/trees/${TREE}`, { token });
  const first: Op = { ts: at(0, 'seed'), type: 'move', node: 'seed', parent: 'ROOT', pos: 'a' };
  const seeded = await server.call('POST', `/v1/trees/${TREE}/push`, {
    token, body: { replica: 'seed', seen: 0, floor: first.ts, ops: [first] },
  });
  expect(seeded.status).toBe(200);

  const batches = Array.from({ length: WRITERS }, (_, w): { replica: string; seen: number; ops: Op[] } => {
    const replica = `w${w}`;
    const ops: Op[] = Array.from({ length: 20 }, (_, i) => ({
      ts: at(1000 + i, replica), type: 'move', node: `${replica}-${i}`, parent: i ? `${replica}-${i - 1}` : 'seed', pos: 'a',
    }));
    // w3 repeats one of its ts with other content (ts_conflict; a replica pushes only its own
    // ts, so it cannot reuse the seed's); w7 claims a seq the tree never had.
    if (w === 3) ops.push({ ...(ops[0] as MoveOp), parent: 'TRASH' });
    return { replica, seen: w === 7 ? 10_000 : 1, ops };
  });
  // Hold the tree's lock meanwhile: the pushes pile up behind it. Merged one group at a time,
  // only one of them waits in Postgres (the rest wait in the server, to be merged together),
  // where pushes each in their own transaction would take every pooled connection (4).
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
    else if (w === 7) expect(answer).toMatchObject({ status: 409, body: { error: { code: 'reset_required' } } });
    else expect(answer, JSON.stringify(answer.body)).toMatchObject({ status: 200, body: { accepted: 20, duplicates: 0 } });
  });
  // Each good push's seqs are its own 20, and together they are 2 .. 201 without a gap.
  const good = answers.filter((_, w) => w !== 3 && w !== 7).map((a) => a.body.seq as number).sort((a, b) => a - b);
  expect(good).toEqual(Array.from({ length: WRITERS - 2 }, (_, i) => 1 + 20 * (i + 1)));

  const stored = await db.query<{ replica: string; n: number }>(
    `select split_part(ts, '.', 3) as replica, count(*)::int as n
       from treesync.ops where tree = $1 group by 1 order by 1`,
    [TREE],
  );
  expect(stored.rows.map((r) => [r.replica, r.n])).toEqual(
    ['seed', ...batches.filter((_, w) => w !== 3 && w !== 7).map((b) => b.replica)].sort().map((r) => [r, r === 'seed' ? 1 : 20]),
  );
  const nodes = await db.query<{ n: number }>('select count(*)::int as n from treesync.nodes where tree = $1', [TREE]);
  expect(nodes.rows[0]!.n).toBe(2 + 1 + 20 * (WRITERS - 2));
});
