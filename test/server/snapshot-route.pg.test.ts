// The snapshot through the whole server: auth, the route, the framed stream, read back with the
// client's reader, equals GET /state at the same seq; with and without gzip.
import { beforeAll, expect, test } from 'vitest';
import { readSnapshot } from '../../client/snapshot-reader.ts';
import type { SectionRows, SnapshotHeader } from '../../protocol/snapshot-format.ts';
import type { Op } from '../../protocol/ops.ts';
import { stateResponseSchema } from '../../protocol/state.ts';
import { move, set, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from './harness.ts';

const db = useTestDb();
const NOW = 1_732_212_345_000 + 3_600_000;
const server = useTestServer(db, { clock: { now: () => NOW } });
let token: string;

async function push(replica: string, ops: Op[]) {
  const res = await server.call('POST', '/v1/trees/t/push', {
    token,
    body: { replica, seen: 0, floor: ops.map((o) => o.ts).sort()[0], ops },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

beforeAll(async () => {
  token = await server.token();
  // Delete-wins: bob's offline delete of n3 stays a delete (no restore move in the log).
  await server.call('PUT', '/v1/trees/t', { token, body: { deletes: 'win' } });
  // bob was seen before alice pushed (his floor holds the frontier back), then edits offline.
  await server.call('GET', `/v1/trees/t/pull?since=0&replica=bob&floor=${ts(0, 'bob')}`, { token });
  const ops: Op[] = [];
  for (let i = 0; i < 300; i++) ops.push(move(ts(1000 + i, 'alice'), `n${i}`, i < 10 ? 'ROOT' : `n${(i * 7) % i}`, `p${i % 5}`));
  for (let i = 0; i < 50; i++) ops.push(set(ts(2000 + i, 'alice'), `n${i}`, 'text', { i, s: `ünïcode ${i}` }));
  await push('alice', ops);
  // A late branch (undo and redo), deletes, and a removed field.
  await push('bob', [
    move(ts(500, 'bob'), 'late', 'ROOT', 'z'),
    move(ts(1500, 'bob'), 'n3', 'TRASH'),
    set(ts(3000, 'bob'), 'n1', 'text', null),
  ]);
});

async function fetchSnapshot(gzip: boolean) {
  const res = await fetch(`${server.url}/v1/trees/t/snapshot`, {
    headers: { authorization: `Bearer ${token}`, 'accept-encoding': gzip ? 'gzip' : 'identity' },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/vnd.treesync.snapshot');
  let header: SnapshotHeader | undefined;
  const rows: { [S in keyof SectionRows]: SectionRows[S][] } = { nodes: [], fields: [], moves: [] };
  // fetch undoes the gzip itself; the reader sees the framed stream.
  for await (const event of readSnapshot(res.body!)) {
    if (event.kind === 'header') header = event.header;
    else (rows[event.section] as unknown[]).push(...event.rows);
  }
  return { encoding: res.headers.get('content-encoding'), header: header!, rows };
}

test.each([false, true])('a snapshot (gzip %s) read back equals GET /state at its seq', async (gzip) => {
  const snapshot = await fetchSnapshot(gzip);
  expect(snapshot.encoding).toBe(gzip ? 'gzip' : null);
  const state = stateResponseSchema.parse((await server.call('GET', '/v1/trees/t/state', { token })).body);
  expect(snapshot.header).toMatchObject({ tree: 't', seq: state.seq });
  expect(snapshot.rows.nodes).toEqual(state.nodes);
  const present = snapshot.rows.fields
    .map((f) => ({ node: f.node, key: f.key, value: JSON.parse(f.value) as unknown }))
    .filter((f) => f.value !== null);
  expect(present).toEqual(state.values);
  // The removed field is there as a tombstone, and the move log is whole, in ts order.
  expect(snapshot.rows.fields).toContainEqual(expect.objectContaining({ node: 'n1', key: 'text', value: 'null' }));
  expect(snapshot.rows.moves).toHaveLength(302);
  expect(snapshot.header.counts).toEqual({ nodes: state.nodes.length, fields: 50, moves: 302 });
});

test('an unknown tree is 404 tree_not_found', async () => {
  const res = await server.call('GET', '/v1/trees/nope/snapshot', { token });
  expect(res.status).toBe(404);
  expect(res.body).toMatchObject({ error: { code: 'tree_not_found' } });
});
