// A timestamp is an operation's identity: repeats are duplicates, other content is a conflict.
// The shared scenarios (test/scenarios/identity.ts) against Postgres, and what only the server
// has: trees and seqs.
import { describe, expect, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { identityScenarios } from '../scenarios/identity.ts';
import { runScenario } from '../scenarios/scenario.ts';
import { applyOps, createTree, everything, readTree, treeFactory } from './pg-tree.ts';
import { pgTarget } from './pg-target.ts';
import { move, set, ts } from './ops.ts';

const db = useTestDb();
const target = pgTarget(db, 'identity');
const freshTree = treeFactory(db, 'identity-seq');

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

  for (const s of identityScenarios) test(s.name, () => runScenario(target, s), s.timeout);

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
