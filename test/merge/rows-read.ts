/**
 * How many table rows a piece of work reads, by Postgres' own count: the work runs in a
 * transaction of its own on one connection, and `pg_stat_xact_user_tables` is read before and
 * after it in that transaction. That view holds this session's counts not yet flushed to the
 * cumulative statistics (sequential-scan rows plus rows fetched through indexes and by row
 * address); from Postgres 15 on they pile up over several transactions until a flush, which
 * never happens inside a transaction, so the difference is exactly the work's. No flush to
 * wait for, no other session's reads mixed in, and the same on Postgres 15 to 18.
 *
 * A row read through an index scan whose only index condition is `tree = …` counts, as does
 * every row a filter then throws away: a lookup that reads the whole tree shows up here
 * however fast the machine is.
 */
import type pg from 'pg';

export async function rowsRead<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<{ rows: number; result: T }> {
  const count = async () => {
    const { rows } = await client.query<{ n: number }>(
      `select coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)::integer as n
         from pg_stat_xact_user_tables where schemaname = 'treesync'`,
    );
    return rows[0]!.n;
  };
  await client.query('begin');
  try {
    const before = await count();
    const result = await work();
    const after = await count();
    await client.query('commit');
    return { rows: after - before, result };
  } catch (err) {
    await client.query('rollback');
    throw err;
  }
}

/** Keeps autovacuum from analysing the merge's tables behind a test's back: the guards choose
 * when statistics exist (never, or after their own ANALYZE). Only in the test's own database. */
export async function withoutAutovacuum(db: { query: pg.Pool['query'] }): Promise<void> {
  for (const table of ['trees', 'nodes', 'moves', 'ops', 'fields']) {
    await db.query(`alter table treesync.${table} set (autovacuum_enabled = false)`);
  }
}
