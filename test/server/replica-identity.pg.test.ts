// A replica's operations are its own: a push may carry only ops stamped with its own replica
// id, and a replica id belongs to the token subject that first used it on a tree, so no other
// writer can claim its timestamps (ts_conflict for its later pushes) or move its floor (stale
// ops). The push answer says how many moves changed nothing (`skipped`).
import { beforeAll, describe, expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { pushResponseSchema } from '../../protocol/push.ts';
import { move, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from './harness.ts';

const db = useTestDb();
const NOW = 1_732_212_345_000 + 3_600_000;
const server = useTestServer(db, { clock: { now: () => NOW } });

let alice: string;
let mallory: string;

const body = (replica: string, ops: Op[], seen = 0) => ({ replica, seen, floor: ops[0]!.ts, ops });
const push = (token: string, tree: string, replica: string, ops: Op[], seen = 0) =>
  server.call('POST', `/v1/trees/${tree}/push`, { token, body: body(replica, ops, seen) });

/** What a refused request must leave as it was: the tree and the replicas' rows. */
async function everything(tree: string) {
  const state = await server.call('GET', `/v1/trees/${tree}/state`, { token: alice });
  const { rows } = await db.query('select replica, floor, subject from treesync.replicas where tree = $1 order by replica', [tree]);
  return { state: state.body, replicas: rows };
}

beforeAll(async () => {
  alice = await server.token({ sub: 'alice' });
  mallory = await server.token({ sub: 'mallory' });
  for (const tree of ['t', 'other']) await server.call('PUT', `/v1/trees/${tree}`, { token: alice });
  expect((await push(alice, 't', 'phone', [move(ts(1, 'phone'), 'a', 'ROOT')])).status).toBe(200);
});

describe('a replica id belongs to the subject that first used it on the tree', () => {
  test('the first push records the subject with the floor', async () => {
    const { rows } = await db.query('select replica, subject from treesync.replicas where tree = $1', ['t']);
    expect(rows).toEqual([{ replica: 'phone', subject: 'alice' }]);
  });

  test("another subject pushing as it gets 403, and nothing changes", async () => {
    const before = await everything('t');
    const res = await push(mallory, 't', 'phone', [move(ts(50, 'phone'), 'evil', 'ROOT')], 1);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', replica: 'phone' });
    expect(res.body.error.message).toContain('belongs to another subject');
    expect(await everything('t')).toEqual(before);
  });

  test("another subject pulling as it (which would move its floor) gets 403, and nothing changes", async () => {
    const before = await everything('t');
    const res = await server.call('GET', `/v1/trees/t/pull?since=0&replica=phone&floor=${ts(9999, 'phone')}`, { token: mallory });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect(await everything('t')).toEqual(before);
  });

  test('the owner keeps pushing; the other subject uses ids of its own; ids are per tree', async () => {
    expect((await push(alice, 't', 'phone', [move(ts(60, 'phone'), 'b', 'ROOT')], 1)).status).toBe(200);
    expect((await push(mallory, 't', 'laptop', [move(ts(61, 'laptop'), 'c', 'ROOT')], 2)).status).toBe(200);
    expect((await push(mallory, 'other', 'phone', [move(ts(62, 'phone'), 'd', 'ROOT')])).status).toBe(200);
    const pulled = await server.call('GET', `/v1/trees/t/pull?since=0&replica=phone&floor=${ts(70, 'phone')}`, { token: alice });
    expect(pulled.status).toBe(200);
    const { rows } = await db.query('select tree, replica, subject from treesync.replicas order by tree, replica');
    expect(rows).toEqual([
      { tree: 'other', replica: 'phone', subject: 'mallory' },
      { tree: 't', replica: 'laptop', subject: 'mallory' },
      { tree: 't', replica: 'phone', subject: 'alice' },
    ]);
  });

  test('a replica recorded before subjects were (subject null) is claimed by the next subject', async () => {
    await db.query('select treesync.note_replica($1, $2, $3)', ['t', 'old', ts(80, 'old')]);
    await db.query('select treesync.note_replica($1, $2, $3, $4)', ['t', 'old', ts(81, 'old'), 'alice']);
    const err = await db
      .query('select treesync.note_replica($1, $2, $3, $4)', ['t', 'old', ts(82, 'old'), 'mallory'])
      .catch((e: { code: string }) => e);
    expect(err).toMatchObject({ code: 'TS007' });
    const { rows } = await db.query('select floor, subject from treesync.replicas where replica = $1', ['old']);
    expect(rows).toEqual([{ floor: ts(81, 'old'), subject: 'alice' }]);
  });
});

describe("a push carries only the pushing replica's operations", () => {
  test("an op stamped with another replica's id is invalid_op with its index, and nothing changes", async () => {
    const before = await everything('t');
    const res = await push(alice, 't', 'phone', [move(ts(90, 'phone'), 'e', 'ROOT'), move(ts(91, 'tablet'), 'f', 'ROOT')], 4);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_op', index: 1, ts: ts(91, 'tablet') });
    expect(res.body.error.message).toMatch(/^operation 1: ts \S+ names replica tablet, but the push is from replica phone/);
    expect(await everything('t')).toEqual(before);
  });
});

test('the push answer counts the moves that changed nothing (a cycle, a missing parent)', async () => {
  await server.call('PUT', '/v1/trees/skips', { token: alice });
  const res = await push(alice, 'skips', 'desk', [
    move(ts(100, 'desk'), 'A', 'ROOT'),
    move(ts(101, 'desk'), 'B', 'A'),
    move(ts(102, 'desk'), 'A', 'B'), // a cycle
    move(ts(103, 'desk'), 'C', 'nowhere'), // no such parent
  ]);
  expect(res.status).toBe(200);
  expect(pushResponseSchema.parse(res.body)).toMatchObject({ seq: 4, accepted: 4, duplicates: 0, skipped: 2 });
  // A retry stores nothing and skips nothing new.
  const again = await push(alice, 'skips', 'desk', [move(ts(102, 'desk'), 'A', 'B')], 4);
  expect(again.body).toMatchObject({ accepted: 0, duplicates: 1, skipped: 0 });
});
