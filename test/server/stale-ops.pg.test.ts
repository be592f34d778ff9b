// The stability frontier over HTTP: replicas say their floor when they push and pull; a push of
// operations older than the smallest floor of the replicas seen lately is refused with
// 409 stale_ops, naming them, and stores nothing.
import { beforeAll, expect, test } from 'vitest';
import { move, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from './harness.ts';

const db = useTestDb();
const NOW = 1_732_212_345_000 + 3_600_000;
const server = useTestServer(db, { clock: { now: () => NOW } });
let token: string;

beforeAll(async () => {
  token = await server.token();
  await server.call('PUT', '/v1/trees/t', { token, body: {} });
});

test('a replica away longer than the others floors is refused with stale_ops, and nothing is stored', async () => {
  // alice pushes (floor: her op) and bob pulls (floor: his clock): the frontier is alice's.
  const alice = await server.call('POST', '/v1/trees/t/push', {
    token,
    body: { replica: 'alice', seen: 0, floor: ts(100, 'alice'), ops: [move(ts(100, 'alice'), 'a', 'ROOT')] },
  });
  expect(alice.status).toBe(200);
  const bob = await server.call('GET', `/v1/trees/t/pull?since=0&replica=bob&floor=${ts(200, 'bob')}`, { token });
  expect(bob.status).toBe(200);
  const rows = await db.query('select replica, floor from treesync.replicas where tree = $1 order by replica', ['t']);
  expect(rows.rows).toEqual([
    { replica: 'alice', floor: ts(100, 'alice') },
    { replica: 'bob', floor: ts(200, 'bob') },
  ]);

  // carol was never seen (she was away longer than the retention window): her old edit is stale.
  const before = await server.call('GET', '/v1/trees/t/state', { token });
  const carol = await server.call('POST', '/v1/trees/t/push', {
    token,
    body: {
      replica: 'carol',
      seen: 0,
      floor: ts(50, 'carol'),
      ops: [move(ts(50, 'carol'), 'c', 'ROOT'), move(ts(150, 'carol'), 'd', 'ROOT')],
    },
  });
  expect(carol.status).toBe(409);
  expect(carol.body).toMatchObject({
    error: { code: 'stale_ops', stale: [ts(50, 'carol')], frontier: ts(100, 'alice') },
  });
  expect((await server.call('GET', '/v1/trees/t/state', { token })).body).toEqual(before.body);
  expect(before.body).toMatchObject({ seq: 1 });
});
