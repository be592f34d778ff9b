/**
 * The two default collations tests run under, as `CREATE DATABASE ... TEMPLATE template0` clauses.
 *
 * - `icu` (the default for tests): en-US, where 'a' < 'B'. Our SQL must compare identifiers and
 *   timestamps byte by byte whatever the database default is, so a forgotten `collate "C"`
 *   shows up as a failing test here instead of as diverging replicas in production.
 * - `c`: byte order, the collation a careless test would otherwise pass under.
 */
export type Collation = 'icu' | 'c';

export const COLLATIONS: Record<Collation, string> = {
  icu: `ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
  c: `ENCODING 'UTF8' LOCALE 'C'`,
};
