/**
 * Many rows per statement. Every statement is a call into SQLite compiled to WebAssembly with a
 * fixed cost (bind, step, reset) on top of its B-tree work; a merge writes its rows up to 1,000
 * to a statement (measured: a batch's nodes written 1,000 to a statement cost a tenth to a
 * fifth less than 100 to a statement). Seven statement texts per shape (1,000, 300, 100, 30,
 * 10, 3 and 1 rows), prepared once, cover any count in a few statements: 990 rows are three of
 * 300 and three of 30.
 */
import type { Db, SqlValue } from './sqlite-db.ts';

const SIZES = [1000, 300, 100, 30, 10, 3, 1] as const;

/** Statement texts made so far, by shape and then by row count. Each text is built once: the
 * same string is then the key of its prepared statement, instead of a new text of up to 20 KB
 * built and hashed for every statement. */
const TEXTS = new Map<string, Map<number, string>>();

/** `head` followed by `count` copies of `row` joined by `sep`, and `tail`. */
function text(head: string, row: string, sep: string, tail: string, count: number): string {
  const shape = `${head}\u0000${row}\u0000${sep}\u0000${tail}`;
  let bySize = TEXTS.get(shape);
  if (bySize === undefined) TEXTS.set(shape, (bySize = new Map()));
  let sql = bySize.get(count);
  if (sql === undefined) bySize.set(count, (sql = head + Array.from({ length: count }, () => row).join(sep) + tail));
  return sql;
}

/**
 * Runs `head row, row, … tail` over `rows`, each row's values bound in order to the `?` of
 * one copy of `row`.
 */
async function chunked(db: Db, head: string, row: string, sep: string, tail: string, rows: readonly SqlValue[][]): Promise<void> {
  let i = 0;
  for (const size of SIZES) {
    if (rows.length - i < size) continue;
    const sql = text(head, row, sep, tail, size);
    for (; rows.length - i >= size; i += size) {
      const params: SqlValue[] = new Array<SqlValue>(size * rows[i]!.length);
      let p = 0;
      for (let k = i; k < i + size; k++) for (const v of rows[k]!) params[p++] = v;
      await db.run(sql, params);
    }
  }
}

/** Inserts rows (one array of values per row, in `columns` order). `onConflict` (an upsert
 * clause) sees the rows in order, as a statement per row would. */
export function insertRows(db: Db, table: string, columns: readonly string[], rows: readonly SqlValue[][], onConflict = ''): Promise<void> {
  const row = `(${columns.map(() => '?').join(', ')})`;
  return chunked(db, `insert into ${table} (${columns.join(', ')}) values `, row, ', ', onConflict && ` ${onConflict}`, rows);
}

/** Deletes the rows whose `key` is one of `keys`. */
export function deleteRows(db: Db, table: string, key: string, keys: readonly string[]): Promise<void> {
  return chunked(db, `delete from ${table} where ${key} in (`, '?', ', ', ')', keys.map((k) => [k]));
}

/** Sets `columns` on the rows whose `key` is each row's first value (the others follow in
 * `columns` order). Each key at most once. */
export function updateRows(db: Db, table: string, key: string, columns: readonly string[], rows: readonly SqlValue[][]): Promise<void> {
  const set = columns.map((c, i) => `${c} = v.column${i + 2}`).join(', ');
  const row = `(?, ${columns.map(() => '?').join(', ')})`;
  return chunked(db, `update ${table} set ${set} from (values `, row, ', ', `) v where ${table}.${key} = v.column1`, rows);
}
