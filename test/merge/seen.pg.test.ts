// `seen` (sql/000005-restore.sql): the batch's through apply_ops' third argument in every call
// form, the operation's own field, how it is stored, validated, and left out of identity.
import { describe, expect, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { move, set, ts } from './ops.ts';
import { type ApplyResult, applyOpsError, createTree, everything, treeFactory } from './pg-tree.ts';

const db = useTestDb();
const newTree = treeFactory(db, 'seen');

const first = [move(ts(1), 'A', 'ROOT', 'a'), move(ts(2), 'B', 'A', 'b')];
const second = [{ ...set(ts(3, 'bob'), 'A', 'k', 1), seen: 1 }, set(ts(4, 'bob'), 'B', 'k', 2)];
const json = JSON.stringify(second);

/** Each 3-argument call form: the batch's seen is 2, so B's set stores 2 and A's its own 1. */
const CALLS: Array<[string, string, unknown[]]> = [
  ['untyped literals', `select treesync.apply_ops($1, '${json}', 2) as result`, []],
  ['untyped parameters', 'select treesync.apply_ops($1, $2, $3) as result', [json, 2]],
  ['jsonb and bigint', 'select treesync.apply_ops($1, $2::jsonb, $3::bigint) as result', [json, 2]],
  ['text and integer', 'select treesync.apply_ops($1, $2::text, $3::integer) as result', [json, 2]],
  ['text and untyped', 'select treesync.apply_ops($1, $2::text, $3) as result', [json, 2]],
];

async function storedSeen(tree: string): Promise<Array<[string, number | null]>> {
  const { rows } = await db.query<{ ts: string; seen: string | null }>('select ts, seen from treesync.ops where tree = $1 order by seq', [tree]);
  return rows.map((r) => [r.ts, r.seen === null ? null : Number(r.seen)]);
}

describe('every 3-argument call form stores the batch seen and the ops own', () => {
  test.each(CALLS)('%s', async (_name, sql, params) => {
    const tree = await newTree();
    await db.query('select treesync.apply_ops($1, $2::jsonb)', [tree, JSON.stringify(first)]);
    const { rows } = await db.query<{ result: ApplyResult }>(sql, [tree, ...params]);
    expect(rows[0]!.result).toMatchObject({ seq: 4, accepted: 2, restored: 0 });
    // The 2-argument form: each op counts as having seen the seq before its batch.
    expect(await storedSeen(tree)).toEqual([[ts(1), 0], [ts(2), 0], [ts(3, 'bob'), 1], [ts(4, 'bob'), 2]]);
  });
});

test('a seen ahead of the tree is stored as the seq before the batch', async () => {
  const tree = await newTree();
  await db.query('select treesync.apply_ops($1, $2::text, 50)', [tree, JSON.stringify([{ ...first[0], seen: 90 }, first[1]])]);
  expect(await storedSeen(tree)).toEqual([[ts(1), 0], [ts(2), 0]]);
});

test('a duplicate with another seen is a duplicate', async () => {
  const tree = await newTree();
  await db.query('select treesync.apply_ops($1, $2::jsonb, 0)', [tree, JSON.stringify(first)]);
  const again = first.map((op) => ({ ...op, seen: 2 }));
  const { rows } = await db.query<{ result: ApplyResult }>('select treesync.apply_ops($1, $2::jsonb, 2) as result', [tree, JSON.stringify(again)]);
  expect(rows[0]!.result).toMatchObject({ accepted: 0, duplicates: 2 });
  expect(await storedSeen(tree)).toEqual([[ts(1), 0], [ts(2), 0]]);
});

describe('a bad seen is TS001 and changes nothing', () => {
  test.each([-1, 1.5, '3', null, true, 1e20, { n: 1 }])('seen %j', async (seen) => {
    await createTree(db, 'seen-bad');
    const before = await everything(db, 'seen-bad');
    const err = await applyOpsError(db, 'seen-bad', [move(ts(1), 'A', 'ROOT'), { ...set(ts(2), 'A', 'k', 1), seen }]);
    expect(err).toMatchObject({ code: 'TS001', message: 'operation 1: seen must be a non-negative integer', detail: { index: 1 } });
    expect(await everything(db, 'seen-bad')).toEqual(before);
  });

  test('a negative batch seen', async () => {
    await createTree(db, 'seen-bad');
    await expect(db.query('select treesync.apply_ops($1, $2::jsonb, -1)', ['seen-bad', '[]'])).rejects.toMatchObject({ code: 'TS001' });
  });
});
