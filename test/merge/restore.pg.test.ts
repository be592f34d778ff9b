// Restores (sql/000005-restore.sql): a delete that had not seen an edit inside the deleted
// subtree is undone by a server move; a delete that had seen it wins. Through apply_ops with
// the batch's `seen` (3 arguments) and per-op `seen`, in both arrival orders.
import { describe, expect, test } from 'vitest';
import { formatTs, tsWall, type Op } from '../../protocol/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { move, set, ts } from './ops.ts';
import { type ApplyResult, readTree, treeFactory, treeProblems } from './pg-tree.ts';

const db = useTestDb();
const newTree = treeFactory(db, 'restore');

async function push(tree: string, ops: Op[], seen: number): Promise<ApplyResult & { restored: number }> {
  const { rows } = await db.query<{ result: ApplyResult & { restored: number } }>(
    'select treesync.apply_ops($1, $2::text, $3) as result',
    [tree, JSON.stringify(ops), seen],
  );
  return rows[0]!.result;
}

async function parentOf(tree: string, node: string): Promise<string | null | undefined> {
  const { rows } = await db.query<{ parent: string | null }>('select parent from treesync.nodes where tree = $1 and id = $2', [tree, node]);
  return rows[0]?.parent;
}

async function serverOps(tree: string) {
  const { rows } = await db.query<{ seq: string; ts: string; node: string; parent: string; pos: string }>(
    `select seq, ts, node, parent, pos from treesync.ops where tree = $1 and ts like '%.server' order by seq`,
    [tree],
  );
  return rows;
}

/** ROOT > X (pos 'x') > Y, made by alice and seen by everyone (seq 2). */
const base = [move(ts(1), 'X', 'ROOT', 'x'), move(ts(2), 'Y', 'X', 'y')];

describe('delete vs add child', () => {
  const del = move(ts(10, 'alice'), 'X', 'TRASH', 't');
  const add = move(ts(11, 'bob'), 'C', 'Y', 'c');

  test.each([
    ['delete first', [del], [add]],
    ['add first', [add], [del]],
  ] as const)('%s: X goes back where it was, with the new child', async (_name, first, second) => {
    const tree = await newTree();
    await push(tree, base, 0);
    await push(tree, [...first], 2);
    const r = await push(tree, [...second], 2);
    expect(r.restored).toBe(1);
    expect(await parentOf(tree, 'X')).toBe('ROOT');
    expect(await parentOf(tree, 'C')).toBe('Y');
    const restores = await serverOps(tree);
    expect(restores).toMatchObject([{ seq: '5', node: 'X', parent: 'ROOT', pos: 'x' }]);
    expect(await treeProblems(db, tree)).toEqual([]);
  });

  test('both orders end in the same tree', async () => {
    const a = await newTree();
    const b = await newTree();
    for (const [tree, order] of [[a, [del, add]], [b, [add, del]]] as const) {
      await push(tree, base, 0);
      for (const op of order) await push(tree, [op], 2);
    }
    expect(await readTree(db, a)).toEqual(await readTree(db, b));
  });
});

test('delete vs set: the set node is restored with its new value', async () => {
  const tree = await newTree();
  await push(tree, base, 0);
  await push(tree, [set(ts(11, 'bob'), 'Y', 'title', 'new')], 2);
  await push(tree, [move(ts(10, 'alice'), 'X', 'TRASH', 't')], 2);
  expect(await parentOf(tree, 'X')).toBe('ROOT');
  expect((await readTree(db, tree)).fields).toEqual([{ node: 'Y', key: 'title', value: 'new' }]);
});

test('a delete that had seen the edit wins', async () => {
  const tree = await newTree();
  await push(tree, base, 0);
  await push(tree, [move(ts(11, 'bob'), 'C', 'Y', 'c')], 2); // seq 3
  const r = await push(tree, [move(ts(12, 'alice'), 'X', 'TRASH', 't')], 3);
  expect(r.restored).toBe(0);
  expect(await parentOf(tree, 'X')).toBe('TRASH');
  expect(await serverOps(tree)).toEqual([]);
});

test('a delete made after the restore was seen wins', async () => {
  const tree = await newTree();
  await push(tree, base, 0);
  await push(tree, [move(ts(10, 'alice'), 'X', 'TRASH', 't')], 2);
  await push(tree, [move(ts(11, 'bob'), 'C', 'Y', 'c')], 2); // seq 4, restore seq 5
  expect(await parentOf(tree, 'X')).toBe('ROOT');
  // alice applied the restore: her clock (a hybrid logical clock) is past its ts.
  const [restore] = await serverOps(tree);
  const after = formatTs(tsWall(restore!.ts) + 1, 0, 'alice');
  const r = await push(tree, [move(after, 'X', 'TRASH', 't')], 5);
  expect(r.restored).toBe(0);
  expect(await parentOf(tree, 'X')).toBe('TRASH');
});

test('nested deletes concurrent with the edit are undone top-down', async () => {
  const tree = await newTree();
  await push(tree, base, 0);
  // carol deletes Y, then dave deletes X (having seen Y's delete): neither saw bob's child.
  await push(tree, [move(ts(10, 'carol'), 'Y', 'TRASH', 'ty')], 2); // seq 3
  await push(tree, [move(ts(12, 'dave'), 'X', 'TRASH', 'tx')], 3); // seq 4
  const r = await push(tree, [move(ts(11, 'bob'), 'C', 'Y', 'c')], 2); // seq 5
  expect(r.restored).toBe(2);
  const restores = await serverOps(tree);
  expect(restores.map((o) => [o.node, o.parent])).toEqual([['Y', 'X'], ['X', 'ROOT']]);
  expect(await parentOf(tree, 'X')).toBe('ROOT');
  expect(await parentOf(tree, 'Y')).toBe('X');
  expect(await treeProblems(db, tree)).toEqual([]);
});

test('a chain stops at a delete that had seen the edit', async () => {
  const tree = await newTree();
  await push(tree, base, 0);
  await push(tree, [move(ts(10, 'carol'), 'Y', 'TRASH', 'ty')], 2); // seq 3
  await push(tree, [move(ts(11, 'bob'), 'C', 'Y', 'c')], 2); // seq 4: Y restored under X (seq 5)
  await push(tree, [move(ts(12, 'dave'), 'X', 'TRASH', 'tx')], 5); // seq 6: saw everything
  expect(await parentOf(tree, 'X')).toBe('TRASH');
  expect(await parentOf(tree, 'Y')).toBe('X');
});

describe('a delete that could not be undone when it met the edit', () => {
  // alice deletes Y; bob, concurrently, moves X (Y's old parent) into Y and renames Y. Undoing
  // the delete would put Y under X, inside Y: the delete stands, and X goes to the trash with it.
  const delY = move(ts(10, 'alice'), 'Y', 'TRASH', 't');
  const bobs = [move(ts(11, 'bob'), 'X', 'Y', 'x'), set(ts(12, 'bob'), 'Y', 'title', 'new')];

  test.each([
    ['delete first', [delY], bobs],
    ['edits first', bobs, [delY]],
  ] as const)('%s: it stands, also once its old parent leaves the trash', async (_name, first, second) => {
    const tree = await newTree();
    await push(tree, base, 0);
    await push(tree, [...first], 2);
    expect((await push(tree, [...second], 2)).restored).toBe(0);
    expect(await parentOf(tree, 'Y')).toBe('TRASH');
    expect(await parentOf(tree, 'X')).toBe('Y');
    // carol, who saw all of it, takes X out: the pair was judged when it met, Y stays deleted.
    expect((await push(tree, [move(ts(20, 'carol'), 'X', 'ROOT', 'x')], 5)).restored).toBe(0);
    expect(await parentOf(tree, 'X')).toBe('ROOT');
    expect(await parentOf(tree, 'Y')).toBe('TRASH');
    expect(await serverOps(tree)).toEqual([]);
    expect(await treeProblems(db, tree)).toEqual([]);
  });
});

test('an edit that a third replica moves into a deleted subtree later is not restored', async () => {
  const tree = await newTree();
  await push(tree, [...base, move(ts(3), 'Z', 'ROOT', 'z')], 0); // seqs 1-3
  await push(tree, [move(ts(10, 'carol'), 'X', 'TRASH', 't')], 3); // seq 4
  expect((await push(tree, [set(ts(11, 'bob'), 'Z', 'title', 'new')], 3)).restored).toBe(0); // seq 5: Z is not in X
  // dave, who saw both, moves Z into Y (in the trash): his move is Z's delete, and it had seen
  // bob's rename; carol's delete never met the rename inside X
  expect((await push(tree, [move(ts(20, 'dave'), 'Z', 'Y', 'z')], 5)).restored).toBe(0);
  expect(await parentOf(tree, 'X')).toBe('TRASH');
  expect(await parentOf(tree, 'Z')).toBe('Y');
});

describe('a restore that takes a node out from under a deleted node (sql/000014)', () => {
  // Both histories were found by test/merge/restore-property.pg.test.ts.
  test('a delete left alone when it met its edit is judged again, and undone', async () => {
    const tree = await newTree();
    await push(tree, [move(ts(0, 'r', 1), 'c', 'TRASH', 't')], 0); // seq 1: c made in the trash
    // p puts e under c, then c under e (a cycle at first: skipped)
    await push(tree, [move(ts(6, 'p'), 'e', 'c', 'a'), move(ts(6, 'p', 1), 'c', 'e', 'a')], 0); // seqs 2, 3
    // q deletes e (concurrent with p's move of e): c's move under e now applies, so moving e
    // back under c would make a cycle, and the delete is left alone
    expect((await push(tree, [move(ts(6, 'q'), 'e', 'TRASH', 't')], 0)).restored).toBe(0); // seq 4
    expect(await parentOf(tree, 'c')).toBe('e');
    // r's late move of c to ROOT is undone by p's move of c under e (in the trash), which r had
    // not seen: c goes back to ROOT, and e, now free to go back under c, follows
    expect((await push(tree, [move(ts(6, 'r'), 'c', 'ROOT', 'a')], 0)).restored).toBe(2); // seq 5
    expect((await serverOps(tree)).map((o) => [o.seq, o.node, o.parent])).toEqual([['6', 'c', 'ROOT'], ['7', 'e', 'c']]);
    expect(await parentOf(tree, 'e')).toBe('c');
    expect(await treeProblems(db, tree)).toEqual([]);
  });

  test('a delete whose restore a late move skipped is judged again, and undone', async () => {
    const tree = await newTree();
    await push(tree, [move(ts(0, 'p', 1), 'a', 'ROOT', 'a'), move(ts(0, 'p', 2), 'd', 'a', 'a')], 0); // seqs 1, 2
    await push(tree, [set(ts(0, 'p', 3), 'a', 'k', 0)], 0); // seq 3
    // q deletes d, concurrent with p's move of d: d goes back under a (seq 5)
    expect((await push(tree, [move(ts(1, 'q'), 'd', 'TRASH', 't')], 0)).restored).toBe(1); // seq 4
    // r's late move of a into d (older than the restore) makes that restore a cycle: skipped.
    // a is now in the trash through r's move, concurrent with p's set on a: a goes back to
    // ROOT, and d's delete, undoable again, is undone again
    expect((await push(tree, [move(ts(1, 'r'), 'a', 'd', 'a')], 0)).restored).toBe(2); // seq 6
    expect((await serverOps(tree)).map((o) => [o.seq, o.node, o.parent])).toEqual([['5', 'd', 'a'], ['7', 'a', 'ROOT'], ['8', 'd', 'a']]);
    expect(await parentOf(tree, 'a')).toBe('ROOT');
    expect(await parentOf(tree, 'd')).toBe('a');
    expect(await treeProblems(db, tree)).toEqual([]);
  });
});

test('per-op seen overrides the batch seen, and one replica never restores its own deletes', async () => {
  const tree = await newTree();
  await push(tree, base, 0);
  await push(tree, [move(ts(11, 'bob'), 'C', 'Y', 'c')], 2); // seq 3
  // alice's batch says seen 2, but its delete carries seen 3: it had seen bob's child.
  const r = await push(tree, [{ ...move(ts(12, 'alice'), 'X', 'TRASH', 't'), seen: 3 }], 2);
  expect(r.restored).toBe(0);
  expect(await parentOf(tree, 'X')).toBe('TRASH');

  const own = await newTree();
  await push(own, base, 0);
  await push(own, [move(ts(11, 'alice'), 'C', 'Y', 'c'), move(ts(12, 'alice'), 'X', 'TRASH', 't')], 2);
  expect(await parentOf(own, 'X')).toBe('TRASH');
});

test('a delete-wins tree never restores', async () => {
  const { rows } = await db.query<{ created: boolean }>(`select treesync.create_tree('restore-wins', '{"deletes": "win"}') as created`);
  expect(rows[0]!.created).toBe(true);
  await push('restore-wins', base, 0);
  await push('restore-wins', [move(ts(10, 'alice'), 'X', 'TRASH', 't')], 2);
  const r = await push('restore-wins', [move(ts(11, 'bob'), 'C', 'Y', 'c')], 2);
  expect(r.restored).toBe(0);
  expect(await parentOf('restore-wins', 'X')).toBe('TRASH');
});

test('create_tree options are checked', async () => {
  for (const options of ['[]', '{"deletes": "maybe"}', '{"deletes": 1}', '{"other": 1}']) {
    await expect(db.query('select treesync.create_tree($1, $2::jsonb)', ['restore-bad', options])).rejects.toMatchObject({ code: 'TS001' });
  }
  const { rows } = await db.query(`select 1 from treesync.trees where id = 'restore-bad'`);
  expect(rows).toEqual([]);
});
