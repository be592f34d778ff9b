/**
 * The purge's guard, in the style of test/merge/reads-per-batch: a batch of the purge reads a
 * number of rows that depends on the trash it purges (and on the log from the frontier on),
 * never on the size of the tree. Counted by Postgres (rows-read.ts), not timed.
 *
 * Two trees, one of 2,000 nodes and one of 20,000, each with the same trash: 40 folders of 3
 * children, with fields, deleted long ago. Both purged once, in one batch, before any ANALYZE
 * and after one; then both again after their logs were truncated (the delete times then come
 * from trash_times).
 */
import pg from 'pg';
import { beforeAll, expect, test } from 'vitest';
import { formatTs, type Op } from '../../protocol/ops.ts';
import { RandomTree } from '../../bench/random-tree.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, createTree } from '../merge/pg-tree.ts';
import { rowsRead, withoutAutovacuum } from '../merge/rows-read.ts';

const db = useTestDb();
const SMALL = 2_000;
const LARGE = 20_000;
const FOLDERS = 40;
/** After every RandomTree timestamp (they start in 2023), still long before the retention window. */
const TRASH_WALL = 1_710_000_000_000;

beforeAll(async () => {
  await withoutAutovacuum(db);
});

/** A tree of `size` random nodes, and `round`'s folders: made, filled, then deleted. */
async function treeWithTrash(tree: string, size: number, round: number): Promise<void> {
  const gen = new RandomTree('main', 7);
  await createTree(db, tree);
  while (gen.size < size) await applyOps(db, tree, gen.creations(Math.min(1000, size - gen.size)));
  await addTrash(tree, round);
}

async function addTrash(tree: string, round: number): Promise<void> {
  let tick = TRASH_WALL + round * 1_000_000;
  const ts = () => formatTs(tick++, 0, 'trasher');
  const ops: Op[] = [];
  for (let f = 0; f < FOLDERS; f++) {
    ops.push({ ts: ts(), type: 'move', node: `f${round}-${f}`, parent: 'ROOT', pos: 'a' });
    for (let c = 0; c < 3; c++) ops.push({ ts: ts(), type: 'move', node: `f${round}-${f}-${c}`, parent: `f${round}-${f}`, pos: `a${c}` });
    ops.push({ ts: ts(), type: 'set', node: `f${round}-${f}-0`, key: 'title', value: 'x' });
  }
  for (let f = 0; f < FOLDERS; f++) ops.push({ ts: ts(), type: 'move', node: `f${round}-${f}`, parent: 'TRASH', pos: '' });
  await applyOps(db, tree, ops);
  // F after everything: every trashed folder is old enough.
  await db.query('select treesync.note_replica($1, $2, $3)', [tree, 'trasher', formatTs(tick, 0, 'trasher')]);
}

/** Rows one batch of the purge reads, on a fresh connection; the batch must purge the whole trash. */
async function purgeReads(tree: string): Promise<number> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows, result } = await rowsRead(client, () =>
      client.query('select treesync.purge_trash($1, 1000, null) as r', [tree]),
    );
    expect(result.rows[0].r).toMatchObject({ purged: FOLDERS, nodes: 4 * FOLDERS, fields: FOLDERS, more: false });
    return rows;
  } finally {
    await client.end();
  }
}

test('a purge batch reads rows by the trash it purges, not by the tree (log whole or truncated, before and after ANALYZE)', async () => {
  await treeWithTrash('small', SMALL, 0);
  await treeWithTrash('large', LARGE, 0);
  const small = await purgeReads('small');
  const large = await purgeReads('large');
  await addTrash('small', 1);
  await addTrash('large', 1);
  await db.query('analyze treesync.nodes, treesync.moves, treesync.ops, treesync.fields, treesync.trees');
  const analysed = await purgeReads('large');
  await purgeReads('small');
  // Truncated: the deletes' log rows are gone, their times are in trash_times.
  await addTrash('small', 2);
  await addTrash('large', 2);
  for (const tree of ['small', 'large']) {
    while ((await db.query('select treesync.truncate_log($1, 100000) as r', [tree])).rows[0].r.more);
  }
  const smallTruncated = await purgeReads('small');
  const largeTruncated = await purgeReads('large');
  console.log(
    `[guard] purge of ${FOLDERS} folders: ${small} rows at ${SMALL} nodes, ${large} at ${LARGE}, ${analysed} after ANALYZE; ` +
      `log truncated: ${smallTruncated} at ${SMALL}, ${largeTruncated} at ${LARGE}`,
  );
  expect(large).toBeLessThan(2 * small);
  expect(analysed).toBeLessThan(2 * small);
  expect(largeTruncated).toBeLessThan(2 * smallTruncated);
  // And absolutely: a few dozen rows per purged node, where reading the tree once is 20,000.
  expect(Math.max(large, analysed, largeTruncated)).toBeLessThan(60 * 4 * FOLDERS);
}, 120_000);
