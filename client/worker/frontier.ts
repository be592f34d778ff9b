/**
 * Following the tree's stability frontier F (docs/lifecycle.md): no operation older than F can
 * arrive any more (the server refuses it with `stale_ops`), so
 *
 * - the replica keeps F (`sync_state.frontier`; it only ever moves forward);
 * - its clock moves to F or past it, so its next edit is never stale;
 * - its move-log rows and `sets` rows (the per-ts de-duplication of sets) older than F go: a
 *   merge reads the log only from its oldest new move on, and that move is at or above F;
 * - of the log rows that go, the applied moves into TRASH are kept aside (`trash_origins`, the
 *   newest per node): the trash listing and undelete still know when, by whom and from where
 *   a node was deleted (trash.ts).
 *
 * Bounded work per call: at most DROP_PER_CALL rows of each table go, oldest first (key probes
 * on the tables' primary keys); the rest goes with the next answer, which carries F again.
 * Runs inside the caller's transaction (the one applying the answer or loading the snapshot).
 */
import { TreesyncError } from '../../protocol/errors.ts';
import { isTimestamp } from './hlc.ts';
import type { LocalEdits } from './local-edits.ts';
import type { Db } from './sqlite-db.ts';
import { readState, writeState } from './sync-state.ts';

/** Rows of each table dropped per answer at most. */
export const DROP_PER_CALL = 2_000;

export interface FollowResult {
  /** The frontier the replica now keeps (null: none known). */
  frontier: string | null;
  /** Rows dropped from the move log and from `sets`. */
  moves: number;
  sets: number;
}

/**
 * Takes `frontier` from an answer (a timestamp; null or undefined: the tree has none, or an
 * older server did not say). A malformed value throws `invalid_request` and, thrown inside the
 * answer's transaction, changes nothing.
 */
export async function followFrontier(db: Db, edits: LocalEdits, frontier: unknown): Promise<FollowResult> {
  if (frontier !== null && frontier !== undefined && !isTimestamp(frontier)) {
    throw new TreesyncError('invalid_request', `the server's frontier is not a timestamp: ${JSON.stringify(frontier)?.slice(0, 80)}`);
  }
  const kept = (await readState<string>(db, 'frontier')) ?? null;
  let f = kept;
  if (typeof frontier === 'string' && (kept === null || frontier > kept)) {
    f = frontier;
    await writeState(db, 'frontier', f);
    await edits.observe([{ ts: f }]);
  }
  if (f === null) return { frontier: null, moves: 0, sets: 0 };
  return { frontier: f, moves: await dropBelow(db, 'moves', f), sets: await dropBelow(db, 'sets', f) };
}

async function dropBelow(db: Db, table: 'moves' | 'sets', frontier: string): Promise<number> {
  if (table === 'moves') {
    await db.run(
      `insert into trash_origins (node, ts, old_parent, old_pos)
       select node, ts, old_parent, old_pos from moves
        where ts in (select ts from moves where ts < ?1 order by ts limit ?2) and applied and parent = 'TRASH'
        order by ts
       on conflict (node) do update set ts = excluded.ts, old_parent = excluded.old_parent, old_pos = excluded.old_pos
        where excluded.ts > trash_origins.ts`,
      [frontier, DROP_PER_CALL],
    );
  }
  await db.run(`delete from ${table} where ts in (select ts from ${table} where ts < ?1 order by ts limit ?2)`, [frontier, DROP_PER_CALL]);
  return Number((await db.get('select changes()'))?.[0] ?? 0);
}
