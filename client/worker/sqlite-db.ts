/**
 * A thin layer over the wa-sqlite API: prepared statements kept for the connection's life,
 * typed binds, rows as arrays, and one transaction helper. Everything the replica asks of
 * SQLite goes through here, so the rest reads like SQL and nothing else.
 *
 * Contract: statements are prepared once per SQL text and reused (the merge runs the same few
 * statements many times per batch). Calls are not re-entrant across awaits: the replica
 * serialises its work (see serial.ts) so that one transaction is open at a time.
 */

export type SqlValue = string | number | Uint8Array | null;
export type Row = SqlValue[];

/** The Emscripten module's raw exports the hot path calls (the synchronous build). */
export interface RawModule {
  HEAPU8: Uint8Array;
  _sqlite3_step(stmt: number): number;
  _sqlite3_reset(stmt: number): number;
  _sqlite3_clear_bindings(stmt: number): number;
  _sqlite3_bind_text(stmt: number, i: number, ptr: number, bytes: number, destructor: number): number;
  _sqlite3_bind_int(stmt: number, i: number, value: number): number;
  _sqlite3_bind_double(stmt: number, i: number, value: number): number;
  _sqlite3_bind_null(stmt: number, i: number): number;
  _sqlite3_column_count(stmt: number): number;
  _sqlite3_column_type(stmt: number, i: number): number;
  _sqlite3_column_double(stmt: number, i: number): number;
  _sqlite3_column_text(stmt: number, i: number): number;
  _sqlite3_column_bytes(stmt: number, i: number): number;
  _sqlite3_errmsg(db: number): number;
  _sqlite3_malloc(bytes: number): number;
  _sqlite3_free(ptr: number): void;
  UTF8ToString(ptr: number): string;
}

const SQLITE_ROW = 100;
const SQLITE_DONE = 101;
/** SQLite reads a text bound with this destructor where it is, without a copy: the caller keeps
 * it there until the statement is reset (see bind). */
const SQLITE_STATIC = 0;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class Db {
  private readonly prepared = new Map<string, number>();
  private scratch = 0;
  private scratchBytes = 0;

  constructor(
    readonly sqlite3: SQLiteAPI,
    protected readonly module: RawModule,
    readonly handle: number,
  ) {}

  /**
   * Opens a database on a wa-sqlite module (`module` is what its factory made, `sqlite3` the
   * API over it). Statements run through the module's exports directly: wa-sqlite's API wraps
   * each step in promises and encodes each bound string into a fresh allocation, which costs
   * more than the statement itself for the merge's short lookups by key.
   */
  static async open(sqlite3: SQLiteAPI, module: unknown, filename = ':memory:'): Promise<Db> {
    return new Db(sqlite3, module as RawModule, await sqlite3.open_v2(filename));
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

  private fail(what: string): never {
    throw new Error(`SQLite ${what}: ${this.module.UTF8ToString(this.module._sqlite3_errmsg(this.handle))}`);
  }

  /** Makes the scratch buffer at least `bytes` long (its old contents are dropped). */
  private reserve(bytes: number): void {
    if (bytes <= this.scratchBytes) return;
    const m = this.module;
    if (this.scratch) m._sqlite3_free(this.scratch);
    this.scratchBytes = Math.max(bytes, 4096);
    this.scratch = m._sqlite3_malloc(this.scratchBytes);
    if (!this.scratch) {
      this.scratchBytes = 0;
      this.fail('out of memory');
    }
  }

  /** Writes `value` as UTF-8 at `at` in the scratch buffer, binds it there; returns its bytes. */
  private bindText(stmt: number, i: number, value: string, at: number): number {
    const m = this.module;
    const heap = m.HEAPU8;
    let bytes = -1;
    if (value.length <= 32) {
      // Short ids and keys: copied byte by byte when ASCII (cheaper than a call to the encoder).
      bytes = value.length;
      for (let k = 0; k < value.length; k++) {
        const c = value.charCodeAt(k);
        if (c >= 0x80) {
          bytes = -1;
          break;
        }
        heap[at + k] = c;
      }
    }
    if (bytes < 0) bytes = encoder.encodeInto(value, heap.subarray(at, this.scratch + this.scratchBytes)).written;
    if (m._sqlite3_bind_text(stmt, i, at, bytes, SQLITE_STATIC) !== 0) this.fail('bind');
    return bytes;
  }

  /**
   * Binds `params`, every text in its own place of the scratch buffer: SQLite reads them there
   * (SQLITE_STATIC: no copy, no allocation per value) until the statement is reset and its
   * bindings cleared, which `collect` does before the buffer is used again.
   */
  private bind(stmt: number, params: readonly SqlValue[]): void {
    const m = this.module;
    let most = 0;
    for (let i = 0; i < params.length; i++) {
      const v = params[i];
      if (typeof v === 'string') most += v.length * 3;
    }
    this.reserve(most);
    let at = this.scratch;
    for (let i = 0; i < params.length; i++) {
      const v = params[i]!;
      // Typed binds: the type is known here, nothing is guessed per value.
      if (typeof v === 'string') at += this.bindText(stmt, i + 1, v, at);
      // A NULL is not bound: every parameter is NULL already (a statement starts so, and
      // collect clears its bindings after each run). The merge's log rows bind two per creation.
      else if (v === null) continue;
      else if (typeof v === 'number') {
        if ((v | 0) === v) m._sqlite3_bind_int(stmt, i + 1, v);
        else m._sqlite3_bind_double(stmt, i + 1, v);
      } else this.sqlite3.bind_blob(stmt, i + 1, v);
    }
  }

  private text(stmt: number, i: number): string {
    const m = this.module;
    const ptr = m._sqlite3_column_text(stmt, i);
    const n = m._sqlite3_column_bytes(stmt, i);
    const heap = m.HEAPU8;
    // Short ASCII text byte by byte; V8 joins 13 characters or more into a rope that a Map key
    // must flatten again, so longer text (timestamps) goes through the decoder.
    if (n <= 12) {
      let out = '';
      for (let k = 0; k < n; k++) {
        const c = heap[ptr + k]!;
        if (c >= 0x80) return decoder.decode(heap.subarray(ptr, ptr + n));
        out += String.fromCharCode(c);
      }
      return out;
    }
    return decoder.decode(heap.subarray(ptr, ptr + n));
  }

  private row(stmt: number, count: number): Row {
    const m = this.module;
    const row: Row = new Array<SqlValue>(count);
    for (let i = 0; i < count; i++) {
      switch (m._sqlite3_column_type(stmt, i)) {
        case 1: // INTEGER: exact as a double up to 2^53, which is all the replica stores
        case 2: // FLOAT
          row[i] = m._sqlite3_column_double(stmt, i);
          break;
        case 3:
          row[i] = this.text(stmt, i);
          break;
        case 5:
          row[i] = null;
          break;
        default:
          row[i] = this.sqlite3.column_blob(stmt, i).slice();
      }
    }
    return row;
  }

  /** Steps a bound statement until it is done or `limit` rows are read; always resets it. */
  private collect(stmt: number, params: readonly SqlValue[], limit: number): Row[] {
    const m = this.module;
    const rows: Row[] = [];
    try {
      this.bind(stmt, params);
      const count = m._sqlite3_column_count(stmt);
      for (;;) {
        const rc = m._sqlite3_step(stmt);
        if (rc === SQLITE_ROW) {
          rows.push(this.row(stmt, count));
          if (rows.length >= limit) break;
        } else if (rc === SQLITE_DONE) break;
        else this.fail('step');
      }
      return rows;
    } finally {
      m._sqlite3_reset(stmt);
      m._sqlite3_clear_bindings(stmt);
    }
  }

  // A statement prepared before runs without waiting: the merge runs thousands of short
  // statements per batch, and a wait for each costs a turn of the microtask queue.

  /** Runs a statement; returns every row. */
  async all(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return this.collect(this.prepared.get(sql) ?? (await this.statement(sql)), params, Infinity);
  }

  /** Runs a statement; returns its first row, or undefined. */
  async get(sql: string, params: readonly SqlValue[] = []): Promise<Row | undefined> {
    return this.collect(this.prepared.get(sql) ?? (await this.statement(sql)), params, 1)[0];
  }

  /** Runs a statement for its effect. */
  async run(sql: string, params: readonly SqlValue[] = []): Promise<void> {
    this.collect(this.prepared.get(sql) ?? (await this.statement(sql)), params, Infinity);
  }
  /** The module's raw exports: a bulk load stages values in its memory (runBound). */
  get raw(): RawModule {
    return this.module;
  }

  /**
   * Runs a statement whose values are already in WebAssembly memory (the snapshot's bulk load,
   * sync/load-snapshot.ts): `bind` binds them through the raw exports, then the statement runs
   * to its end and is reset. No JS string is made or copied per value. Every parameter is NULL
   * when `bind` is called (its bindings are cleared after each run), so a NULL need not be bound.
   */
  async runBound(sql: string, bind: (m: RawModule, stmt: number) => void): Promise<void> {
    const stmt = await this.statement(sql);
    const m = this.module;
    try {
      bind(m, stmt);
      if (m._sqlite3_step(stmt) !== SQLITE_DONE) this.fail('step');
    } finally {
      m._sqlite3_reset(stmt);
      m._sqlite3_clear_bindings(stmt);
    }
  }

  /** Runs `body` in one transaction: committed when it returns, rolled back when it throws. */
  async transaction<T>(body: () => Promise<T>): Promise<T> {
    // Prepared once like any statement (exec would compile them on every call).
    await this.run('begin');
    try {
      const result = await body();
      await this.run('commit');
      return result;
    } catch (err) {
      await this.run('rollback');
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const stmt of this.prepared.values()) await this.sqlite3.finalize(stmt);
    this.prepared.clear();
    if (this.scratch) this.module._sqlite3_free(this.scratch);
    this.scratch = 0;
    await this.sqlite3.close(this.handle);
  }
}
