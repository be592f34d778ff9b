/**
 * Bulk-loads a snapshot stream (docs/snapshot.md) into the replica, replacing its tree, in one
 * transaction: a stream that is cut or corrupt throws before the commit, and the rollback leaves
 * the previous replica exactly as it was.
 *
 * Why it is fast: rows arrive sorted by key (nodes by id, fields by (node, key), moves by ts),
 * so each WITHOUT ROWID table grows at its right edge; a batch goes into SQLite as one JSON text
 * (one bind, unpacked by json_each inside SQLite, not a bind per value from JavaScript); the
 * secondary index is dropped for the load and built once after; a larger page cache holds the
 * pages being written. Memory: one batch of rows at a time, never the snapshot.
 *
 * Local ops not yet acknowledged (the outbox) survive a load: they are merged again on top of
 * the loaded tree (ops the snapshot already holds count as duplicates).
 */
import type { SnapshotProgress } from '../../snapshot-reader.ts';
import { readSnapshot, type ByteSource } from '../../snapshot-reader.ts';
import { mergeBatch } from '../apply-ops.ts';
import { validateBatch } from '../batch.ts';
import { INDEXES_SQL } from '../schema.ts';
import type { Db } from '../sqlite-db.ts';
import { writeState } from '../sync-state.ts';

export interface LoadProgress extends SnapshotProgress {
  /** Done: the snapshot is committed. */
  done: boolean;
}

export interface LoadResult {
  tree: string;
  seq: number;
  rows: number;
  bytes: number;
}

/** Rows per batch: small enough that progress flows every few milliseconds. */
const BATCH_ROWS = 5_000;
/** Progress at least this often while rows arrive (and from a timer while they do not). */
const PROGRESS_MS = 100;
/** The page cache during a load, in KiB (SQLite's negative cache_size). */
const LOAD_CACHE_KIB = 256 * 1024;

const INSERT = {
  nodes: `insert into nodes (id, parent, pos)
          select value ->> 0, value ->> 1, value ->> 2 from json_each(?1)`,
  fields: `insert into fields (node, key, value, ts)
           select value ->> 0, value ->> 1, nullif(value ->> 2, 'null'), value ->> 3 from json_each(?1)`,
  moves: `insert into moves (ts, node, parent, pos, old_parent, old_pos, applied)
          select value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6 from json_each(?1)`,
} as const;

export async function loadSnapshot(
  db: Db,
  source: ByteSource,
  maxValueBytes: number,
  onProgress: (p: LoadProgress) => void = () => {},
): Promise<LoadResult> {
  let last: SnapshotProgress = { rows: 0, totalRows: 0, bytes: 0 };
  let lastSent = 0;
  const send = (done: boolean) => {
    lastSent = Date.now();
    onProgress({ ...last, done });
  };
  const timer = setInterval(() => send(false), PROGRESS_MS);
  await db.exec(`pragma cache_size = -${LOAD_CACHE_KIB}`);
  try {
    const result = await db.transaction(async () => {
      const outbox = (await db.all('select op from outbox order by ts')).map((r) => JSON.parse(r[0] as string) as unknown);
      await db.exec('drop index if exists nodes_by_parent; delete from nodes; delete from fields; delete from moves; delete from sets;');
      let header: { tree: string; seq: number } | undefined;
      for await (const event of readSnapshot(source, { batchSize: BATCH_ROWS })) {
        if (event.kind === 'header') {
          header = event.header;
          last = { rows: 0, totalRows: Object.values(event.header.counts).reduce((a, b) => a + b, 0), bytes: 0 };
          send(false);
          continue;
        }
        const rows =
          event.section === 'nodes'
            ? event.rows.map((r) => [r.id, r.parent, r.pos])
            : event.section === 'fields'
              ? event.rows.map((r) => [r.node, r.key, r.value, r.ts])
              : event.rows.map((r) => [r.ts, r.node, r.parent, r.pos, r.old_parent, r.old_pos, r.applied ? 1 : 0]);
        await db.run(INSERT[event.section], [JSON.stringify(rows)]);
        last = event.progress;
        if (Date.now() - lastSent >= PROGRESS_MS) send(false);
      }
      if (!header) throw new Error('the snapshot stream had no header');
      await db.exec(INDEXES_SQL);
      await writeState(db, 'tree', header.tree);
      await writeState(db, 'seq', header.seq);
      if (outbox.length > 0) await mergeBatch(db, validateBatch(outbox, maxValueBytes));
      return { tree: header.tree, seq: header.seq, rows: last.rows, bytes: last.bytes };
    });
    send(true);
    return result;
  } finally {
    clearInterval(timer);
    await db.exec('pragma cache_size = -2000');
  }
}
