// A token function whose tokens expire (a short TTL, as an app's auth backend would give),
// against a real server: when the events WebSocket has to reconnect after its token expired,
// the refused upgrade makes the client ask the app for a fresh token, so pokes keep arriving
// without the app doing anything (the HTTP path's 401 refresh is open-tree.pg.test.ts's).
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openTree, type TreeClient } from '../../client/index.ts';
import { useTestDb } from '../pg/db.ts';
import { makeToken, useTestServer } from '../server/harness.ts';

const db = useTestDb();
const server = useTestServer(db);
const clients: TreeClient[] = [];
const TTL_SECONDS = 2;

async function until(check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  await server.call('PUT', '/v1/trees/t', { token: await server.token(), body: {} });
});
afterAll(async () => {
  for (const c of clients) await c.close();
});

test('after its token expired, a dropped events socket reconnects with a fresh token and pokes arrive again', async () => {
  let issued = 0;
  const shortLived = async () => {
    issued++;
    return makeToken({ expiresIn: TTL_SECONDS });
  };
  const backoff = { baseMs: 20, maxMs: 200 };
  const a = await openTree({ url: server.url, tree: 't', token: shortLived, replica: 'alice', sync: { backoff } });
  clients.push(a);
  const b = await openTree({ url: server.url, tree: 't', token: await makeToken(), replica: 'bob', sync: { backoff } });
  clients.push(b);
  await a.sync();
  await b.sync();
  await until(async () => server.running.deps.pokes.size === 2, 10_000);
  const before = issued;

  // a's token expires while nothing needs HTTP; then its socket drops (as at a server restart).
  await new Promise((r) => setTimeout(r, (TTL_SECONDS + 1) * 1000));
  await server.running.deps.pokes.closeAll(1001, 'test: dropped');

  // b's edit reaches a by a poke: a never calls sync() here, so only a reopened socket brings it.
  const id = await b.create('ROOT', { fields: { text: 'from bob' } });
  await b.sync();
  await until(async () => (await a.get(id)) !== null, 15_000);
  expect(issued).toBeGreaterThan(before);
  expect(await a.get(id)).toMatchObject({ id, parent: 'ROOT', fields: { text: 'from bob' } });
}, 60_000);
