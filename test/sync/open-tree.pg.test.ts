// openTree against a real server (real Postgres, real sockets, the real worker with
// wa-sqlite): bootstrap on open, local edits pushed by themselves, others' edits arriving by
// poke, sync(), setOnline(false) keeping all traffic back, a token function called again
// after a 401, change events naming parents, get and path, status.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openTree, type TreeClient, type TreeEvent } from '../../client/index.ts';
import { useTestDb } from '../pg/db.ts';
import { makeToken, useTestServer } from '../server/harness.ts';
import { clientView, stateView } from './tree-view.ts';

const db = useTestDb();
const server = useTestServer(db);
let token: string;
const clients: TreeClient[] = [];

async function open(replica: string, extra: Partial<Parameters<typeof openTree>[0]> = {}): Promise<TreeClient> {
  const c = await openTree({ url: server.url, tree: 't', token, replica, sync: { backoff: { baseMs: 20, maxMs: 200 } }, ...extra });
  clients.push(c);
  return c;
}

async function serverView() {
  const res = await server.call('GET', '/v1/trees/t/state', { token });
  return stateView(res.body);
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
  await server.call('PUT', '/v1/trees/t', { token, body: {} });
  await server.call('POST', '/v1/trees/t/push', {
    token,
    body: {
      replica: 'seed',
      seen: 0,
      floor: `${Date.now() - 1000}.00000.seed`,
      ops: [
        { ts: `${Date.now() - 1000}.00000.seed`, type: 'move', node: 'home', parent: 'ROOT', pos: 'a' },
        { ts: `${Date.now() - 1000}.00001.seed`, type: 'set', node: 'home', key: 'title', value: 'Home' },
      ],
    },
  });
});
afterAll(async () => {
  for (const c of clients) await c.close();
});

test('a new client bootstraps, edits, syncs; another sees the edits by itself (poke)', async () => {
  const a = await open('alice');
  const b = await open('bob');
  await a.sync();
  expect(await a.children('ROOT')).toEqual([{ id: 'home', pos: 'a', fields: { title: 'Home' } }]);
  const events: TreeEvent[] = [];
  b.subscribe((e) => events.push(e));
  await b.sync();
  const x = await a.create('home', { fields: { text: 'x' } });
  const y = await a.create('home', { after: x, fields: { text: 'y' } });
  await a.set(x, 'done', true);
  await a.sync();
  expect(a.status()).toMatchObject({ pending: 0, online: true, lastError: null });
  // b is never asked: the poke makes it pull.
  await until(async () => (await b.children('home')).length === 2);
  expect(await clientView(b)).toEqual(await serverView());
  expect(await clientView(a)).toEqual(await serverView());
  await until(async () => events.some((e) => e.type === 'changes' && e.parents.includes('home')));
  expect(await b.get(x)).toEqual({ id: x, parent: 'home', pos: expect.any(String), fields: { text: 'x', done: true } });
  expect(await b.path(y)).toEqual(['ROOT', 'home', y]);
  expect(await b.get('nope')).toBeNull();
  expect(await b.path('nope')).toEqual([]);
  const statusSeq = (await server.call('GET', '/v1/trees/t', { token })).body.seq;
  await b.sync();
  expect(b.status().seq).toBe(statusSeq);
});

test('setOnline(false): edits stay local, nothing reaches the server, then they sync', async () => {
  const c = await open('carol');
  await c.sync();
  const seqBefore = (await server.call('GET', '/v1/trees/t', { token })).body.seq;
  c.setOnline(false);
  const n = await c.create('ROOT', { fields: { text: 'offline' } });
  await c.move(n, 'home');
  let synced = false;
  const waiting = c.sync().then(() => (synced = true));
  await new Promise((r) => setTimeout(r, 300));
  expect(synced).toBe(false);
  expect(c.status()).toMatchObject({ online: false, pending: 3 });
  expect((await server.call('GET', '/v1/trees/t', { token })).body.seq).toBe(seqBefore);
  c.setOnline(true);
  await waiting;
  expect(c.status().pending).toBe(0);
  expect(await clientView(c)).toEqual(await serverView());
});

test('a token function is called again after a 401, and the push then lands', async () => {
  let calls = 0;
  const fresh = async () => {
    calls++;
    // The first token has expired already; the second is good.
    return calls === 1 ? makeToken({ expiresIn: -10 }) : makeToken();
  };
  const d = await open('dave', { token: fresh });
  await d.sync();
  await d.create('ROOT', { fields: { text: 'dave' } });
  await d.sync();
  expect(calls).toBeGreaterThanOrEqual(2);
  expect(await clientView(d)).toEqual(await serverView());
});

test('an error retrying cannot fix rejects sync() and shows in status', async () => {
  const other = await makeToken({ trees: ['elsewhere'] });
  const e = await open('erin', { token: other });
  await expect(e.sync()).rejects.toMatchObject({ code: 'forbidden' });
  expect(e.status().lastError).toMatchObject({ code: 'forbidden' });
});
