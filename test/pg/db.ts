/**
 * A database of its own for a test file: a clone of the migrated template that global-setup.ts
 * made, so each file starts from the real schema and nothing it does is seen by another file.
 *
 *   const db = useTestDb();            // created in beforeAll, dropped in afterAll
 *   test('...', async () => {
 *     await db.query('select treesync.create_tree($1)', ['t1']);
 *   });
 *
 * or, for a fresh database inside one test: `const db = await createTestDb(); ... db.drop()`.
 *
 * pg's type parsers are left alone: `bigint` columns arrive as strings unless a caller says
 * otherwise.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { dbUrl, ident, withClient } from './admin.ts';
import { COLLATIONS, type Collation } from './collations.ts';

export interface TestDb {
  /** Connects to this database (as the cluster's superuser). */
  url: string;
  name: string;
  pool: pg.Pool;
  /** A pooled connection; the caller must `release()` it. */
  client(): Promise<pg.PoolClient>;
  query: pg.Pool['query'];
  /** Closes the pool and drops the database; safe to call twice. */
  drop(): Promise<void>;
}

export interface TestDbOptions {
  /** The database's default collation; `icu` (en-US) unless told. */
  collation?: Collation;
  /** An empty database (no migrations applied) instead of a clone of the migrated template. */
  empty?: boolean;
}

export async function createTestDb(opts: TestDbOptions = {}): Promise<TestDb> {
  const adminUrl = inject('pgAdminUrl');
  const collation = opts.collation ?? 'icu';
  const name = `${inject('pgTestDbPrefix')}${randomBytes(6).toString('hex')}`;
  const source = opts.empty
    ? `template0 ${COLLATIONS[collation]}`
    : ident(inject('pgTemplates')[collation]);

  await withClient(adminUrl, async (admin) => {
    // Postgres will not clone a database someone is connected to (55006). The templates refuse
    // connections, so this should not happen; if it does, it passes within moments.
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(`create database ${ident(name)} template ${source}`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || attempt >= 50) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  });

  const url = dbUrl(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url });
  // An idle connection that dies (the database dropped under it) must not crash the test
  // process; the next query on the pool reports the problem.
  pool.on('error', () => {});
  let dropped: Promise<void> | undefined;
  return {
    url,
    name,
    pool,
    client: () => pool.connect(),
    query: pool.query.bind(pool) as pg.Pool['query'],
    drop: () =>
      (dropped ??= (async () => {
        await pool.end();
        await withClient(adminUrl, (admin) =>
          admin.query(`drop database if exists ${ident(name)} with (force)`),
        );
      })()),
  };
}

/**
 * One database for the whole test file: created in `beforeAll`, dropped in `afterAll`. The
 * returned object is usable inside tests and hooks, not at the top level of the file, where
 * it does not exist yet (reading it there throws, saying so).
 */
export function useTestDb(opts: TestDbOptions = {}): TestDb {
  let db: TestDb | undefined;
  beforeAll(async () => {
    db = await createTestDb(opts);
  });
  afterAll(async () => {
    await db?.drop();
  });
  return new Proxy({} as TestDb, {
    get(_, key) {
      // Not a thenable, and inspectable before it exists (symbols: util.inspect and friends).
      if (!db && (key === 'then' || typeof key === 'symbol')) return undefined;
      if (!db) throw new Error('useTestDb(): the database exists only once beforeAll has run');
      return db[key as keyof TestDb];
    },
  });
}
