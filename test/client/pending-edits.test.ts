/**
 * openTree's `pending` and `settled` events (tree-client.ts): each edit is told inside its call,
 * before the worker has made it, then answered. Real worker, real wa-sqlite; the tree stays
 * offline (no server is needed for local edits).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openTree, type TreeClient, type TreeEvent } from '../../client/index.ts';

type EditEvent = Extract<TreeEvent, { type: 'pending' | 'settled' }>;

// One tree for the file (a worker takes seconds to start on a busy machine); the tests run in
// order, the last one closes it.
let tree: TreeClient;
let events: EditEvent[] = [];
beforeAll(async () => {
  tree = await openTree({ url: 'http://127.0.0.1:9', tree: 'pending', sync: { online: false } });
  tree.subscribe((e) => {
    if (e.type === 'pending' || e.type === 'settled') events.push(e);
  });
});
afterAll(() => tree.close());

test('each edit is pending inside its call, with the id a create will have, then settled', async () => {
  events = [];
  const creating = tree.create('ROOT', { fields: { text: 'a' } });
  // Told before the call returned, before any await.
  expect(events).toHaveLength(1);
  const pending = events[0]!;
  expect(pending).toMatchObject({ type: 'pending', edit: 1, change: { kind: 'create', parent: 'ROOT', fields: { text: 'a' } } });
  const id = await creating;
  expect(pending.type === 'pending' && pending.change.kind === 'create' && pending.change.node).toBe(id);
  expect(await tree.get(id)).toMatchObject({ id, parent: 'ROOT', fields: { text: 'a' } });

  const b = await tree.create('ROOT', { after: id });
  await tree.move(b, 'ROOT', { before: id });
  await tree.set(b, 'text', 'b');
  await tree.delete(b);
  await tree.undelete(b);
  expect(events.slice(2).map((e) => (e.type === 'pending' ? [e.edit, e.change] : [e.edit, e.type, e.error]))).toEqual([
    [2, { kind: 'create', node: b, parent: 'ROOT', after: id, fields: {} }],
    [2, 'settled', null],
    [3, { kind: 'move', node: b, parent: 'ROOT', before: id }],
    [3, 'settled', null],
    [4, { kind: 'set', node: b, key: 'text', value: 'b' }],
    [4, 'settled', null],
    [5, { kind: 'delete', node: b }],
    [5, 'settled', null],
    [6, { kind: 'undelete', node: b }],
    [6, 'settled', null],
  ]);
  // Undeleted back to the key its delete took it from: before `id`.
  expect((await tree.children('ROOT')).map((c) => c.id)).toEqual([b, id]);
});

test('a refused edit is pending, then settled with the error the call rejects with, and changes nothing', async () => {
  events = [];
  const x = await tree.create('ROOT');
  const y = await tree.create(x);
  const before = await tree.children('ROOT');
  await expect(tree.move(x, y)).rejects.toMatchObject({ code: 'invalid_request', message: `${x} cannot move under ${y}: it is one of its ancestors` });
  expect(events.slice(-2)).toEqual([
    { type: 'pending', edit: 9, change: { kind: 'move', node: x, parent: y } },
    { type: 'settled', edit: 9, error: { code: 'invalid_request', message: `${x} cannot move under ${y}: it is one of its ancestors` } },
  ]);
  expect(await tree.children('ROOT')).toEqual(before);
  expect(await tree.children(x)).toEqual([expect.objectContaining({ id: y })]);
  expect(await tree.get(y)).toMatchObject({ parent: x });
});

test('a closed tree rejects an edit without a pending event', async () => {
  events = [];
  await tree.close();
  await expect(tree.set('ROOT', 'text', 'x')).rejects.toMatchObject({ code: 'invalid_request' });
  expect(events).toEqual([]);
});
