// A timestamp is an operation's identity: repeats are duplicates, other content is a conflict.
import { describe, expect, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { applyOps, applyOpsError, createTree, everything, readTree, treeFactory, treeSeq } from './pg-tree.ts';
import { move, set, ts } from './ops.ts';

const db = useTestDb();
const freshTree = treeFactory(db, 'identity');

describe('identity', () => {
  test('create_tree makes ROOT and TRASH once; calling it again changes nothing', async () => {
    expect(await createTree(db, 'made-twice')).toBe(true);
    const before = await everything(db, 'made-twice');
    expect(await createTree(db, 'made-twice')).toBe(false);
    expect(await everything(db, 'made-twice')).toEqual(before);
    expect((await readTree(db, 'made-twice')).nodes).toEqual([
      { id: 'ROOT', parent: null, pos: '' },
      { id: 'TRASH', parent: null, pos: '' },
    ]);
  });

  test('duplicates within a batch are stored once and counted', async () => {
    const tree = await freshTree();
    const a = move(ts(1), 'A', 'ROOT', 'a0');
    const s = set(ts(2), 'A', 'text', { b: 1, a: [1, 2] });
    const result = await applyOps(db, tree, [a, s, a, { ...s, value: { a: [1, 2], b: 1 } }]);
    expect(result).toMatchObject({ accepted: 2, duplicates: 2, seq: 2, first_seq: 1 });
    expect(await treeSeq(db, tree)).toBe(2);
  });

  test('duplicates across batches are stored once; the seq does not move', async () => {
    const tree = await freshTree();
    const batch = [move(ts(1), 'A', 'ROOT'), move(ts(2), 'B', 'A'), set(ts(3), 'B', 'k', 'v')];
    await applyOps(db, tree, batch);
    const before = await everything(db, tree);
    const again = await applyOps(db, tree, [...batch].reverse());
    expect(again).toMatchObject({ accepted: 0, duplicates: 3, seq: 3, first_seq: null });
    expect(await everything(db, tree)).toEqual(before);

    const mixed = await applyOps(db, tree, [batch[0]!, move(ts(4), 'C', 'B')]);
    expect(mixed).toMatchObject({ accepted: 1, duplicates: 1, seq: 4, first_seq: 4 });
  });

  test('the same ts with other content is a conflict, across batches and within one', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(1), 'A', 'ROOT', 'a')]);
    const before = await everything(db, tree);

    const across = await applyOpsError(db, tree, [move(ts(2), 'B', 'ROOT'), move(ts(1), 'A', 'ROOT', 'b')]);
    expect(across.code).toBe('TS002');
    expect(across.detail).toEqual({ index: 1, ts: ts(1) });
    expect(across.message).toMatch(/operation 1: ts .* already stored with other content/);

    const within = await applyOpsError(db, tree, [set(ts(5), 'A', 'k', 1), set(ts(5), 'A', 'k', 2)]);
    expect(within.code).toBe('TS002');
    expect(within.detail).toEqual({ index: 1, ts: ts(5) });

    const kind = await applyOpsError(db, tree, [set(ts(1), 'A', 'k', 1)]);
    expect(kind.code).toBe('TS002');
    expect(await everything(db, tree)).toEqual(before);
  });

  test('every stored op has a seq, gap-free, in batch order', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(3), 'A', 'ROOT'), move(ts(1), 'B', 'ROOT')]);
    await applyOps(db, tree, [move(ts(1), 'B', 'ROOT'), set(ts(2), 'A', 'x', 1)]);
    const { rows } = await db.query<{ seq: string; ts: string }>(
      'select seq, ts from treesync.ops where tree = $1 order by seq',
      [tree],
    );
    expect(rows.map((r) => [Number(r.seq), r.ts])).toEqual([
      [1, ts(3)],
      [2, ts(1)],
      [3, ts(2)],
    ]);
  });
});
