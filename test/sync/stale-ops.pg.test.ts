// stale_ops recovery: a client away longer than the retention window comes back with edits
// older than the tree's frontier. Its push is refused (409 stale_ops); the loop gives exactly
// the refused ops fresh timestamps past the frontier, reloads the tree, pushes again, and the
// edits land with their content — nothing the person did is lost, and the client equals the
// server. Time passing is the database's `seen_at` moved back 31 days (the real server and
// Postgres do the rest).
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openTree, type TreeClient } from '../../client/index.ts';
import type { Op } from '../../protocol/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from '../server/harness.ts';
import { clientView, stateView } from './tree-view.ts';

const db = useTestDb();
const server = useTestServer(db);
let token: string;
const clients: TreeClient[] = [];

beforeAll(async () => {
  token = await server.token();
  await server.call('PUT', '/v1/trees/t', { token, body: {} });
});
afterAll(async () => {
  for (const c of clients) await c.close();
});

async function open(replica: string): Promise<TreeClient> {
  const c = await openTree({ url: server.url, tree: 't', token, replica, sync: { backoff: { baseMs: 10, maxMs: 100 } } });
  clients.push(c);
  return c;
}

test('refused ops are re-stamped past the frontier and land, with their content, once each', async () => {
  const away = await open('away');
  const made: Op[] = [];
  away.subscribe((e) => {
    if (e.type === 'edit') made.push(...e.ops);
  });
  await away.sync();
  away.setOnline(false);
  const a = await away.create('ROOT', { fields: { text: 'written offline' } });
  const b = await away.create(a);
  await away.set(b, 'done', true);
  await new Promise((r) => setTimeout(r, 20));
  // Thirty-one days pass: the away replica is no longer counted in the frontier.
  await db.query(`update treesync.replicas set seen_at = now() - interval '31 days' where tree = 't' and replica = 'away'`);
  const here = await open('here');
  await here.create('ROOT', { fields: { text: 'newer' } });
  await here.sync();
  const frontier = (await db.query(`select treesync.frontier('t') as f`)).rows[0].f as string;
  expect(made.every((op) => op.ts < frontier)).toBe(true);

  away.setOnline(true);
  await away.sync();
  await here.sync();
  const held = (await db.query(`select ts, type, node, key, value from treesync.ops where tree = 't' and ts like '%.away' order by ts`)).rows;
  // The same edits, each once, every one stamped anew past the frontier.
  expect(held.map((r) => [r.type, r.node, r.key])).toEqual(made.map((op) => [op.type, op.node, op.type === 'set' ? op.key : null]));
  expect(held.every((r) => r.ts > frontier)).toBe(true);
  const state = stateView((await server.call('GET', '/v1/trees/t/state', { token })).body);
  expect(await clientView(away)).toEqual(state);
  expect(await clientView(here)).toEqual(state);
  expect(state.find((r) => r.id === b)).toMatchObject({ parent: a, fields: { done: true } });
  expect(away.status()).toMatchObject({ pending: 0, lastError: null });
});
