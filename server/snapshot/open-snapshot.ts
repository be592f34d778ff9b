/**
 * Opens a snapshot of a tree: takes a connection from the snapshot pool, begins a
 * `REPEATABLE READ READ ONLY` transaction, and reads the tree's seq and the row count of each
 * section in it. The first query of the transaction fixes its database snapshot, so the seq, the
 * counts and every COPY that follows agree with each other: pushes committed meanwhile are in
 * none of them, and a client that loads the snapshot pulls from its seq.
 *
 * The caller passes the snapshot pool, separate from the one pushes and pulls use: a snapshot
 * holds its connection for as long as its reader takes (minutes for a slow one), and must never
 * leave pushes waiting for a connection.
 *
 * Throws TreesyncError: `invalid_tree_id`, `tree_not_found` (nothing else was read then, and the
 * connection is back in the pool), `unavailable` when the pool gives no connection in time.
 */
import type pg from 'pg';
import { encodePreamble, SECTIONS, type SectionName, type SnapshotHeader } from '../../protocol/snapshot-format.ts';
import { TreesyncError } from '../../protocol/errors.ts';
import { TREE_ID } from '../../protocol/ops.ts';
import { SnapshotStream, type SectionCopy, type SnapshotStreamOptions } from './snapshot-stream.ts';

export type SnapshotOptions = SnapshotStreamOptions;

/** A new replica registering with its bootstrap: noted (`note_replica`, with the caller's
 * token subject) in the snapshot's own transaction, before the snapshot is read, and its
 * pull position set to the snapshot's seq. */
export interface Registration {
  replica: string;
  floor: string;
  subject: string;
}

export interface Snapshot {
  header: SnapshotHeader;
  /** The framed bytes; `stream.finished` settles when the connection is given back. */
  stream: SnapshotStream;
}

/** Rows of each section in key order, the order a replica loads fastest (`order by` the
 * primary key's columns, so Postgres reads the index and sorts nothing). */
const ORDER_BY: Record<SectionName, string> = {
  nodes: 'id',
  fields: 'node, key',
  moves: 'ts',
};

/** pg_backend_pid() is for cancelling; the counts are the header's (count(*) is a bigint, a
 * string through pg). The move log is sent from the frontier F on: rows below it may not have
 * been truncated yet, but no operation that can still arrive needs them. */
const HEAD_SQL = `
  select pg_backend_pid() as pid, t.seq, fr.frontier,
    (select count(*) from treesync.nodes n where n.tree = t.id) as nodes,
    (select count(*) from treesync.fields f where f.tree = t.id) as fields,
    (select count(*) from treesync.moves m
      where m.tree = t.id and (fr.frontier is null or m.ts >= fr.frontier)) as moves
  from treesync.trees t
  cross join lateral (select treesync.frontier(t.id) as frontier offset 0) fr
  where t.id = $1`;

interface HeadRow {
  pid: number;
  seq: string;
  frontier: string | null;
  nodes: string;
  fields: string;
  moves: string;
}

export async function openSnapshot(
  pool: pg.Pool,
  tree: string,
  opts: SnapshotOptions = {},
  registration?: Registration,
): Promise<Snapshot> {
  if (!TREE_ID.test(tree)) {
    throw new TreesyncError('invalid_tree_id', `tree id ${JSON.stringify(tree)} is not [A-Za-z0-9_-]{1,64}`);
  }
  const client = await connect(pool);
  let head: HeadRow | undefined;
  try {
    if (registration) {
      // Read-write, so the registration commits with the snapshot's end (and is rolled back
      // with a snapshot that fails). The first statement fixes the database snapshot, so the
      // head below already sees the replica's floor in the frontier.
      await client.query('begin isolation level repeatable read');
      const { replica, floor, subject } = registration;
      await client.query('select treesync.note_replica($1, $2, $3, $4)', [tree, replica, floor, subject]);
    } else {
      await client.query('begin isolation level repeatable read read only');
    }
    head = (await client.query<HeadRow>(HEAD_SQL, [tree])).rows[0];
    if (!head) await client.query('rollback');
    else if (registration) {
      await client.query('select treesync.note_pulled($1, $2, $3)', [tree, registration.replica, head.seq]);
    }
  } catch (err) {
    client.release(err instanceof Error ? err : true);
    throw err;
  }
  if (!head) {
    client.release();
    throw new TreesyncError('tree_not_found', `tree ${tree} does not exist`);
  }
  const header: SnapshotHeader = {
    tree,
    seq: Number(head.seq),
    counts: { nodes: Number(head.nodes), fields: Number(head.fields), moves: Number(head.moves) },
    frontier: head.frontier,
  };
  // COPY takes no bind parameters. The id matched TREE_ID above, and is quoted as a literal
  // anyway, so the statement's text can only ever hold a string constant.
  const literal = client.escapeLiteral(tree);
  // F matched TIMESTAMP when it was stored (note_replica), and is quoted the same way.
  const fromFrontier = head.frontier === null ? '' : ` and ts >= ${client.escapeLiteral(head.frontier)} collate "C"`;
  const sections: SectionCopy[] = SECTIONS.map((spec) => ({
    tag: spec.tag,
    sql:
      `copy (select ${spec.columns.map(([column]) => column).join(', ')} from treesync.${spec.name}` +
      ` where tree = ${literal}${spec.name === 'moves' ? fromFrontier : ''}` +
      ` order by ${ORDER_BY[spec.name]}) to stdout (format binary)`,
  }));
  const lease = { client, pid: head.pid, config: pool.options };
  return { header, stream: new SnapshotStream(lease, encodePreamble(header), sections, opts) };
}

/** A connection from the snapshot pool; a pool that has none in time (its
 * `connectionTimeoutMillis`) is a 503, not a 500. */
async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    if (err instanceof Error && /timeout exceeded when trying to connect/i.test(err.message)) {
      throw new TreesyncError('unavailable', 'every snapshot connection is busy; try again shortly');
    }
    throw err;
  }
}
