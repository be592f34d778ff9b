// The pinned client interface (design.md, "Client"): openReplica() in Node runs the replica in
// a worker thread; apply/nodes/values behave as apply_ops does; errors cross the boundary with
// `name`, `code` and `index`; close() ends the worker.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openReplica, type Replica } from '../../client/index.ts';
import { move, set, ts } from '../merge/ops.ts';

let replica: Replica;
beforeAll(async () => {
  replica = await openReplica({ storage: 'memory' });
});
afterAll(() => replica.close());

describe('openReplica', () => {
  test('a new replica holds ROOT and TRASH and nothing else', async () => {
    const fresh = await openReplica();
    try {
      expect(await fresh.nodes()).toEqual([
        { id: 'ROOT', parent: null, pos: '' },
        { id: 'TRASH', parent: null, pos: '' },
      ]);
      expect(await fresh.values()).toEqual([]);
    } finally {
      await fresh.close();
    }
  });

  test('apply answers the counts of apply_ops; nodes and values read the tree', async () => {
    const result = await replica.apply([
      move(ts(1), 'A', 'ROOT', 'a'),
      move(ts(2), 'B', 'A', 'b'),
      move(ts(3), 'A', 'B'), // a cycle: skipped
      set(ts(4), 'A', 'title', { text: 'hi', tags: ['x'] }),
      set(ts(5), 'B', 'done', true),
      set(ts(6), 'B', 'done', null),
      move(ts(1), 'A', 'ROOT', 'a'), // a duplicate
    ]);
    expect(result).toEqual({ accepted: 6, duplicates: 1, undone: 0, skipped: 1 });
    expect(await replica.apply([move(ts(0), 'C', 'ROOT')])).toEqual({ accepted: 1, duplicates: 0, undone: 3, skipped: 0 });
    expect(await replica.nodes()).toEqual([
      { id: 'A', parent: 'ROOT', pos: 'a' },
      { id: 'B', parent: 'A', pos: 'b' },
      { id: 'C', parent: 'ROOT', pos: '' },
      { id: 'ROOT', parent: null, pos: '' },
      { id: 'TRASH', parent: null, pos: '' },
    ]);
    expect(await replica.values()).toEqual([{ node: 'A', key: 'title', value: { tags: ['x'], text: 'hi' } }]);
  });

  test('a bad batch rejects with name, code and index, and changes nothing', async () => {
    const before = { nodes: await replica.nodes(), values: await replica.values() };
    const err = await replica.apply([move(ts(50), 'D', 'ROOT'), move(ts(51), 'ROOT', 'TRASH')]).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TreesyncError', code: 'invalid_op', index: 1, message: 'operation 1: ROOT can never be moved' });
    const conflict = await replica.apply([set(ts(1), 'A', 'k', 1)]).catch((e: unknown) => e);
    expect(conflict).toMatchObject({ name: 'TreesyncError', code: 'ts_conflict', index: 0, ts: ts(1) });
    expect({ nodes: await replica.nodes(), values: await replica.values() }).toEqual(before);
  });

  test('calls made at once are merged one after the other', async () => {
    const ops = Array.from({ length: 40 }, (_, i) => move(ts(100 + i, `r${i % 4}`), `n${i % 7}`, i % 3 === 0 ? 'ROOT' : `n${(i * 5) % 7}`, `p${i}`));
    const other = await openReplica();
    try {
      await Promise.all(ops.map((op) => replica.apply([op])));
      await other.apply(ops);
      const ours = (await replica.nodes()).filter((n) => n.id.startsWith('n'));
      expect(ours).toEqual((await other.nodes()).filter((n) => n.id.startsWith('n')));
    } finally {
      await other.close();
    }
  });

  test('close ends the worker: later calls reject, closing again is fine', async () => {
    const r = await openReplica();
    await r.close();
    await r.close();
    await expect(r.nodes()).rejects.toThrow();
  });
});
