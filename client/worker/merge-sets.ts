/**
 * Sets: last writer (greatest ts, bytewise) wins per (node, key), independent of the tree, as
 * in apply_ops. A `null` value is stored as a tombstone (SQL NULL): it wins over older writes
 * and keeps them from coming back, but is not a live field. Every set is also kept in `sets`,
 * which is how its ts is de-duplicated. Runs inside the caller's transaction.
 */
import type { StoredSet } from './batch.ts';
import type { Db } from './sqlite-db.ts';

export async function mergeSets(db: Db, sets: StoredSet[]): Promise<void> {
  for (const s of sets) {
    await db.run('insert into sets (ts, node, key, value) values (?, ?, ?, ?)', [s.ts, s.node, s.key, s.value]);
    await db.run(
      `insert into fields (node, key, value, ts) values (?1, ?2, ?3, ?4)
       on conflict (node, key) do update set value = excluded.value, ts = excluded.ts
       where excluded.ts > fields.ts`,
      [s.node, s.key, s.value === 'null' ? null : s.value, s.ts],
    );
  }
}
