// Local edits on the replica: create, move, delete and set become operations stamped by the
// replica's clock, placed by order keys, merged, and kept in the outbox; another replica that
// applies the outbox holds the same tree. Against the real worker.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
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

describe('local edits', () => {
  test('create places after the last child, or after/before a sibling; children come in order', async () => {
    const a = await alice.create('ROOT', { fields: { text: 'a' } });
    const c = await alice.create('ROOT', { fields: { text: 'c' } });
    const b = await alice.create('ROOT', { after: a, fields: { text: 'b' } });
    const first = await alice.create('ROOT', { before: a });
    const kids = await alice.children('ROOT');
    expect(kids.map((k) => k.id)).toEqual([first, a, b, c]);
    expect(kids.map((k) => k.fields)).toEqual([{}, { text: 'a' }, { text: 'b' }, { text: 'c' }]);
    for (const k of kids) expect(k.pos).toMatch(/^[\x20-\x7e]{1,128}$/);
  });

  test('every edit is an op in the outbox, stamped by the clock, in ts order', async () => {
    const outbox = await alice.outbox();
    expect(outbox.length).toBe(7); // 4 moves and 3 sets
    for (const op of outbox) expect(op.ts).toMatch(/^\d{13}\.\d{5}\.alice$/);
    const stamps = outbox.map((op) => op.ts);
    expect([...stamps].sort()).toEqual(stamps);
    expect(new Set(stamps).size).toBe(stamps.length);
  });

  test('move, delete and set; moving under its own descendant is refused and changes nothing', async () => {
    const parent = await alice.create('ROOT');
    const child = await alice.create(parent);
    await alice.move(child, 'ROOT', { before: parent });
    expect((await alice.nodes()).find((n) => n.id === child)?.parent).toBe('ROOT');
    await alice.move(child, parent);
    const before = await alice.outbox();
    await expect(alice.move(parent, child)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(alice.move('ROOT', child)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(alice.create('nope')).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await alice.outbox()).toEqual(before);
    await alice.set(child, 'done', true);
    await alice.delete(parent);
    expect((await alice.nodes()).find((n) => n.id === parent)?.parent).toBe('TRASH');
    await alice.set(child, 'done', null);
    expect((await alice.values()).filter((v) => v.node === child)).toEqual([]);
  });

  test("the clock moves past every ts received: a local edit is newer than the ops it saw", async () => {
    // An op an hour ahead of this machine's clock (another device's clock runs fast).
    const future = `${String(Date.now() + 3_600_000).padStart(13, '0')}.00007.zed`;
    await bob.apply([move(future, 'z', 'ROOT', 'm'), move(ts(1, 'zed'), 'y', 'ROOT')]);
    await bob.move('z', 'TRASH');
    const [op] = await bob.outbox();
    expect(op!.ts > future).toBe(true);
    expect((await bob.nodes()).find((n) => n.id === 'z')?.parent).toBe('TRASH');
  });

  test('another replica applying the outbox holds the same tree', async () => {
    const other = await openLocalReplica({ replica: 'carol' });
    try {
      await other.apply(await alice.outbox());
      expect(await other.nodes()).toEqual(await alice.nodes());
      expect(await other.values()).toEqual(await alice.values());
    } finally {
      await other.close();
    }
  });

  test('inserting at one spot 500 times keeps keys short and the order exact', async () => {
    const parent = await alice.create('ROOT');
    const anchor = await alice.create(parent);
    const made: string[] = [];
    for (let i = 0; i < 500; i++) made.push(await alice.create(parent, { after: anchor }));
    const kids = await alice.children(parent);
    expect(kids.map((k) => k.id)).toEqual([anchor, ...made.reverse()]);
    expect(Math.max(...kids.map((k) => k.pos.length))).toBeLessThanOrEqual(128);
    expect(await ids(alice, parent)).toHaveLength(501);
  });
});
