/**
 * Applies the numbered migrations of `sql/` to a database.
 *
 * Contract
 * - A migration is a file `NNNNNN-name.sql` (six digits, a dash, a name). Every `*.sql` file of
 *   the folder must be one: a misnamed file is an error rather than silently skipped, and so are
 *   two files with the same number (two branches that both added "the next" migration).
 * - Migrations run in name order, compared byte by byte, each at most once per database. A
 *   landed migration is never edited: a change is a new file. This is enforced: each applied
 *   file's checksum (SHA-256 of its text, line endings normalised) is recorded, and a run
 *   refuses, naming the file, before applying anything, when a recorded file has changed or
 *   is gone. (A database that never received the change would otherwise run with a schema
 *   that differs from what the files say, and fail later in ways that are hard to trace.)
 *   Rows recorded before checksums existed are backfilled from the files as they are.
 * - Each runs in its own transaction, with its row in `treesync.migrations` inserted first, so a
 *   failure leaves neither the row nor any half of the file behind. A file therefore cannot use
 *   statements that refuse a transaction (`create index concurrently`, `vacuum`).
 * - Two processes may migrate the same database at once (two servers starting together): a
 *   session-level advisory lock around the whole run makes the second wait, then find
 *   everything applied.
 * - `client` must be a connection of its own, not inside a transaction; it is left as it was
 *   found (lock released) whether migrate succeeds or throws.
 */
import { createHash } from 'node:crypto';
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
  const texts = new Map<string, string>();
  for (const file of files) texts.set(file, await readFile(join(dir, file), 'utf8'));

  await client.query('select pg_advisory_lock($1::bigint)', [LOCK_KEY]);
  try {
    // Under the lock, so two first runs do not race to create these. The checksum column came
    // later than the table: added here, so databases migrated before it get it too.
    await client.query(`
      create schema if not exists treesync;
      create table if not exists treesync.migrations (
        name text collate "C" primary key,
        applied_at timestamptz not null default now()
      );
      alter table treesync.migrations add column if not exists checksum text collate "C";
    `);
    const recorded = (
      await client.query<{ name: string; checksum: string | null }>('select name, checksum from treesync.migrations')
    ).rows;
    const problems: string[] = [];
    for (const { name, checksum } of recorded) {
      const text = texts.get(name);
      if (text === undefined) {
        problems.push(`${join(dir, name)} was applied to this database but is no longer in ${dir}`);
      } else if (checksum === null) {
        // Applied before checksums were recorded: trust the file as it is now.
        await client.query('update treesync.migrations set checksum = $2 where name = $1', [name, checksumOf(text)]);
      } else if (checksum !== checksumOf(text)) {
        problems.push(`${join(dir, name)} changed after it was applied to this database`);
      }
    }
    if (problems.length > 0) {
      throw new Error(
        `refusing to migrate: ${problems.join('; ')}. A landed migration is never edited, renamed or ` +
          `removed: restore it as it was (git log -p on the file shows it) and put the change in a new ` +
          `migration. Nothing was applied.`,
      );
    }
    const done = new Set(recorded.map((r) => r.name));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      await applyOne(client, file, texts.get(file)!);
      applied.push(file);
      log(`applied ${file}`);
    }
    return { applied };
  } finally {
    // If the connection is broken the lock went with the session; report the original error.
    await client.query('select pg_advisory_unlock($1::bigint)', [LOCK_KEY]).catch(() => {});
  }
}

/** A migration file's checksum: SHA-256 of its text with CRLF line endings read as LF, so a
 * checkout that converts line endings is not a change. */
export function checksumOf(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex');
}

async function applyOne(client: pg.ClientBase, file: string, sql: string): Promise<void> {
  await client.query('begin');
  try {
    await client.query('insert into treesync.migrations (name, applied_at, checksum) values ($1, now(), $2)', [
      file,
      checksumOf(sql),
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
