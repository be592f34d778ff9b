// The trash and undelete through openTree against a real server (real Postgres, the real
// worker with wa-sqlite): a client lists what another deleted as the server's trash listing
// does, undeletes it, and every replica converges; after truncation, the server and the replicas
// that had the delete's log row still list its origin alike, while a client that bootstrapped
// from the truncated snapshot lists the old delete without its origin and puts it back at the
// end of ROOT.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openTree, type TreeClient } from '../../client/index.ts';
import { trashResponseSchema } from '../../protocol/trash.ts';
import { truncateTree } from '../../server/lifecycle/truncate-tree.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from '../server/harness.ts';
import { clientView, stateView } from '../sync/tree-view.ts';

const db = useTestDb();
const server = useTestServer(db);
let token: string;
const clients: TreeClient[] = [];

async function open(replica: string): Promise<TreeClient> {
  const c = await openTree({ url: server.url, tree: 'u', token, replica, sync: { backoff: { baseMs: 20, maxMs: 200 } } });
  clients.push(c);
  return c;
}

async function serverView() {
  return stateView((await server.call('GET', '/v1/trees/u/state', { token })).body);
}

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  token = await server.token();
  await server.call('PUT', '/v1/trees/u', { token, body: {} });
});
afterAll(async () => {
  for (const c of clients) await c.close();
});

test("one client undeletes what another deleted; its trash says what the server's does; all converge", async () => {
  const alice = await open('alice');
  const bob = await open('bob');
  const folder = await alice.create('ROOT', { fields: { title: 'folder' } });
  const x = await alice.create(folder, { fields: { text: 'x' } });
  const y = await alice.create(folder, { after: x, fields: { text: 'y' } });
  const z = await alice.create(folder, { after: y });
  const posY = (await alice.children(folder))[1]!.pos;
  await alice.sync();
  await alice.delete(y);
  await alice.sync();
  await bob.sync();

  const listed = trashResponseSchema.parse((await server.call('GET', '/v1/trees/u/trash', { token })).body).entries;
  const local = await bob.trash();
  expect(local.map(({ fields: _, ...entry }) => entry)).toEqual(listed);
  expect(local).toEqual([{ node: y, ts: expect.stringMatching(/\.alice$/), replica: 'alice', parent: folder, pos: posY, parentExists: true, fields: { text: 'y' } }]);

  await bob.undelete(y);
  await bob.sync();
  await until(async () => (await alice.trash()).length === 0);
  await alice.sync();
  expect((await alice.children(folder)).map((c) => [c.id, c.pos])).toEqual([[x, expect.any(String)], [y, posY], [z, expect.any(String)]]);
  expect(await clientView(alice)).toEqual(await serverView());
  expect(await clientView(bob)).toEqual(await serverView());
});

test("after truncation, the server's listing and the replicas' still agree on a delete older than the log; a replica bootstrapped since lists it without origin", async () => {
  const [alice, bob] = clients as [TreeClient, TreeClient];
  const [folder] = (await alice.children('ROOT')).map((c) => c.id);
  const [x] = (await alice.children(folder!)).map((c) => c.id);
  await alice.delete(x!);
  await alice.sync();
  await bob.sync();
  // Both replicas' floors move past the delete (their next sync says so): F is above it.
  await new Promise((r) => setTimeout(r, 5));
  await alice.set(folder!, 'touched', true);
  await alice.sync();
  await bob.sync();
  const cut = await truncateTree(db.pool, 'u');
  expect(cut.frontier! > (await alice.trash())[0]!.ts!).toBe(true);
  expect(cut.moves).toBeGreaterThan(0);

  // The server kept what the listing needs, as alice and bob did (trash_origins).
  const listed = trashResponseSchema.parse((await server.call('GET', '/v1/trees/u/trash', { token })).body).entries;
  expect(listed).toEqual([{ node: x, ts: expect.stringMatching(/\.alice$/), replica: 'alice', parent: folder, pos: expect.any(String), parentExists: true }]);
  for (const c of [alice, bob]) expect((await c.trash()).map(({ fields: _, ...entry }) => entry)).toEqual(listed);

  const carol = await open('carol'); // bootstraps from the truncated snapshot
  await carol.sync();
  expect(await carol.trash()).toEqual([{ node: x, ts: null, replica: null, parent: null, pos: null, parentExists: false, fields: { text: 'x' } }]);
  await carol.undelete(x!);
  expect((await carol.children('ROOT')).map((c) => c.id).at(-1)).toBe(x);
  await carol.sync();
  await until(async () => (await alice.trash()).length === 0 && (await bob.trash()).length === 0);
  await Promise.all([alice.sync(), bob.sync()]);
  const view = await serverView();
  for (const c of [alice, bob, carol]) expect(await clientView(c)).toEqual(view);
});
