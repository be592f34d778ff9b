/**
 * `npm run migrate`: applies `sql/` to the database at `DATABASE_URL`, prints what it applied,
 * exits 0 when the database is up to date and 1 on any failure.
 */
import pg from 'pg';
import { migrate } from './migrate.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is not set (e.g. postgres://user:password@localhost:5432/treesync)');
  process.exit(1);
}

const client = new pg.Client({ connectionString: url });
try {
  await client.connect();
  const { applied } = await migrate(client, { log: (msg) => console.log(msg) });
  console.log(applied.length === 0 ? 'up to date' : `applied ${applied.length} migration(s)`);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
} finally {
  await client.end().catch(() => {});
}
