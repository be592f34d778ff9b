/**
 * The replica's schema in SQLite. It mirrors the server's tables (sql/000001-schema.sql) for
 * one tree, so the same merge gives the same rows on both sides:
 *
 * - nodes (id, parent, pos): the tree as it stands; ROOT and TRASH have no parent.
 * - fields (node, key, value, ts): content, last writer wins; `value` is the JSON text of the
 *   value, SQL NULL for a removed field (a tombstone, kept so an older write cannot revive it).
 * - moves (ts, node, parent, pos, old_parent, old_pos, applied): the move log with the parent
 *   and position each move really replaced (NULL when the node did not exist), and whether it
 *   applied. It is also how a move's ts is de-duplicated.
 * - sets (ts, node, key, value): every set received, so a set's ts is de-duplicated too
 *   (`value` is the canonical JSON text: object keys sorted, so equal values compare equal).
 * - outbox (ts, op): local operations not yet acknowledged by the server, in ts order.
 * - sync_state (key, value): the tree, the replica id, the clock, the server seq.
 * - trash_origins (node, ts, old_parent, old_pos): for move-log rows dropped below the frontier,
 *   the newest applied move of each node into TRASH (when, by whom, from where): what the
 *   trash listing and undelete need once the log row is gone (trash.ts).
 *
 * Every text column compares BINARY (SQLite's default, bytewise for UTF-8): ids, keys and
 * timestamps sort the way design.md requires. Tables are WITHOUT ROWID, clustered on their key.
 */
import type { Db } from './sqlite-db.ts';

export const SCHEMA_VERSION = 1;

/** The tables without their secondary indexes (a bulk load builds those after the rows). */
export const TABLES_SQL = `
create table if not exists nodes (
  id text not null primary key,
  parent text,
  pos text not null
) without rowid;
create table if not exists fields (
  node text not null,
  key text not null,
  value text,
  ts text not null,
  primary key (node, key)
) without rowid;
create table if not exists moves (
  ts text not null primary key,
  node text not null,
  parent text not null,
  pos text not null,
  old_parent text,
  old_pos text,
  applied integer not null
) without rowid;
create table if not exists sets (
  ts text not null primary key,
  node text not null,
  key text not null,
  value text not null
) without rowid;
create table if not exists outbox (
  ts text not null primary key,
  op text not null
) without rowid;
create table if not exists sync_state (
  key text not null primary key,
  value text
) without rowid;
create table if not exists trash_origins (
  node text not null primary key,
  ts text not null,
  old_parent text,
  old_pos text
) without rowid;
`;

export const TABLE_NAMES = ['nodes', 'fields', 'moves', 'sets', 'outbox', 'sync_state', 'trash_origins'] as const;

/** Children in sibling order (pos, id), for reading a parent's children by index. */
export const INDEXES_SQL = `
create index if not exists nodes_by_parent on nodes (parent, pos, id);
`;

export async function createSchema(db: Db): Promise<void> {
  await db.exec(TABLES_SQL);
  await db.exec(INDEXES_SQL);
  await db.run(`insert or ignore into nodes (id, parent, pos) values ('ROOT', null, ''), ('TRASH', null, '')`);
  await db.exec(`pragma user_version = ${SCHEMA_VERSION}`);
}
