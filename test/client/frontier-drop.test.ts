// followFrontier on a real wa-sqlite replica (in this thread): rows below F go at most
// DROP_PER_CALL per call per table, oldest first, the rest with the next calls; rows at or
// above F stay; F only moves forward; the clock moves to F; a malformed F changes nothing.
import { readFile } from 'node:fs/promises';
import * as SQLite from '@journeyapps/wa-sqlite';
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite.mjs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { MAX_VALUE_BYTES, type Op } from '../../protocol/ops.ts';
import { applyOps } from '../../client/worker/apply-ops.ts';
import { DROP_PER_CALL, followFrontier } from '../../client/worker/frontier.ts';
import { formatTimestamp } from '../../client/worker/hlc.ts';
import { LocalEdits } from '../../client/worker/local-edits.ts';
import { createSchema } from '../../client/worker/schema.ts';
import { Db } from '../../client/worker/sqlite-db.ts';
import { readState } from '../../client/worker/sync-state.ts';

const options = { maxValueBytes: MAX_VALUE_BYTES };
const WALL = 1_780_000_000_000;
const at = (i: number, replica = 'other') => formatTimestamp({ wall: WALL + i, counter: 0, replica });
const MOVES = DROP_PER_CALL + 500;
let db: Db;
let edits: LocalEdits;

beforeAll(async () => {
  const wasm = await readFile(new URL(import.meta.resolve('@journeyapps/wa-sqlite/dist/wa-sqlite.wasm')));
  const module = await SQLiteESMFactory({ wasmBinary: wasm });
  db = await Db.open(SQLite.Factory(module), module);
  await createSchema(db);
  edits = await LocalEdits.load(db, 'me', options);
  const ops: Op[] = [];
  for (let i = 0; i < MOVES; i++) ops.push({ ts: at(i), type: 'move', node: `n${i}`, parent: 'ROOT', pos: `p${i}` });
  for (let i = 0; i < 10; i++) ops.push({ ts: at(i, 'setter'), type: 'set', node: `n${i}`, key: 'k', value: i });
  await applyOps(db, ops, options, (batch) => edits.observe(batch));
});
afterAll(() => db.close());

const count = async (table: 'moves' | 'sets', below: string) => Number((await db.get(`select count(*) from ${table} where ts < ?`, [below]))![0]);
const total = async (table: 'moves' | 'sets') => Number((await db.get(`select count(*) from ${table}`))![0]);

test('rows below F go in bounded steps, oldest first; F only moves forward; the clock follows F', async () => {
  const f = at(MOVES - 100, 'a'); // above the first MOVES - 100 moves ('a' < 'other') and every set
  const first = await db.transaction(() => followFrontier(db, edits, f));
  expect(first).toEqual({ frontier: f, moves: DROP_PER_CALL, sets: 10 });
  // Oldest first: what is left below F is the newest of them.
  expect(Number((await db.get('select min(ts) = ? from moves', [at(DROP_PER_CALL)]))![0])).toBe(1);
  // The next answer carries F again (or none at all: the kept F is used).
  expect(await db.transaction(() => followFrontier(db, edits, null))).toEqual({ frontier: f, moves: MOVES - 100 - DROP_PER_CALL, sets: 0 });
  expect(await count('moves', f)).toBe(0);
  expect(await total('moves')).toBe(100);
  expect(await total('sets')).toBe(0);
  expect(await readState(db, 'frontier')).toBe(f);
  // The clock is at F or past it: the next stamp is above F.
  const clock = await readState<{ wall: number; counter: number }>(db, 'clock');
  expect(formatTimestamp({ wall: clock!.wall, counter: clock!.counter, replica: 'a' }) >= f).toBe(true);
  // An older F (never sent by a server, but harmless) does not move the kept one back.
  expect((await db.transaction(() => followFrontier(db, edits, at(5)))).frontier).toBe(f);
  expect(await readState(db, 'frontier')).toBe(f);
});

test('a malformed frontier throws invalid_request and changes nothing', async () => {
  const before = await readState(db, 'frontier');
  for (const bad of ['nope', 42, { ts: at(1) }]) {
    await expect(db.transaction(() => followFrontier(db, edits, bad))).rejects.toMatchObject({ code: 'invalid_request' });
  }
  expect(await readState(db, 'frontier')).toBe(before);
  expect(await total('moves')).toBe(100);
});
