// A `set` value nests arrays and objects at most 64 levels deep (a scalar is 0, `[1]` and
// `{"a":1}` are 1); deeper is invalid_op (TS001), and the batch changes nothing.
import { expect, test } from 'vitest';
import type { Json } from '../../protocol/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, applyOpsError, createTree, everything, readTree } from './pg-tree.ts';
import { move, set, ts } from './ops.ts';

const db = useTestDb();

/** `depth` levels: arrays, or objects, or both in turn, around a scalar. */
function nested(depth: number, kind: 'array' | 'object' | 'mixed'): Json {
  let value: Json = 7;
  for (let level = 0; level < depth; level++) {
    const asArray = kind === 'array' || (kind === 'mixed' && level % 2 === 0);
    value = asArray ? [value] : { k: value };
  }
  return value;
}

test('64 levels are stored, 65 are refused naming the operation, with nothing stored', async () => {
  await createTree(db, 'depth');
  for (const [i, kind] of (['array', 'object', 'mixed'] as const).entries()) {
    const ok = await applyOps(db, 'depth', [set(ts(i), 'n', `at64-${kind}`, nested(64, kind))]);
    expect(ok.accepted).toBe(1);
  }
  const before = await everything(db, 'depth');
  for (const kind of ['array', 'object', 'mixed'] as const) {
    const err = await applyOpsError(db, 'depth', [
      move(ts(100), 'a', 'ROOT'),
      set(ts(101), 'a', 'deep', nested(65, kind)),
    ]);
    expect(err).toMatchObject({ code: 'TS001', message: 'operation 1: value nests deeper than 64 levels', detail: { index: 1 } });
  }
  expect(await everything(db, 'depth')).toEqual(before);
});

test('brackets inside strings and wide values do not count as depth', async () => {
  await createTree(db, 'wide');
  const brackets = '['.repeat(200) + '{'.repeat(200);
  const wide = Array.from({ length: 300 }, () => [[{}]]);
  const result = await applyOps(db, 'wide', [
    set(ts(1), 'n', 'text', brackets),
    set(ts(2), 'n', 'wide', wide),
    set(ts(3), 'n', 'empty', nested(63, 'array') as Json),
  ]);
  expect(result.accepted).toBe(3);
  expect((await readTree(db, 'wide')).fields.map((f) => f.key)).toEqual(['empty', 'text', 'wide']);
  // an empty array or object is one level: 64 arrays around [] are 65
  const err = await applyOpsError(db, 'wide', [set(ts(4), 'n', 'deep', [nested(64, 'array')] as Json)]);
  expect(err.message).toBe('operation 0: value nests deeper than 64 levels');
  const emptyInside = await applyOpsError(db, 'wide', [set(ts(5), 'n', 'deep', wrap([], 65))]);
  expect(emptyInside.message).toBe('operation 0: value nests deeper than 64 levels');
  expect(await applyOps(db, 'wide', [set(ts(6), 'n', 'ok', wrap([], 64))])).toMatchObject({ accepted: 1 });
});

/** `[]` inside `levels - 1` arrays: `levels` levels deep. */
function wrap(inner: Json, levels: number): Json {
  let value = inner;
  for (let i = 1; i < levels; i++) value = [value];
  return value;
}
