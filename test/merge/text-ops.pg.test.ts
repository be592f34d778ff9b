// `treesync.apply_ops(tree, ops text)` (sql/000004): every way the function was called before
// still reaches a merge with the same result, and text that jsonb cannot hold (\u0000, lone
// surrogates, nesting past the parser's stack, plain bad JSON) is TS001 and changes nothing.
import { describe, expect, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { move, set, ts } from './ops.ts';
import { type ApplyResult, createTree, everything, readTree } from './pg-tree.ts';

const db = useTestDb();

const batch = [move(ts(1), 'A', 'ROOT', 'a'), move(ts(2), 'B', 'A', 'b'), move(ts(3), 'A', 'B'), set(ts(4), 'A', 'k', { x: ['é', 1] })];
const json = JSON.stringify(batch);
/** The same batch as an SQL string literal (the JSON holds no single quote). */
const literal = `'${json}'`;

/** Each way of calling apply_ops, and the argument types Postgres resolves it to. */
const CALLS: Array<[string, string, unknown[]]> = [
  ['an untyped literal', `select treesync.apply_ops($1, ${literal}) as result`, []],
  ['a jsonb literal', `select treesync.apply_ops($1, ${literal}::jsonb) as result`, []],
  ['an untyped parameter', 'select treesync.apply_ops($1, $2) as result', [json]],
  ['a parameter cast to jsonb', 'select treesync.apply_ops($1, $2::jsonb) as result', [json]],
  ['a parameter cast to text', 'select treesync.apply_ops($1, $2::text) as result', [json]],
  ['a varchar expression', 'select treesync.apply_ops($1, $2::varchar) as result', [json]],
];

describe('every way of calling apply_ops merges alike', () => {
  test.each(CALLS)('%s', async (_name, sql, params) => {
    const tree = `call-${CALLS.findIndex((c) => c[1] === sql)}`;
    await createTree(db, tree);
    const { rows } = await db.query<{ result: ApplyResult }>(sql, [tree, ...params]);
    // The move of A under B would make a cycle: skipped, in every form.
    expect(rows[0]!.result).toMatchObject({ seq: 4, accepted: 4, duplicates: 0, skipped: 1 });
    const reference = 'reference';
    if (await createTree(db, reference)) {
      await db.query('select treesync.apply_ops($1, $2::jsonb)', [reference, json]);
    }
    expect(await readTree(db, tree)).toEqual(await readTree(db, reference));
  });

  // Which overload a call binds to shows in how it fails on text jsonb cannot hold: the text
  // overload turns the parse failure into TS001; a cast to jsonb fails before any function runs.
  const nul = '[{"ts":"1732212345001.00000.alice","type":"set","node":"n","key":"k","value":"\\u0000"}]';
  test.each([
    ['an untyped literal', `select treesync.apply_ops($1, '${nul}')`, [], 'TS001'],
    ['an untyped parameter', 'select treesync.apply_ops($1, $2)', [nul], 'TS001'],
    ['a parameter cast to text', 'select treesync.apply_ops($1, $2::text)', [nul], 'TS001'],
    ['a parameter cast to jsonb', 'select treesync.apply_ops($1, $2::jsonb)', [nul], '22P05'],
  ])('%s binds to the overload it should', async (_name, sql, params, code) => {
    await createTree(db, 'binding');
    const err = await db.query(sql as string, ['binding', ...(params as unknown[])]).catch((e: { code: string }) => e);
    expect(err).toMatchObject({ code });
  });
});

describe('text jsonb cannot hold is TS001 and changes nothing', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['\\u0000 in a value', '[{"ts":"1732212345001.00000.alice","type":"set","node":"n","key":"k","value":"a\\u0000b"}]', /\\u0000 cannot be converted to text|unsupported Unicode escape/],
    ['\\u0000 in a key', '[{"ts":"1732212345001.00000.alice","type":"set","node":"n","key":"k","value":{"\\u0000":1}}]', /\\u0000|Unicode/],
    ['a lone high surrogate', '[{"ts":"1732212345001.00000.alice","type":"set","node":"n","key":"k","value":"\\ud800"}]', /surrogate/],
    ['a lone low surrogate', '[{"ts":"1732212345001.00000.alice","type":"set","node":"n","key":"k","value":"\\udc00"}]', /surrogate/],
    ['nesting past the parser stack', `[{"ts":"1732212345001.00000.alice","type":"set","node":"n","key":"k","value":${'['.repeat(200_000)}${']'.repeat(200_000)}}]`, /stack depth|nest/i],
    ['malformed JSON', '[{"ts": ', /invalid input syntax for type json/],
  ];
  test.each(cases)('%s', async (_name, text, reason) => {
    const tree = 'hostile';
    await createTree(db, tree);
    await db.query('select treesync.apply_ops($1, $2::jsonb)', [tree, JSON.stringify([move(ts(0), 'seed', 'ROOT')])]);
    const before = await everything(db, tree);
    const err = await db.query('select treesync.apply_ops($1, $2)', [tree, text]).then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    );
    expect(err?.code).toBe('TS001');
    expect(err?.message).toMatch(/^operations are not JSON that can be stored: /);
    expect(err?.message).toMatch(reason);
    expect(await everything(db, tree)).toEqual(before);
  });

  test('null is the jsonb version\'s "operations must be a JSON array"', async () => {
    await createTree(db, 'nulls');
    const err = await db.query('select treesync.apply_ops($1, null)', ['nulls']).catch((e: { code: string; message: string }) => e);
    expect(err).toMatchObject({ code: 'TS001', message: 'operations must be a JSON array' });
  });

  test('a surrogate pair (an emoji) and other non-ASCII text are stored as sent', async () => {
    await createTree(db, 'emoji');
    const value = { s: 'ok 😀 ü 中', [`ké😀`]: ['\u{10FFFF}'] };
    await db.query('select treesync.apply_ops($1, $2)', ['emoji', JSON.stringify([set(ts(1), 'n', 'k', value)])]);
    expect((await readTree(db, 'emoji')).fields).toEqual([{ node: 'n', key: 'k', value }]);
  });
});
