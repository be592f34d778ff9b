/**
 * The guard: merging a batch reads a number of rows that depends on the batch (and on the
 * moves it undoes and redoes), never on the size of the tree. Counted by Postgres (rows-read.ts),
 * not timed, so a fast machine cannot hide a scan of the tree.
 *
 * Each case measures the same work on a tree of 2,000 nodes and on one of 20,000: a lookup
 * that reads the tree grows about tenfold, lookups by key grow only with the depth of the
 * random tree (its logarithm). Measured on fresh connections for 10 calls each, so the first
 * five use custom plans and the rest the generic plans PL/pgSQL switches to; before any ANALYZE
 * (no statistics at all, autovacuum off) and after one. The version is the one under test
 * (PG_MAJOR).
 */
import pg from 'pg';
import { beforeAll, expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { RandomTree } from '../../bench/random-tree.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, createTree } from './pg-tree.ts';
import { rowsRead, withoutAutovacuum } from './rows-read.ts';

const db = useTestDb();
const SMALL = 2_000;
const LARGE = 20_000;
/** Calls per measurement: more than the 5 custom plans PL/pgSQL makes before a generic one. */
const CALLS = 10;

beforeAll(async () => {
  await withoutAutovacuum(db);
});

/** Grows a tree to `size` nodes in batches of 1,000. */
async function grow(tree: string, gen: RandomTree, size: number): Promise<void> {
  while (gen.size < size) await applyOps(db, tree, gen.creations(Math.min(1000, size - gen.size)));
}

/** A batch of everyday edits: new nodes, re-parenting (cycle checks), fields. */
function mixedBatch(gen: RandomTree): Op[] {
  return [...gen.creations(100), ...gen.reparents(100), ...gen.sets(20)];
}

/** The most rows any of `CALLS` batches read, each pushed on one fresh connection. */
async function maxRowsPerBatch(tree: string, batch: () => Op[]): Promise<number> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    let most = 0;
    for (let call = 0; call < CALLS; call++) {
      const { rows } = await rowsRead(client, () => applyOps(client, tree, batch()));
      most = Math.max(most, rows);
    }
    return most;
  } finally {
    await client.end();
  }
}

async function analyze(): Promise<void> {
  await db.query('analyze treesync.nodes, treesync.moves, treesync.ops, treesync.fields, treesync.trees');
}

test('a batch of creations, moves and sets reads rows by the batch, not by the tree (custom and generic plans, before and after ANALYZE)', async () => {
  await createTree(db, 'grows');
  const gen = new RandomTree('main', 1);
  await grow('grows', gen, SMALL);
  const small = await maxRowsPerBatch('grows', () => mixedBatch(gen));
  await grow('grows', gen, LARGE);
  const large = await maxRowsPerBatch('grows', () => mixedBatch(gen));
  await analyze();
  const analysed = await maxRowsPerBatch('grows', () => mixedBatch(gen));
  console.log(`[guard] mixed batch of 220: ${small} rows at ${SMALL} nodes, ${large} at ${LARGE}, ${analysed} after ANALYZE`);
  expect(large).toBeLessThan(2 * small);
  expect(analysed).toBeLessThan(2 * small);
}, 120_000);

test('a late batch reads rows by the moves it undoes and redoes, not by the tree', async () => {
  await createTree(db, 'late');
  const gen = new RandomTree('main', 2);
  /** 300 moves pushed after a fork, then 50 of the fork's moves, older than those 300. */
  const lateRound = () => {
    const late = gen.fork('late', gen.clock, gen.clock);
    return [[...gen.creations(200), ...gen.reparents(100)], [...late.creations(25), ...late.reparents(25)]] as const;
  };
  const measure = async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      let most = 0;
      for (let call = 0; call < CALLS; call++) {
        const [logged, late] = lateRound();
        await applyOps(client, 'late', logged);
        const { rows, result } = await rowsRead(client, () => applyOps(client, 'late', late));
        expect(result.undone).toBe(300);
        most = Math.max(most, rows);
      }
      return most;
    } finally {
      await client.end();
    }
  };
  await grow('late', gen, SMALL);
  const small = await measure();
  await grow('late', gen, LARGE);
  const large = await measure();
  await analyze();
  const analysed = await measure();
  console.log(`[guard] late batch of 50 under 300 logged moves: ${small} rows at ${SMALL} nodes, ${large} at ${LARGE}, ${analysed} after ANALYZE`);
  expect(large).toBeLessThan(2 * small);
  expect(analysed).toBeLessThan(2 * small);
}, 120_000);

test('concurrent pushes to one tree each read rows by their batch and the moves they redo, not by the tree', async () => {
  await createTree(db, 'shared');
  const gen = new RandomTree('main', 3);
  const WRITERS = 4;
  /** The most rows read per operation merged (the batch plus the moves it undid and redid). */
  const measure = async () => {
    const writers = Array.from({ length: WRITERS }, (_, i) => gen.fork(`w${i}`, 10 + i, gen.clock));
    gen.creations(0);
    const perOp = await Promise.all(
      writers.map(async (w) => {
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        try {
          let most = 0;
          for (let call = 0; call < CALLS; call++) {
            const batch = [...w.creations(50), ...w.reparents(50)];
            const { rows, result } = await rowsRead(client, () => applyOps(client, 'shared', batch));
            most = Math.max(most, rows / (batch.length + result.undone));
          }
          return most;
        } finally {
          await client.end();
        }
      }),
    );
    return Math.max(...perOp);
  };
  await grow('shared', gen, SMALL);
  const small = await measure();
  await grow('shared', gen, LARGE);
  const large = await measure();
  console.log(`[guard] ${WRITERS} concurrent writers: ${small.toFixed(1)} rows per merged op at ${SMALL} nodes, ${large.toFixed(1)} at ${LARGE}`);
  // Which batches redo which depends on who gets the lock first: more slack than above, still
  // far below the tenfold of a lookup that reads the tree.
  expect(large).toBeLessThan(3 * small);
  // And absolutely: a few dozen rows per operation (its node, its parent, their ancestors),
  // where reading the tree once per batch of 100 would be 200.
  expect(large).toBeLessThan(60);
}, 120_000);
