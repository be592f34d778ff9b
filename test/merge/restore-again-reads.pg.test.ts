/**
 * The guard of sql/000014 (a restore that takes a node out from under a deleted node lets that
 * node's delete be judged again): the extra look reads rows by the restores and the subtrees
 * they name, never by the tree. Counted by Postgres (rows-read.ts), not timed, on a 2,000- and a
 * 20,000-node random tree, 10 times on one connection (custom plans, then generic ones), before
 * any ANALYZE and after one, as test/merge/reads-per-batch.pg.test.ts does.
 *
 * Each time, the history of test/merge/restore.pg.test.ts ("a delete whose restore a late move
 * skipped is judged again"), on two fresh nodes of the big tree: p makes a under ROOT and d
 * under a, and sets a field of a; q deletes d (restored); r's late move of a into d skips that
 * restore, and the merge restores a and then, judged again, d. Only r's push is counted.
 */
import pg from 'pg';
import { beforeAll, expect, test } from 'vitest';
import { RandomTree } from '../../bench/random-tree.ts';
import { formatTs, tsWall, type Op } from '../../protocol/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { createTree, type ApplyResult } from './pg-tree.ts';
import { rowsRead, withoutAutovacuum } from './rows-read.ts';

const db = useTestDb();
const CALLS = 10;

beforeAll(async () => {
  await withoutAutovacuum(db);
});

async function push(client: pg.ClientBase, tree: string, ops: Op[], seen: number): Promise<ApplyResult & { restored: number }> {
  const { rows } = await client.query('select treesync.apply_ops($1, $2::jsonb, $3::bigint) as r', [tree, JSON.stringify(ops), seen]);
  return rows[0].r;
}

/** A tree grown to `size` nodes. */
async function grown(size: number): Promise<string> {
  const tree = `again-${size}`;
  await createTree(db, tree);
  const gen = new RandomTree('main', 7);
  while (gen.size < size) await push(db as unknown as pg.ClientBase, tree, gen.creations(Math.min(1000, size - gen.size)), 0);
  return tree;
}

/** The most rows r's push read over `CALLS` rounds, each on two fresh nodes (`round` names them). */
async function judgedAgainReads(tree: string, round: string): Promise<number> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    let most = 0;
    for (let call = 0; call < CALLS; call++) {
      const [a, d] = [`a-${round}-${call}`, `d-${round}-${call}`];
      // After every ts of the tree, the restores' included (a replica's clock passes what it pulls).
      const { rows: [t] } = await client.query('select newest_ts from treesync.trees where id = $1', [tree]);
      const base = tsWall(t.newest_ts) + 10;
      const seq = async () => Number((await client.query('select seq from treesync.trees where id = $1', [tree])).rows[0].seq);
      const seen = await seq();
      await push(client, tree, [
        { ts: formatTs(base, 1, 'p'), type: 'move', node: a, parent: 'ROOT', pos: 'a' },
        { ts: formatTs(base, 2, 'p'), type: 'move', node: d, parent: a, pos: 'a' },
      ], seen);
      await push(client, tree, [{ ts: formatTs(base, 3, 'p'), type: 'set', node: a, key: 'k', value: call }], seen);
      expect((await push(client, tree, [{ ts: formatTs(base + 1, 0, 'q'), type: 'move', node: d, parent: 'TRASH', pos: 't' }], seen)).restored).toBe(1);
      const { rows, result } = await rowsRead(client, () =>
        push(client, tree, [{ ts: formatTs(base + 1, 0, 'r'), type: 'move', node: a, parent: d, pos: 'a' }], seen));
      expect(result.restored).toBe(2);
      const { rows: parents } = await client.query<{ id: string; parent: string }>(
        'select id, parent from treesync.nodes where tree = $1 and id = any($2) order by id', [tree, [a, d]]);
      expect(parents).toEqual([{ id: a, parent: 'ROOT' }, { id: d, parent: a }]);
      most = Math.max(most, rows);
    }
    return most;
  } finally {
    await client.end();
  }
}

test('judging a delete again reads rows by the restores and their subtrees, not by the tree', async () => {
  const [smallTree, largeTree] = [await grown(2_000), await grown(20_000)];
  for (const round of ['fresh', 'analyzed']) {
    if (round === 'analyzed') await db.query('analyze treesync.nodes, treesync.moves, treesync.ops, treesync.fields, treesync.trees');
    const small = await judgedAgainReads(smallTree, round);
    const large = await judgedAgainReads(largeTree, round);
    console.log(`[guard] judged again (${round === 'fresh' ? 'no statistics' : 'after ANALYZE'}): ${small} rows at 2,000 nodes, ${large} at 20,000`);
    // A lookup that read the tree would read 20,000 rows here (and 2,000 on the small tree).
    expect(large).toBeLessThan(2 * small);
    expect(large).toBeLessThan(400);
  }
}, 180_000);
