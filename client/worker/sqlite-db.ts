/**
 * A thin layer over the wa-sqlite API: prepared statements kept for the connection's life,
 * typed binds, rows as arrays, and one transaction helper. Everything the replica asks of
 * SQLite goes through here, so the rest reads like SQL and nothing else.
 *
 * Contract: statements are prepared once per SQL text and reused (the merge runs the same few
 * statements many times per batch). Calls are not re-entrant across awaits: the replica
 * serialises its work (see serial.ts) so that one transaction is open at a time.
 */
import * as SQLite from '@journeyapps/wa-sqlite';

export type SqlValue = string | number | bigint | Uint8Array | null;
export type Row = SqlValue[];

export class Db {
  private readonly prepared = new Map<string, number>();

  constructor(
    readonly sqlite3: SQLiteAPI,
    readonly handle: number,
  ) {}

  /** Opens an in-memory database on a wa-sqlite module. */
  static async open(sqlite3: SQLiteAPI, filename = ':memory:'): Promise<Db> {
    return new Db(sqlite3, await sqlite3.open_v2(filename));
  }

  /** Runs one or more statements without parameters (schema, pragmas, transaction control). */
  async exec(sql: string): Promise<void> {
    await this.sqlite3.exec(this.handle, sql);
  }

  private async statement(sql: string): Promise<number> {
    let stmt = this.prepared.get(sql);
    if (stmt === undefined) {
      for await (const s of this.sqlite3.statements(this.handle, sql, { unscoped: true })) {
        if (stmt !== undefined) throw new Error(`one statement expected: ${sql}`);
        stmt = s;
      }
      if (stmt === undefined) throw new Error(`no statement in: ${sql}`);
      this.prepared.set(sql, stmt);
    }
    return stmt;
  }

  private bind(stmt: number, params: readonly SqlValue[]): void {
    const s = this.sqlite3;
    for (let i = 0; i < params.length; i++) {
      const v = params[i]!;
      // Typed binds: no guessing per value inside wa-sqlite.
      if (typeof v === 'string') s.bind_text(stmt, i + 1, v);
      else if (v === null) s.bind_null(stmt, i + 1);
      else if (typeof v === 'number') {
        if (Number.isInteger(v)) s.bind_int64(stmt, i + 1, BigInt(v));
        else s.bind_double(stmt, i + 1, v);
      } else if (typeof v === 'bigint') s.bind_int64(stmt, i + 1, v);
      else s.bind_blob(stmt, i + 1, v);
    }
  }

  /** Runs a statement; returns every row. */
  async all(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    const stmt = await this.statement(sql);
    const s = this.sqlite3;
    try {
      this.bind(stmt, params);
      const rows: Row[] = [];
      while ((await s.step(stmt)) === SQLite.SQLITE_ROW) rows.push(s.row(stmt) as Row);
      return rows;
    } finally {
      await s.reset(stmt);
      s.clear_bindings(stmt);
    }
  }

  /** Runs a statement; returns its first row, or undefined. */
  async get(sql: string, params: readonly SqlValue[] = []): Promise<Row | undefined> {
    const stmt = await this.statement(sql);
    const s = this.sqlite3;
    try {
      this.bind(stmt, params);
      return (await s.step(stmt)) === SQLite.SQLITE_ROW ? (s.row(stmt) as Row) : undefined;
    } finally {
      await s.reset(stmt);
      s.clear_bindings(stmt);
    }
  }

  /** Runs a statement for its effect. */
  async run(sql: string, params: readonly SqlValue[] = []): Promise<void> {
    const stmt = await this.statement(sql);
    const s = this.sqlite3;
    try {
      this.bind(stmt, params);
      while ((await s.step(stmt)) === SQLite.SQLITE_ROW);
    } finally {
      await s.reset(stmt);
      s.clear_bindings(stmt);
    }
  }

  /** Runs `body` in one transaction: committed when it returns, rolled back when it throws. */
  async transaction<T>(body: () => Promise<T>): Promise<T> {
    await this.exec('begin');
    try {
      const result = await body();
      await this.exec('commit');
      return result;
    } catch (err) {
      await this.exec('rollback');
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const stmt of this.prepared.values()) await this.sqlite3.finalize(stmt);
    this.prepared.clear();
    await this.sqlite3.close(this.handle);
  }
}
