/**
 * vitest globalSetup: one Postgres cluster per test run, with the migrations applied once to
 * a template database per collation; every test file clones a template (`db.ts`), which takes
 * milliseconds, instead of migrating its own database.
 *
 * The templates refuse connections once migrated: Postgres cannot clone a database while
 * anyone is connected to it, so no stray session can make a clone fail.
 *
 * Everything created here is removed by the teardown, also when setup fails half way: no
 * cluster is left running and, in a `DATABASE_URL` server, no database is left behind.
 */
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../sql/migrate.ts';
import { dbUrl, ident, withClient } from './admin.ts';
import { startCluster, type Cluster } from './cluster.ts';
import { COLLATIONS, type Collation } from './collations.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL of the cluster (not of a template). */
    pgAdminUrl: string;
    /** The migrated template database of each collation. */
    pgTemplates: Record<Collation, string>;
    /** Prefix of the test databases of this run; the teardown drops whatever still has it. */
    pgTestDbPrefix: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const cluster = await startCluster();
  // A shared server may hold other runs' databases: names of our own, unique per run. A cluster
  // started for this run is ours alone, so fixed names are fine (and easier to read).
  const run = cluster.kind === 'env' ? `_${randomBytes(4).toString('hex')}` : '';
  const templates: Record<Collation, string> = {
    icu: `treesync_tpl_icu${run}`,
    c: `treesync_tpl_c${run}`,
  };
  const testDbPrefix = `treesync_t${run}_`;
  const teardown = () => tearDown(cluster, [...Object.values(templates)], testDbPrefix);

  try {
    await withClient(cluster.url, async (admin) => {
      for (const [collation, name] of Object.entries(templates) as [Collation, string][]) {
        await admin.query(`create database ${ident(name)} template template0 ${COLLATIONS[collation]}`);
      }
    });
    // Settled, not Promise.all: the teardown after a failure must not stop the cluster under
    // the other migration still running.
    const migrations = await Promise.allSettled(
      Object.values(templates).map((name) =>
        withClient(dbUrl(cluster.url, name), (client) => migrate(client)),
      ),
    );
    for (const m of migrations) if (m.status === 'rejected') throw m.reason;
    await withClient(cluster.url, async (admin) => {
      for (const name of Object.values(templates)) {
        await admin.query(`alter database ${ident(name)} allow_connections false`);
      }
    });
  } catch (err) {
    await teardown();
    throw err;
  }

  project.provide('pgAdminUrl', cluster.url);
  project.provide('pgTemplates', templates);
  project.provide('pgTestDbPrefix', testDbPrefix);
  const ms = Math.round(performance.now() - started);
  const version = await withClient(cluster.url, (admin) => admin.query<{ v: string }>(`select current_setting('server_version') as v`));
  console.log(`[test/pg] ${cluster.kind} Postgres ${version.rows[0]!.v} ready, templates migrated in ${ms} ms`);
  return teardown;
}

async function tearDown(cluster: Cluster, templates: string[], testDbPrefix: string) {
  try {
    // Only a shared server needs cleaning; a cluster of our own is about to vanish whole.
    if (cluster.kind === 'env') {
      await withClient(cluster.url, async (admin) => {
        const { rows } = await admin.query<{ datname: string }>(
          `select datname from pg_database where starts_with(datname, $1) or datname = any($2)`,
          [testDbPrefix, templates],
        );
        for (const { datname } of rows) {
          await admin.query(`drop database if exists ${ident(datname)} with (force)`);
        }
      });
    }
  } finally {
    await cluster.stop();
  }
}
