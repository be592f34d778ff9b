// The merge keeps the places it read and wrote from one batch to the next (node-cache.ts). They
// must always be what SQLite holds: a change the merge did not make (a rolled-back batch, a
// statement run by exec, as the snapshot load does) empties them. On a real wa-sqlite replica
// in this thread. Each case is a cycle check that a stale place would get wrong.
import { readFile } from 'node:fs/promises';
import * as SQLite from '@journeyapps/wa-sqlite';
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite.mjs';
import { beforeAll, beforeEach, afterEach, expect, test } from 'vitest';
import { MAX_VALUE_BYTES, type Op } from '../../protocol/ops.ts';
import { applyOps, mergeBatch } from '../../client/worker/apply-ops.ts';
import { validateBatch } from '../../client/worker/batch.ts';
import { createSchema } from '../../client/worker/schema.ts';
import { Db } from '../../client/worker/sqlite-db.ts';
import { move, ts } from '../merge/ops.ts';

const options = { maxValueBytes: MAX_VALUE_BYTES };
let module: unknown;
let db: Db;

beforeAll(async () => {
  module = await SQLiteESMFactory({ wasmBinary: await readFile(new URL(import.meta.resolve('@journeyapps/wa-sqlite/dist/wa-sqlite.wasm'))) });
});
beforeEach(async () => {
  db = await Db.open(SQLite.Factory(module), module);
  await createSchema(db);
  // A and B under ROOT; the merge has read and written both.
  await applyOps(db, [move(ts(1), 'A', 'ROOT', 'a'), move(ts(2), 'B', 'ROOT', 'b')], options);
});
afterEach(() => db.close());

const parentOf = async (id: string) => (await db.get('select parent from nodes where id = ?', [id]))?.[0];
const apply = (ops: Op[]) => applyOps(db, ops, options);

test('a batch rolled back leaves no place behind: B is not under A after the rollback', async () => {
  const failed = db.transaction(async () => {
    await mergeBatch(db, validateBatch([move(ts(3), 'B', 'A', 'b')], MAX_VALUE_BYTES));
    expect(await parentOf('B')).toBe('A');
    throw new Error('something after the merge failed');
  });
  await expect(failed).rejects.toThrow('something after the merge failed');
  expect(await parentOf('B')).toBe('ROOT');
  // A under B is no cycle now; with B's rolled-back place it would look like one.
  expect(await apply([move(ts(4), 'A', 'B', 'a')])).toMatchObject({ accepted: 1, skipped: 0 });
  expect(await parentOf('A')).toBe('B');
});

test('rows changed by exec (as the snapshot load changes them) are read again', async () => {
  await apply([move(ts(3), 'B', 'A', 'b')]);
  await db.exec(`update nodes set parent = 'ROOT' where id = 'B'`);
  expect(await apply([move(ts(4), 'A', 'B', 'a')])).toMatchObject({ accepted: 1, skipped: 0 });
  expect(await parentOf('A')).toBe('B');
});

test('places written by one batch are seen by the next: a cycle through them is refused', async () => {
  // C under B under A, over three batches; then A under C closes a cycle through all three.
  await apply([move(ts(3), 'B', 'A', 'b')]);
  await apply([move(ts(4), 'C', 'B', 'c')]);
  expect(await apply([move(ts(5), 'A', 'C', 'a')])).toMatchObject({ accepted: 1, skipped: 1 });
  // And undone late: an older move takes B out from under A first, so A under C applies.
  expect(await apply([move(ts(3, 'alice', 1), 'B', 'ROOT', 'b')])).toMatchObject({ accepted: 1, undone: 2 });
  expect(await parentOf('A')).toBe('C');
  expect(await parentOf('B')).toBe('ROOT');
});
