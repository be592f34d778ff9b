/**
 * Sets: last writer (greatest ts, bytewise) wins per (node, key), independent of the tree, as
 * in apply_ops. A `null` value is stored as a tombstone (SQL NULL): it wins over older writes
 * and keeps them from coming back, but is not a live field. Every set is also kept in `sets`,
 * which is how its ts is de-duplicated. Runs inside the caller's transaction.
 */
import type { StoredSet } from './batch.ts';
import { insertRows } from './bulk-write.ts';
import type { Db } from './sqlite-db.ts';

/** Many rows per statement (bulk-write.ts); the upsert sees them in order, so two sets of one
 * field in a batch end as one after the other would. */
export async function mergeSets(db: Db, sets: StoredSet[]): Promise<void> {
  await insertRows(db, 'sets', ['ts', 'node', 'key', 'value'], sets.map((s) => [s.ts, s.node, s.key, s.value]));
  await insertRows(
    db,
    'fields',
    ['node', 'key', 'value', 'ts'],
    sets.map((s) => [s.node, s.key, s.value === 'null' ? null : s.value, s.ts]),
    'on conflict (node, key) do update set value = excluded.value, ts = excluded.ts where excluded.ts > fields.ts',
  );
}
