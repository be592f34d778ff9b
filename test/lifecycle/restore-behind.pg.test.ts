/**
 * The restore check's guard, in the style of test/merge/reads-per-batch: a push whose author
 * is far behind (its `seen` is 10 on a tree of thousands of operations) and that deletes nodes
 * reads rows by its batch and the deleted subtrees, never by the operations stored since its
 * `seen`. Counted by Postgres (rows-read.ts), not timed.
 *
 * On a 2,000-node and a 20,000-node random tree: a batch of 10 sets and 2 deletes of nodes
 * made long after the pusher's `seen` (so the deletes had not seen their creation: both are
 * restored), then the same with a late batch that undoes and redoes the log.
 */
import pg from 'pg';
import { beforeAll, expect, test } from 'vitest';
import { RandomTree } from '../../bench/random-tree.ts';
import { formatTs, type Op } from '../../protocol/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, createTree } from '../merge/pg-tree.ts';
import { rowsRead, withoutAutovacuum } from '../merge/rows-read.ts';

const db = useTestDb();
const SEEN = 10;

beforeAll(async () => {
  await withoutAutovacuum(db);
});

/** Rows read by two pushes from a replica that has seen only the tree's first 10 operations. */
async function behindReads(size: number): Promise<{ inOrder: number; late: number }> {
  const tree = `behind-${size}`;
  await createTree(db, tree);
  const gen = new RandomTree('main', 5);
  while (gen.size < size) await applyOps(db, tree, gen.creations(Math.min(1000, size - gen.size)));
  let wall = 1_710_000_000_000; // after every RandomTree ts
  const batch = (deleted: string[], at = () => formatTs(wall++, 0, 'behind')): Op[] => [
    ...Array.from({ length: 10 }, (_, i): Op => ({ ts: at(), type: 'set', node: `main-${i + 2}`, key: 'k', value: i })),
    ...deleted.map((node): Op => ({ ts: at(), type: 'move', node, parent: 'TRASH', pos: '' })),
  ];
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const push = async (ops: Op[]) => {
      const { rows, result } = await rowsRead(client, () =>
        client.query('select treesync.apply_ops($1, $2::jsonb, $3::bigint) as r', [tree, JSON.stringify(ops), SEEN]),
      );
      expect(result.rows[0].r).toMatchObject({ accepted: ops.length, restored: 2 });
      return rows;
    };
    const inOrder = await push(batch([`main-${size - 10}`, `main-${size - 11}`]));
    // Older than the two deletes and the restores just stored: undone and redone.
    let lateWall = wall - 20;
    const late = await push(batch([`main-${size - 30}`, `main-${size - 31}`], () => formatTs(lateWall++, 0, 'late')));
    return { inOrder, late };
  } finally {
    await client.end();
  }
}

test("a push far behind that deletes reads rows by its batch and the deleted subtrees, not by what was stored since its seen", async () => {
  const small = await behindReads(2_000);
  const large = await behindReads(20_000);
  console.log(`[guard] push with seen ${SEEN}, 10 sets and 2 deletes: ${JSON.stringify(small)} rows at 2,000 nodes, ${JSON.stringify(large)} at 20,000`);
  expect(large.inOrder).toBeLessThan(2 * small.inOrder);
  expect(large.late).toBeLessThan(2 * small.late);
  // And absolutely: a few dozen rows per operation, where reading the operations stored since
  // `seen` once is 20,000 (000005 read about 26 per operation stored since: 500,000 here).
  expect(Math.max(large.inOrder, large.late)).toBeLessThan(60 * 12);
}, 120_000);
