/**
 * Applies the numbered migrations of `sql/` to a database.
 *
 * Contract
 * - A migration is a file `NNNNNN-name.sql` (six digits, a dash, a name). Every `*.sql` file of
 *   the folder must be one: a misnamed file is an error rather than silently skipped, and so are
 *   two files with the same number (two branches that both added "the next" migration).
 * - Migrations run in name order, compared byte by byte, each at most once per database. A
 *   landed migration is never edited: a change is a new file.
 * - Each runs in its own transaction, with its row in `treesync.migrations` inserted first, so a
 *   failure leaves neither the row nor any half of the file behind. A file therefore cannot use
 *   statements that refuse a transaction (`create index concurrently`, `vacuum`).
 * - Two processes may migrate the same database at once (two servers starting together): a
 *   session-level advisory lock around the whole run makes the second wait, then find
 *   everything applied.
 * - `client` must be a connection of its own, not inside a transaction; it is left as it was
 *   found (lock released) whether migrate succeeds or throws.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

/** The advisory lock key: the ASCII bytes of "treesync" read as a bigint. */
const LOCK_KEY = '8390880542148095587';

const MIGRATION_NAME = /^(\d{6})-[^/\\]+\.sql$/;

export interface MigrateOptions {
  /** The folder of migrations; defaults to the folder of this file (the project's `sql/`). */
  dir?: string;
  /** Told about each migration applied. */
  log?: (msg: string) => void;
}

/** The migration file names of `dir`, in the order they apply. Throws on a misnamed file. */
export async function listMigrations(dir: string = defaultDir()): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql'));
  const byNumber = new Map<string, string>();
  for (const file of files) {
    const number = MIGRATION_NAME.exec(file)?.[1];
    if (number === undefined) {
      throw new Error(`${join(dir, file)}: not a migration name (expected NNNNNN-name.sql)`);
    }
    const other = byNumber.get(number);
    if (other !== undefined) throw new Error(`${dir}: ${other} and ${file} share a number`);
    byNumber.set(number, file);
  }
  // Plain `<` compares UTF-16 code units, a locale never enters into it.
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function migrate(
  client: pg.ClientBase,
  opts: MigrateOptions = {},
): Promise<{ applied: string[] }> {
  const dir = opts.dir ?? defaultDir();
  const log = opts.log ?? (() => {});
  // Read the files before taking the lock, so a bad folder fails without touching the database.
  const files = await listMigrations(dir);

  await client.query('select pg_advisory_lock($1::bigint)', [LOCK_KEY]);
  try {
    // Under the lock, so two first runs do not race to create these.
    await client.query(`
      create schema if not exists treesync;
      create table if not exists treesync.migrations (
        name text collate "C" primary key,
        applied_at timestamptz not null default now()
      );
    `);
    const done = new Set(
      (await client.query<{ name: string }>('select name from treesync.migrations')).rows.map(
        (r) => r.name,
      ),
    );
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      await applyOne(client, dir, file);
      applied.push(file);
      log(`applied ${file}`);
    }
    return { applied };
  } finally {
    // If the connection is broken the lock went with the session; report the original error.
    await client.query('select pg_advisory_unlock($1::bigint)', [LOCK_KEY]).catch(() => {});
  }
}

async function applyOne(client: pg.ClientBase, dir: string, file: string): Promise<void> {
  const sql = await readFile(join(dir, file), 'utf8');
  await client.query('begin');
  try {
    await client.query('insert into treesync.migrations (name, applied_at) values ($1, now())', [
      file,
    ]);
    // No parameters: the simple query protocol, which runs a file of many statements.
    await client.query(sql);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw new Error(`migration ${file} failed: ${describePgError(err, sql)}`, { cause: err });
  }
}

/** The Postgres message with the line it points at and the PL/pgSQL context, when known. */
function describePgError(err: unknown, sql: string): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { position?: string; where?: string; detail?: string; hint?: string };
  let text = e.message;
  const position = Number(e.position);
  if (position > 0) text += ` (line ${sql.slice(0, position - 1).split('\n').length})`;
  if (e.detail) text += `\n  detail: ${e.detail}`;
  if (e.hint) text += `\n  hint: ${e.hint}`;
  if (e.where) text += `\n  where: ${e.where}`;
  return text;
}

function defaultDir(): string {
  return fileURLToPath(new URL('.', import.meta.url));
}
