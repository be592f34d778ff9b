// `seen` on an operation (what its author had seen, docs/deletes.md) is accepted by the replica
// as by Postgres (sql/000005), checked with the same message, and ignored when telling
// duplicates from conflicts.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openReplica, type Replica } from '../../client/index.ts';
import { move, ts } from '../merge/ops.ts';

let replica: Replica;
beforeAll(async () => {
  replica = await openReplica();
});
afterAll(() => replica.close());

test('an op with seen is merged; the same op with another seen is a duplicate', async () => {
  const a = { ...move(ts(1), 'a', 'ROOT', 'a0'), seen: 3 };
  expect(await replica.apply([a])).toMatchObject({ accepted: 1, duplicates: 0 });
  expect(await replica.apply([{ ...a, seen: 7 }])).toMatchObject({ accepted: 0, duplicates: 1 });
  expect((await replica.nodes()).find((n) => n.id === 'a')).toEqual({ id: 'a', parent: 'ROOT', pos: 'a0' });
});

test.each([-1, 1.5, '3', null, 1e16])('seen %j is refused, naming the operation, and changes nothing', async (seen) => {
  const before = await replica.nodes();
  const err = await replica.apply([move(ts(10), 'b', 'ROOT', 'b0'), { ...move(ts(11), 'c', 'ROOT', 'c0'), seen } as never]).catch((e: unknown) => e);
  expect(err).toMatchObject({ code: 'invalid_op', index: 1, message: 'operation 1: seen must be a non-negative integer' });
  expect(await replica.nodes()).toEqual(before);
});
