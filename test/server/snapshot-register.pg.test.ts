// A snapshot request with `replica` and `floor` records the replica's floor before the snapshot
// is read, so the first offline edits of a device that just bootstrapped are not stale; one of
// the two alone, a bad value, or another subject's replica is refused and records nothing.
import { beforeAll, expect, test } from 'vitest';
import { move, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { makeToken, useTestServer } from './harness.ts';

const db = useTestDb();
const NOW = 1_732_212_345_000 + 3_600_000;
const server = useTestServer(db, { clock: { now: () => NOW } });
let token: string;

async function floors() {
  return (await db.query('select replica, floor, subject from treesync.replicas where tree = $1 order by replica', ['t'])).rows;
}

beforeAll(async () => {
  token = await server.token();
  await server.call('PUT', '/v1/trees/t', { token, body: {} });
});

test('the floor is recorded with the snapshot, and holds the frontier for the new replica', async () => {
  const res = await fetch(`${server.url}/v1/trees/t/snapshot?replica=newdev&floor=${ts(100, 'newdev')}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  expect(await floors()).toEqual([{ replica: 'newdev', floor: ts(100, 'newdev'), subject: 'tester' }]);
  // Another replica pushes far newer work; the frontier stays at newdev's floor, so newdev's
  // edit made right after its snapshot (offline, older than alice's) is accepted.
  const alice = await server.call('POST', '/v1/trees/t/push', {
    token,
    body: { replica: 'alice', seen: 0, floor: ts(900, 'alice'), ops: [move(ts(900, 'alice'), 'a', 'ROOT')] },
  });
  expect(alice.status).toBe(200);
  const late = await server.call('POST', '/v1/trees/t/push', {
    token,
    body: { replica: 'newdev', seen: 0, floor: ts(150, 'newdev'), ops: [move(ts(150, 'newdev'), 'b', 'ROOT')] },
  });
  expect(late.status, JSON.stringify(late.body)).toBe(200);
  expect(late.body).toMatchObject({ accepted: 1 });
});

test('replica without floor (or floor without replica) and bad values are 400 and record nothing', async () => {
  const before = await floors();
  for (const query of ['replica=x', `floor=${ts(1, 'x')}`, `replica=bad!id&floor=${ts(1, 'x')}`, 'replica=x&floor=yesterday']) {
    const res = await server.call('GET', `/v1/trees/t/snapshot?${query}`, { token });
    expect(res.status, query).toBe(400);
    expect(res.body.error.code, query).toBe('invalid_request');
  }
  expect(await floors()).toEqual(before);
});

test("another subject's replica is 403; an unknown tree is 404", async () => {
  const other = await makeToken({ sub: 'mallory' });
  const res = await server.call('GET', `/v1/trees/t/snapshot?replica=newdev&floor=${ts(5000, 'newdev')}`, { token: other });
  expect(res.status).toBe(403);
  expect(res.body.error.code).toBe('forbidden');
  expect((await floors()).find((r) => r.replica === 'newdev')?.floor).toBe(ts(150, 'newdev'));
  const missing = await server.call('GET', `/v1/trees/nope/snapshot?replica=newdev&floor=${ts(5000, 'newdev')}`, { token });
  expect(missing.status).toBe(404);
  expect(missing.body.error.code).toBe('tree_not_found');
});
