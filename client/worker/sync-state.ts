/**
 * The replica's sync state, one row per key in `sync_state` (JSON text values): `replica` (this
 * replica's id), `clock` (the hybrid clock's state, saved in the transaction of every op it
 * stamped or observed), `seq` (the server seq the replica has applied up to), `tree`,
 * `frontier` (the tree's stability frontier F as the server last said it, frontier.ts).
 */
import type { Db } from './sqlite-db.ts';

export type SyncKey = 'replica' | 'clock' | 'seq' | 'tree' | 'frontier';

export async function readState<T>(db: Db, key: SyncKey): Promise<T | undefined> {
  const row = await db.get('select value from sync_state where key = ?', [key]);
  return row === undefined || row[0] === null ? undefined : (JSON.parse(row[0] as string) as T);
}

export async function writeState(db: Db, key: SyncKey, value: unknown): Promise<void> {
  await db.run(
    'insert into sync_state (key, value) values (?1, ?2) on conflict (key) do update set value = excluded.value',
    [key, JSON.stringify(value)],
  );
}
