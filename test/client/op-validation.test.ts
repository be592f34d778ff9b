// What the replica's validation adds to the shared invalid-input scenarios: the value rules
// (jsonb size, nesting depth), values JSON cannot carry, and fields left `undefined` (absent, as
// in JSON). Against the real worker.
import { describe, expect, test } from 'vitest';
import { jsonbText, jsonbTextBytes, numericText, valueDepth } from '../../client/worker/json-value.ts';
import { move, set, ts } from '../merge/ops.ts';
import { useWorkerReplicas } from './worker-replicas.ts';

const replicas = useWorkerReplicas();

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
}

async function refusal(ops: unknown): Promise<{ code: string; index?: number; message: string }> {
  const replica = await replicas.fresh();
  return replica.apply(ops as never).then(
    () => {
      throw new Error('expected a refusal');
    },
    (err: { code: string; index?: number; message: string }) => err,
  );
}

describe('values', () => {
  test('a value nests at most 64 levels deep', async () => {
    expect(valueDepth(1)).toBe(0);
    expect(valueDepth([1])).toBe(1);
    expect(valueDepth({ a: 1 })).toBe(1);
    expect(valueDepth(nested(64))).toBe(64);
    const replica = await replicas.fresh();
    await replica.apply([set(ts(1), 'n', 'k', nested(64) as never)]);
    expect(await refusal([move(ts(0), 'a', 'ROOT'), set(ts(2), 'n', 'k', nested(65) as never)])).toMatchObject({
      code: 'invalid_op',
      index: 1,
      message: 'operation 1: value nests deeper than 64 levels',
    });
  });

  test('a value JSON cannot carry is refused', async () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, new Date(0), new Map(), 10n]) {
      expect(await refusal([set(ts(1), 'n', 'k', value as never)])).toMatchObject({ code: 'invalid_op', message: 'operation 0: value must be JSON' });
    }
  });

  test('a property left undefined is absent, as JSON would send it', async () => {
    const replica = await replicas.fresh();
    await replica.apply([{ ...move(ts(1), 'a', 'ROOT'), value: undefined } as never]);
    expect(await refusal([{ ts: ts(1), type: 'set', node: 'a', key: 'k', value: undefined }])).toMatchObject({
      message: 'operation 0: a set needs a value (null removes the field)',
    });
  });

  test('sizes and equality are measured on the jsonb text, as Postgres measures them', () => {
    expect(jsonbText({ bb: [1, 2.5, null], a: 'x', é: true })).toBe('{"a": "x", "bb": [1, 2.5, null], "é": true}');
    expect(jsonbTextBytes({ bb: [1, 2.5, null], a: 'x', é: true })).toBe(new TextEncoder().encode(jsonbText({ bb: [1, 2.5, null], a: 'x', é: true })).length);
    expect(numericText(1e21)).toBe('1000000000000000000000');
    expect(numericText(1.5e-7)).toBe('0.00000015');
    expect(numericText(-2.5e22)).toBe('-25000000000000000000000');
    expect(jsonbTextBytes('x'.repeat(65_534))).toBe(65_536);
  });

  test('the size limit is 65,536 bytes of jsonb text', async () => {
    const replica = await replicas.fresh();
    await replica.apply([set(ts(1), 'n', 'k', 'x'.repeat(65_534))]);
    expect(await refusal([set(ts(2), 'n', 'k', 'x'.repeat(65_535))])).toMatchObject({ message: 'operation 0: value is larger than 65536 bytes' });
  });
});
