/**
 * Cancels the query running in another Postgres backend, from a connection of its own.
 *
 * Not a connection of the snapshot pool: when every snapshot connection is streaming to a slow
 * reader, the pool has none to spare, and that is exactly when cancelling matters. Resolves
 * only after the backend has been signalled (`pg_cancel_backend` returns after `kill`), so a
 * query sent afterwards on the cancelled connection cannot be hit by this cancel.
 */
import pg from 'pg';

export async function cancelBackend(config: pg.ClientConfig, pid: number): Promise<boolean> {
  const client = new pg.Client(config);
  // A connection lost after its query settled must not become an unhandled 'error' event.
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ cancelled: boolean }>('select pg_cancel_backend($1) as cancelled', [pid]);
    return rows[0]?.cancelled === true;
  } finally {
    await client.end().catch(() => {});
  }
}
