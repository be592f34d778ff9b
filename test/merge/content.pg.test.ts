// Content: last writer wins per (node, key); null removes a field; the trash keeps subtrees;
// siblings in (pos, id) order: the shared scenarios (test/scenarios/content.ts) against Postgres.
import { describe, expect, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { contentScenarios } from '../scenarios/content.ts';
import { runScenario } from '../scenarios/scenario.ts';
import { pgTarget } from './pg-target.ts';
import { applyOps, treeFactory } from './pg-tree.ts';
import { move, ts } from './ops.ts';

const db = useTestDb();
const target = pgTarget(db, 'content');
const freshTree = treeFactory(db, 'content-sql');

describe('content', () => {
  for (const s of contentScenarios) test(s.name, () => runScenario(target, s), s.timeout);

  test('siblings read in order with SQL: order by pos, id under collate "C"', async () => {
    const tree = await freshTree();
    await applyOps(db, tree, [move(ts(1), 'a', 'ROOT', 'same'), move(ts(2), 'B', 'ROOT', 'same'), move(ts(3), 'z', 'ROOT', 'A')]);
    const { rows } = await db.query<{ id: string }>(
      `select id from treesync.nodes where tree = $1 and parent = 'ROOT'
        order by pos collate "C", id collate "C"`,
      [tree],
    );
    // Bytewise: 'A' < 'same', and 'B' < 'a'; the database's ICU default would say otherwise.
    expect(rows.map((r) => r.id)).toEqual(['z', 'B', 'a']);
  });
});
