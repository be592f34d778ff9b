/**
 * `sql/migrate.ts` against a real Postgres: the real migrations apply, each once, also when two
 * processes start at once; a failing one leaves nothing behind and says which file failed.
 * And the test harness itself: the default test database really sorts like a locale does.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { checksumOf, listMigrations, migrate } from '../sql/migrate.ts';
import { withClient } from './pg/admin.ts';
import { createTestDb, type TestDb } from './pg/db.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function emptyDb(): Promise<TestDb> {
  const db = await createTestDb({ empty: true });
  cleanups.push(db.drop);
  return db;
}

/** A folder of migrations written for one test. */
async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'treesync-migrations-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql);
  return dir;
}

async function recorded(db: TestDb): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    'select name from treesync.migrations order by name',
  );
  return rows.map((r) => r.name);
}

describe('migrate', () => {
  test('applies every migration of sql/ to an empty database, in order, and records each', async () => {
    const db = await emptyDb();
    const files = await listMigrations();
    const client = await db.client();
    try {
      const { applied } = await migrate(client);
      expect(applied).toEqual(files);
    } finally {
      client.release();
    }
    expect(await recorded(db)).toEqual(files);
    const { rows } = await db.query('select * from treesync.migrations where applied_at is null');
    expect(rows).toEqual([]);
  });

  test('a second run applies nothing', async () => {
    const db = await emptyDb();
    const client = await db.client();
    try {
      await migrate(client);
      expect(await migrate(client)).toEqual({ applied: [] });
    } finally {
      client.release();
    }
  });

  test('two processes migrating at once: both succeed, each file is applied once', async () => {
    const db = await emptyDb();
    // Not idempotent, and slow enough that the two runs overlap: applying a file twice fails.
    const dir = await migrationsDir({
      '000001-a.sql': 'create table treesync.a (id int); select pg_sleep(0.3);',
      '000002-b.sql': 'create table treesync.b (id int);',
    });
    const clients = [new pg.Client(db.url), new pg.Client(db.url)];
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const results = await Promise.all(clients.map((c) => migrate(c, { dir })));
      const applied = results.flatMap((r) => r.applied).sort();
      expect(applied).toEqual(['000001-a.sql', '000002-b.sql']);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    expect(await recorded(db)).toEqual(['000001-a.sql', '000002-b.sql']);
  });

  test('a failing migration rolls back, names the file, and releases the lock', async () => {
    const db = await emptyDb();
    const dir = await migrationsDir({
      '000001-ok.sql': 'create table treesync.ok (id int);',
      '000002-broken.sql': 'create table treesync.half (id int);\nselect * from no_such_table;',
    });
    const client = await db.client();
    try {
      await expect(migrate(client, { dir })).rejects.toThrow(
        /000002-broken\.sql.*"no_such_table" does not exist \(line 2\)/,
      );
      // The connection is usable (not left in an aborted transaction) and holds no lock.
      const { rows } = await client.query(
        `select to_regclass('treesync.ok') is not null as ok,
                to_regclass('treesync.half') is not null as half,
                (select count(*)::int from pg_locks l join pg_database d on d.oid = l.database
                  where l.locktype = 'advisory' and d.datname = current_database()) as locks`,
      );
      expect(rows[0]).toEqual({ ok: true, half: false, locks: 0 });
    } finally {
      client.release();
    }
    expect(await recorded(db)).toEqual(['000001-ok.sql']);
  });

  test('a misnamed or doubly numbered file is refused before the database is touched', async () => {
    const misnamed = await migrationsDir({ '000001-a.sql': '', 'seed.sql': '' });
    await expect(listMigrations(misnamed)).rejects.toThrow(/seed\.sql: not a migration name/);
    const twice = await migrationsDir({ '000001-a.sql': '', '000001-b.sql': '' });
    await expect(listMigrations(twice)).rejects.toThrow(/000001-a\.sql and 000001-b\.sql/);
  });
});

describe('a landed migration never changes', () => {
  /** A copy of the project's sql/ folder, to change in ways the real one must never be. */
  async function sqlCopy(): Promise<string> {
    const dir = await migrationsDir({});
    for (const file of await listMigrations()) await cp(new URL(`../sql/${file}`, import.meta.url), join(dir, file));
    return dir;
  }

  async function migrateWith(db: TestDb, dir: string) {
    const client = await db.client();
    try {
      return await migrate(client, { dir });
    } finally {
      client.release();
    }
  }

  const checksums = async (db: TestDb) =>
    (await db.query<{ name: string; checksum: string }>('select name, checksum from treesync.migrations order by name')).rows;

  test('each applied file is recorded with its checksum', async () => {
    const db = await emptyDb();
    const dir = await sqlCopy();
    await migrateWith(db, dir);
    const files = await listMigrations(dir);
    const expected = await Promise.all(files.map(async (name) => ({ name, checksum: checksumOf(await readFile(join(dir, name), 'utf8')) })));
    expect(await checksums(db)).toEqual(expected);
    expect(expected[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  test('a landed file that changed: a clear error naming it, and nothing applied', async () => {
    const db = await emptyDb();
    const dir = await sqlCopy();
    await migrateWith(db, dir);
    const before = await checksums(db);
    const first = (await listMigrations(dir))[0]!;
    await writeFile(join(dir, first), `${await readFile(join(dir, first), 'utf8')}\n-- an edit after landing\n`);
    await writeFile(join(dir, '000099-later.sql'), 'create table treesync.later (id int);');
    await expect(migrateWith(db, dir)).rejects.toThrow(
      new RegExp(`refusing to migrate: \\S*${first.replace('.', '\\.')} changed after it was applied to this database\\..*Nothing was applied`),
    );
    const { rows } = await db.query(`select to_regclass('treesync.later') is not null as later`);
    expect(rows[0]).toEqual({ later: false });
    expect(await checksums(db)).toEqual(before);
  });

  test('a landed file that is gone is refused too; CRLF line endings are not a change', async () => {
    const db = await emptyDb();
    const dir = await migrationsDir({ '000001-a.sql': 'create table treesync.a (id int);\n', '000002-b.sql': 'select 1;\n' });
    await migrateWith(db, dir);
    await writeFile(join(dir, '000001-a.sql'), 'create table treesync.a (id int);\r\n');
    expect(await migrateWith(db, dir)).toEqual({ applied: [] });
    await unlink(join(dir, '000002-b.sql'));
    await expect(migrateWith(db, dir)).rejects.toThrow(/000002-b\.sql was applied to this database but is no longer in/);
  });

  test('a database migrated before checksums existed gets them backfilled', async () => {
    const db = await emptyDb();
    const dir = await sqlCopy();
    await migrateWith(db, dir);
    const withChecksums = await checksums(db);
    await db.query('alter table treesync.migrations drop column checksum');
    expect(await migrateWith(db, dir)).toEqual({ applied: [] });
    expect(await checksums(db)).toEqual(withChecksums);
  });

  const exec = (args: string[], env: NodeJS.ProcessEnv) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', ...args], { env: { ...process.env, ...env }, timeout: 60_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );

  test('npm run migrate and npm start refuse a database whose record of a landed file differs', async () => {
    const db = await emptyDb();
    expect((await exec(['sql/migrate-cli.ts'], { DATABASE_URL: db.url })).code).toBe(0);
    // The same check as an edited file, seen from the other side: the record no longer matches.
    await db.query(`update treesync.migrations set checksum = repeat('0', 64) where name = $1`, [(await listMigrations())[1]]);
    const migrateRun = await exec(['sql/migrate-cli.ts'], { DATABASE_URL: db.url });
    expect(migrateRun.code).toBe(1);
    expect(migrateRun.stderr).toMatch(/refusing to migrate: \S*sql\/000002-merge\.sql changed after it was applied/);
    const startRun = await exec(['server/main.ts'], { DATABASE_URL: db.url, PORT: '0', TREESYNC_JWT_SECRET: '', HOST: '127.0.0.1' });
    expect(startRun.code).toBe(1);
    expect(startRun.stderr).toMatch(/could not start: refusing to migrate: \S*sql\/000002-merge\.sql changed/);
  });
});

describe('npm run migrate', () => {
  const run = (env: NodeJS.ProcessEnv) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'sql/migrate-cli.ts'], {
      env: { ...process.env, ...env },
    }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );

  test('applies, then reports up to date', async () => {
    const db = await emptyDb();
    const files = await listMigrations();
    const first = await run({ DATABASE_URL: db.url });
    expect(first.code).toBe(0);
    for (const file of files) expect(first.stdout).toContain(`applied ${file}`);
    const second = await run({ DATABASE_URL: db.url });
    expect(second).toMatchObject({ code: 0, stdout: 'up to date\n' });
  });

  test('without DATABASE_URL it says so and exits 1', async () => {
    const result = await run({ DATABASE_URL: '' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL is not set');
  });
});

describe('test databases', () => {
  test('the default one sorts by an ICU locale (en-US), so a missing collate "C" shows', async () => {
    const db = await createTestDb();
    cleanups.push(db.drop);
    const { rows } = await db.query(
      // (the column is daticulocale before Postgres 17)
      `select 'a' < 'B' as a_before_b, datlocprovider as provider,
              coalesce(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale') as locale
         from pg_database d where datname = current_database()`,
    );
    expect(rows[0]).toEqual({ a_before_b: true, provider: 'i', locale: 'en-US' });
  });

  test('the "c" one sorts byte by byte', async () => {
    const db = await createTestDb({ collation: 'c' });
    cleanups.push(db.drop);
    const { rows } = await db.query(`select 'a' < 'B' as a_before_b`);
    expect(rows[0]).toEqual({ a_before_b: false });
  });

  test('the templates are migrated and refuse connections, so cloning never waits', async () => {
    const templates = inject('pgTemplates');
    const { rows } = await withClient(inject('pgAdminUrl'), (admin) =>
      admin.query(
        `select datname, datallowconn, datlocprovider from pg_database
          where datname = any($1) order by datname collate "C"`,
        [[templates.c, templates.icu]],
      ),
    );
    expect(rows).toEqual([
      { datname: templates.c, datallowconn: false, datlocprovider: 'c' },
      { datname: templates.icu, datallowconn: false, datlocprovider: 'i' },
    ]);
    // A clone carries the template's migrations.
    const db = await createTestDb();
    cleanups.push(db.drop);
    expect(await recorded(db)).toEqual(await listMigrations());
  });
});
