/**
 * Db on wa-sqlite's asynchronous (Asyncify) build, which `idb` needs: IndexedDB answers later,
 * so a step may suspend, and only wa-sqlite's own API (which awaits each call) survives that.
 * Db itself calls the synchronous build's exports directly for speed; this subclass keeps its
 * interface and runs the same statements through the API instead. Slower per statement, and
 * only used where the storage is slower anyway.
 */
import * as SQLite from '@journeyapps/wa-sqlite';
import { Db, type RawModule, type Row, type SqlValue } from '../sqlite-db.ts';

export class AsyncDb extends Db {
  private readonly statements = new Map<string, number>();

  static async openAsync(sqlite3: SQLiteAPI, module: unknown, filename: string, vfs: string): Promise<AsyncDb> {
    const handle = await sqlite3.open_v2(filename, SQLite.SQLITE_OPEN_CREATE | SQLite.SQLITE_OPEN_READWRITE, vfs);
    return new AsyncDb(sqlite3, module as ConstructorParameters<typeof Db>[1], handle);
  }

  private async prepare(sql: string): Promise<number> {
    let stmt = this.statements.get(sql);
    if (stmt === undefined) {
      for await (const s of this.sqlite3.statements(this.handle, sql, { unscoped: true })) {
        if (stmt !== undefined) throw new Error(`one statement expected: ${sql}`);
        stmt = s;
      }
      if (stmt === undefined) throw new Error(`no statement in: ${sql}`);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  /** Binds, steps up to `limit` rows, and always resets the statement. */
  private async steps(sql: string, params: readonly SqlValue[], limit: number): Promise<Row[]> {
    const s = this.sqlite3;
    const stmt = await this.prepare(sql);
    try {
      params.forEach((v, i) => {
        if (typeof v === 'string') s.bind_text(stmt, i + 1, v);
        else if (v === null) s.bind_null(stmt, i + 1);
        else if (typeof v === 'number') {
          if ((v | 0) === v) s.bind_int(stmt, i + 1, v);
          else s.bind_double(stmt, i + 1, v);
        } else s.bind_blob(stmt, i + 1, v);
      });
      const rows: Row[] = [];
      while (rows.length < limit && (await s.step(stmt)) === SQLite.SQLITE_ROW) {
        rows.push(s.row(stmt).map((v) => (typeof v === 'bigint' ? Number(v) : v)) as Row);
      }
      return rows;
    } finally {
      await s.reset(stmt);
      s.clear_bindings(stmt);
    }
  }

  override all(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return this.steps(sql, params, Infinity);
  }

  override async get(sql: string, params: readonly SqlValue[] = []): Promise<Row | undefined> {
    return (await this.steps(sql, params, 1))[0];
  }

  override async run(sql: string, params: readonly SqlValue[] = []): Promise<void> {
    await this.steps(sql, params, Infinity);
  }

  /** Binding never suspends, so the raw exports bind; the step goes through the API. */
  override async runBound(sql: string, bind: (m: RawModule, stmt: number) => void): Promise<void> {
    const s = this.sqlite3;
    const stmt = await this.prepare(sql);
    try {
      bind(this.module as unknown as RawModule, stmt);
      await s.step(stmt);
    } finally {
      await s.reset(stmt);
      s.clear_bindings(stmt);
    }
  }

  override async close(): Promise<void> {
    for (const stmt of this.statements.values()) await this.sqlite3.finalize(stmt);
    this.statements.clear();
    await super.close();
  }
}
