/** Small helpers for the administrative SQL of the test harness. */
import pg from 'pg';

/** Runs `fn` on a connection of its own to `url`, closed afterwards whatever happens. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  // A connection lost while idle (the cluster stopping) is an 'error' event, which would crash
  // the process unheard; a query in flight rejects with the error anyway.
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** `url` with its database replaced by `name`. */
export function dbUrl(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

/** A quoted SQL identifier (database names cannot be bind parameters). */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
