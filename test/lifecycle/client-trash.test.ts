// The trash and undelete on a client replica (client/worker/trash.ts), against the real worker
// with wa-sqlite: what the trash lists, newest first, and where undelete puts a node back.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openLocalReplica, type LocalReplica } from '../../client/index.ts';
import { move, ts } from '../merge/ops.ts';

let alice: LocalReplica;
let bob: LocalReplica;
beforeAll(async () => {
  [alice, bob] = await Promise.all([openLocalReplica({ replica: 'alice' }), openLocalReplica({ replica: 'bob' })]);
});
afterAll(async () => {
  await Promise.all([alice.close(), bob.close()]);
});

const ids = async (r: LocalReplica, parent: string) => (await r.children(parent)).map((c) => c.id);

test('the trash lists deleted tops newest first, with when, by whom and where from; undelete puts a node back at its place', async () => {
  const folder = await alice.create('ROOT', { fields: { title: 'folder' } });
  const [a, b, c] = [await alice.create(folder), await alice.create(folder), await alice.create(folder)];
  const posB = (await alice.children(folder))[1]!.pos;
  await alice.set(b, 'title', 'b');
  await alice.delete(b);
  await alice.delete(c);
  const trash = await alice.trash();
  const [deleteB, deleteC] = (await alice.outbox()).filter((op) => op.type === 'move' && op.parent === 'TRASH');
  expect(trash).toEqual([
    { node: c, ts: deleteC!.ts, replica: 'alice', parent: folder, pos: expect.any(String), parentExists: true, fields: {} },
    { node: b, ts: deleteB!.ts, replica: 'alice', parent: folder, pos: posB, parentExists: true, fields: { title: 'b' } },
  ]);
  expect(await alice.trash({ limit: 1 })).toEqual([trash[0]]);

  await alice.undelete(b);
  expect(await ids(alice, folder)).toEqual([a, b]);
  expect((await alice.children(folder))[1]!.pos).toBe(posB);
  const undo = (await alice.outbox()).at(-1)!;
  expect(undo).toMatchObject({ type: 'move', node: b, parent: folder, pos: posB });
  expect((await alice.trash()).map((t) => t.node)).toEqual([c]);

  // Another replica given the same ops holds the same tree and the same trash.
  await bob.apply(await alice.outbox());
  expect(await bob.nodes()).toEqual(await alice.nodes());
  expect(await bob.trash()).toEqual(await alice.trash());
});

test('a node whose parent is in the trash too (or gone) comes back at the end of ROOT; the subtree comes with it', async () => {
  const p = await alice.create('ROOT');
  const child = await alice.create(p);
  const grandchild = await alice.create(child);
  await alice.delete(child);
  await alice.delete(p);
  expect((await alice.trash()).slice(0, 2).map((t) => [t.node, t.parentExists])).toEqual([[p, true], [child, true]]);
  await alice.undelete(child);
  expect((await ids(alice, 'ROOT')).at(-1)).toBe(child);
  expect(await ids(alice, child)).toEqual([grandchild]);
  // A node created straight in the trash has no place to go back to: the end of ROOT.
  await bob.apply([move(ts(1, 'zed'), 'born-deleted', 'TRASH', 'a')]);
  expect((await bob.trash()).find((t) => t.node === 'born-deleted')).toMatchObject({ parent: null, pos: null, parentExists: false });
  await bob.undelete('born-deleted');
  expect((await ids(bob, 'ROOT')).at(-1)).toBe('born-deleted');
});

test('undelete of a node not in the trash, of TRASH, or of an unknown node is refused and changes nothing', async () => {
  const live = await alice.create('ROOT');
  const before = await alice.dump();
  for (const id of [live, 'ROOT', 'TRASH', 'no-such-node']) {
    await expect(alice.undelete(id)).rejects.toMatchObject({ code: 'invalid_request' });
  }
  await expect(alice.trash({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_request' });
  expect(await alice.dump()).toEqual(before);
});
