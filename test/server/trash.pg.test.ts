// `GET /v1/trees/:tree/trash`: the tops of deleted subtrees, newest delete first, with who
// deleted and where from; undelete is an ordinary move back to that place.
import { expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { trashResponseSchema } from '../../protocol/trash.ts';
import { move, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from './harness.ts';

const db = useTestDb();
const server = useTestServer(db);

async function push(tree: string, replica: string, ops: Op[], seen = 0) {
  const res = await server.call('POST', `/v1/trees/${tree}/push`, {
    token: await server.token(),
    body: { replica, seen, floor: ops[0]!.ts, ops },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { seq: number };
}

async function trash(tree: string, query = '') {
  const res = await server.call('GET', `/v1/trees/${tree}/trash${query}`, { token: await server.token() });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return trashResponseSchema.parse(res.body);
}

test('lists the tops of deleted subtrees, newest first, and undelete moves one back', async () => {
  await server.call('PUT', '/v1/trees/bin', { token: await server.token() });
  const { seq } = await push('bin', 'alice', [
    move(ts(1), 'A', 'ROOT', 'a'),
    move(ts(2), 'B', 'A', 'b'),
    move(ts(3), 'C', 'ROOT', 'c'),
    move(ts(4), 'J', 'TRASH', 'j'), // created in the trash
  ]);
  await push('bin', 'bob', [move(ts(10, 'bob'), 'A', 'TRASH', 't1')], seq);
  await push('bin', 'carol', [move(ts(11, 'carol'), 'C', 'TRASH', 't2')], seq + 1);

  const listed = await trash('bin');
  expect(listed).toEqual({
    tree: 'bin',
    seq: 6,
    more: false,
    entries: [
      { node: 'C', ts: ts(11, 'carol'), replica: 'carol', parent: 'ROOT', pos: 'c', parentExists: true },
      { node: 'A', ts: ts(10, 'bob'), replica: 'bob', parent: 'ROOT', pos: 'a', parentExists: true },
      { node: 'J', ts: ts(4), replica: 'alice', parent: null, pos: null, parentExists: false },
    ],
  });
  // B is inside A's subtree, not a top of its own.
  expect(listed.entries.map((e) => e.node)).not.toContain('B');

  const page = await trash('bin', '?limit=2');
  expect(page.entries.map((e) => e.node)).toEqual(['C', 'A']);
  expect(page.more).toBe(true);

  // Undelete A: an ordinary move to where the listing says.
  const a = listed.entries.find((e) => e.node === 'A')!;
  await push('bin', 'alice', [move(ts(20), 'A', a.parent!, a.pos!)], 6);
  expect((await trash('bin')).entries.map((e) => e.node)).toEqual(['C', 'J']);
});

test('a parent that no longer exists is reported, so undelete goes to ROOT', async () => {
  await server.call('PUT', '/v1/trees/bin-gone', { token: await server.token() });
  await push('bin-gone', 'alice', [move(ts(1), 'P', 'ROOT', 'p'), move(ts(2), 'X', 'P', 'x'), move(ts(3), 'X', 'TRASH', 't')]);
  // As a purge of P's subtree would leave it (purging is not part of this test).
  await db.query(`delete from treesync.nodes where tree = 'bin-gone' and id = 'P'`);
  expect((await trash('bin-gone')).entries).toEqual([
    { node: 'X', ts: ts(3), replica: 'alice', parent: 'P', pos: 'x', parentExists: false },
  ]);
});

test('an unknown tree is 404, a bad limit 400', async () => {
  const token = await server.token();
  expect((await server.call('GET', '/v1/trees/nope/trash', { token })).status).toBe(404);
  await server.call('PUT', '/v1/trees/bin-bad', { token });
  for (const limit of ['0', '-1', 'x', '1.5']) {
    const res = await server.call('GET', `/v1/trees/bin-bad/trash?limit=${limit}`, { token });
    expect(res, limit).toMatchObject({ status: 400 });
  }
});
