/**
 * Bulk-loads a snapshot stream (docs/snapshot.md) into the replica, replacing its tree, in one
 * transaction: a stream that is cut or corrupt throws before the commit, and the rollback leaves
 * the previous replica exactly as it was.
 *
 * Why it is fast: rows arrive sorted by key (nodes by id, fields by (node, key), moves by ts),
 * so each WITHOUT ROWID table grows at its right edge; no JS string is made for a field: each
 * chunk of the stream is copied whole into the module's memory and the fields are bound where
 * they lie (snapshot-stage.ts), 500 rows to a statement (fewer trips into SQLite's VM; faster
 * here than one JSON text unpacked by json_each); the secondary index is dropped for the load
 * and built once after, sorting in short runs; a larger page cache holds the pages being
 * written. Memory: one batch of rows at a time, never the snapshot.
 *
 * Local ops not yet acknowledged (the outbox) survive a load: they are merged again on top of
 * the loaded tree (ops the snapshot already holds count as duplicates).
 */
import type { SnapshotProgress } from '../../snapshot-reader.ts';
import { readSnapshotWith, type ByteSource } from '../../snapshot-reader.ts';
import type { SectionName, SnapshotHeader } from '../../../protocol/snapshot-format.ts';
import { mergeBatch } from '../apply-ops.ts';
import { validateBatch } from '../batch.ts';
import { followFrontier } from '../frontier.ts';
import type { LocalEdits } from '../local-edits.ts';
import { INDEXES_SQL } from '../schema.ts';
import type { Db } from '../sqlite-db.ts';
import { moduleMemory, NULL, SnapshotStage, TEXT, type StagedRows } from './snapshot-stage.ts';
import { writeState } from '../sync-state.ts';

export interface LoadProgress extends SnapshotProgress {
  /** Done: the snapshot is committed. */
  done: boolean;
}

export interface LoadResult {
  tree: string;
  seq: number;
  /** The header's stability frontier (null: the tree has none, or an older server). */
  frontier: string | null;
  rows: number;
  bytes: number;
  /** page_count × page_size after the load, and the SQLite module's memory (BootstrapResult). */
  databaseBytes: number;
  sqliteMemoryBytes: number;
  /** Whether a feed thread read the stream (bootstrap.ts). */
  feedThread: boolean;
}

/** What a loader inserts: the header, then batches of staged rows in the stream's order. A
 * batch's `done` is called once it is inserted (its memory may be reused from then on). */
export type StagedEvent =
  | { kind: 'header'; header: SnapshotHeader }
  | { kind: 'rows'; section: SectionName; staged: StagedRows; progress: SnapshotProgress; done(): void };

/** Rows per batch: small enough that progress flows every few milliseconds. */
export const BATCH_ROWS = 5_000;
/** The promise: a progress event at least this often while a load runs. */
const PROGRESS_MS = 100;
/** An event is sent once this long has passed since the last one, well inside the promise, so
 * that the longest stretch between two looks at the clock still ends inside it: one batch's
 * inserts, the commit, and the longest, one run of the index's sort (SQLite's sorter sorts a
 * run of the page cache's size in memory without a VM step: at most 70 ms of CPU for 2 MiB at
 * 1M nodes, measured with six processes per core). Sending only after the full 100 ms made
 * every gap longer than promised (144 ms at 1M nodes on a quiet machine). 20 ms: fifty small
 * messages a second at most, and 80 ms left for the longest stretch. */
const SEND_AFTER_MS = 20;
/** How often the timer looks while the stream is slow (between batches and statements). */
const TIMER_MS = PROGRESS_MS / 4;
/** SQLite VM steps between two looks at the clock during a statement. */
const PROGRESS_STEPS = 100_000;
/** The page cache during a load, in KiB (SQLite's negative cache_size). */
const LOAD_CACHE_KIB = 256 * 1024;
/** The page cache while the index is built, in KiB: the sorter's runs are at most this big. */
const INDEX_CACHE_KIB = 2 * 1024;

/** Rows per INSERT statement: one bind per value, one step per statement. 500 loaded a 1M-node
 * snapshot with about a fifth less CPU than 100, and 25 with a fifth more; 1,000 and 2,500 no
 * better than 500 (bench/client.bench.ts's snapshot, in memory). */
const ROWS_PER_INSERT = 500;

const COLUMNS = {
  nodes: ['id', 'parent', 'pos'],
  fields: ['node', 'key', 'value', 'ts'],
  moves: ['ts', 'node', 'parent', 'pos', 'old_parent', 'old_pos', 'applied'],
} as const;

function insertSql(section: keyof typeof COLUMNS, rows: number): string {
  const cols = COLUMNS[section];
  const tuple = `(${cols.map(() => '?').join(', ')})`;
  return `insert into ${section} (${cols.join(', ')}) values ${Array(rows).fill(tuple).join(', ')}`;
}

/** The INSERT of `rows` rows, made once per section and count. */
const INSERTS = new Map<string, string>();
function insertOf(section: keyof typeof COLUMNS, rows: number): string {
  const key = `${section} ${rows}`;
  let sql = INSERTS.get(key);
  if (sql === undefined) INSERTS.set(key, (sql = insertSql(section, rows)));
  return sql;
}

/** SQLITE_STATIC: the arena's bytes stay put until the statement is reset. */
const STATIC = 0;

/** Inserts the staged rows (sorted by key) in statements of ROWS_PER_INSERT; `between` runs
 * after each statement (a look at the progress clock). */
async function insertStaged(db: Db, section: keyof typeof COLUMNS, stage: StagedRows, between: () => void): Promise<void> {
  const width = COLUMNS[section].length;
  const total = stage.rows;
  for (let first = 0; first < total; first += ROWS_PER_INSERT) {
    const count = Math.min(ROWS_PER_INSERT, total - first);
    await db.runBound(insertOf(section, count), (m, stmt) => {
      const { kinds, offsets, lengths, arena } = stage;
      const from = first * width;
      const n = count * width;
      for (let k = 0; k < n; k++) {
        const v = from + k;
        const kind = kinds[v];
        // A NULL is not bound: runBound's statements start with every parameter NULL (the
        // moves' old_parent and old_pos are NULL for every creation: a third of their values).
        if (kind === NULL) continue;
        const rc =
          kind === TEXT
            ? m._sqlite3_bind_text(stmt, k + 1, arena + offsets[v]!, lengths[v]!, STATIC)
            : m._sqlite3_bind_int(stmt, k + 1, offsets[v]!);
        if (rc !== 0) throw new Error(`SQLite bind failed (${rc})`);
      }
    });
    between();
  }
}

/** Reads and stages the stream in this thread: the loader's batches, one at a time. */
async function* stagedHere(source: ByteSource, stage: SnapshotStage): AsyncGenerator<StagedEvent, void, undefined> {
  const done = () => stage.clear();
  for await (const event of readSnapshotWith(source, stage.decoders, { batchSize: BATCH_ROWS })) {
    if (event.kind === 'header') yield event;
    else yield { kind: 'rows', section: event.section, staged: stage, progress: event.progress, done };
  }
}

/** Loads a snapshot read, parsed and staged in this thread (the single-thread bootstrap). */
export async function loadSnapshot(
  db: Db,
  source: ByteSource,
  maxValueBytes: number,
  onProgress?: (p: LoadProgress) => void,
  /** The replica's editor: its clock moves to the header's frontier in the load's transaction. */
  edits?: LocalEdits,
): Promise<LoadResult> {
  const stage = new SnapshotStage(moduleMemory(db.raw));
  try {
    return await loadStaged(db, stagedHere(source, stage), maxValueBytes, onProgress, edits, false);
  } finally {
    stage.release();
  }
}

/** Loads a snapshot from its staged batches (stagedHere, or a feed thread's: snapshot-feed.ts). */
export async function loadStaged(
  db: Db,
  events: AsyncIterable<StagedEvent>,
  maxValueBytes: number,
  onProgress: (p: LoadProgress) => void = () => {},
  edits?: LocalEdits,
  feedThread = true,
): Promise<LoadResult> {
  let last: SnapshotProgress = { rows: 0, totalRows: 0, bytes: 0 };
  let lastSent = 0;
  const send = (done: boolean) => {
    lastSent = Date.now();
    onProgress({ ...last, done });
  };
  const due = () => {
    if (Date.now() - lastSent >= SEND_AFTER_MS) send(false);
  };
  // Between batches a timer speaks while the stream is slow; inside a long statement (building
  // the index over a million rows takes seconds) SQLite's progress handler does, every
  // PROGRESS_STEPS virtual machine steps. The handler runs in the middle of a statement and only
  // posts a message; returning 0 lets the statement go on.
  const timer = setInterval(due, TIMER_MS);
  db.sqlite3.progress_handler(db.handle, PROGRESS_STEPS, () => {
    due();
    return 0;
  }, null);
  await db.exec(`pragma cache_size = -${LOAD_CACHE_KIB}`);
  try {
    const result = await db.transaction(async () => {
      const outbox = (await db.all('select op from outbox order by ts')).map((r) => JSON.parse(r[0] as string) as unknown);
      await db.exec('drop index if exists nodes_by_parent; delete from nodes; delete from fields; delete from moves; delete from sets;');
      let header: SnapshotHeader | undefined;
      for await (const event of events) {
        if (event.kind === 'header') {
          header = event.header;
          last = { rows: 0, totalRows: Object.values(event.header.counts).reduce((a, b) => a + b, 0), bytes: 0 };
          send(false);
          continue;
        }
        await insertStaged(db, event.section, event.staged, due);
        event.done();
        last = event.progress;
        due();
      }
      if (!header) throw new Error('the snapshot stream had no header');
      // The index is built by SQLite's sorter, which sorts runs of at most the page cache's size
      // and merges them step by step. With the load's large cache (or temporary storage in
      // memory, where it never makes runs) it sorted all 1M entries in one step of seconds with
      // no progress event; with a small cache each run is short, and the merge between them
      // lets the progress handler speak. It cost no more time, and less memory.
      await db.exec(`pragma cache_size = -${INDEX_CACHE_KIB}`);
      await db.exec(INDEXES_SQL);
      await writeState(db, 'tree', header.tree);
      await writeState(db, 'seq', header.seq);
      // The frontier of the snapshot's own moment: kept, and the clock starts at or above it,
      // so the first edit after the load is never stale. A frontier stored before the load
      // (an earlier bootstrap) is replaced by the snapshot's.
      await db.run(`delete from sync_state where key = 'frontier'`);
      const { frontier } = edits ? await followFrontier(db, edits, header.frontier) : { frontier: header.frontier ?? null };
      if (!edits && frontier !== null) await writeState(db, 'frontier', frontier);
      if (outbox.length > 0) await mergeBatch(db, validateBatch(outbox, maxValueBytes));
      return { tree: header.tree, seq: header.seq, frontier, rows: last.rows, bytes: last.bytes };
    });
    send(true);
    const pages = await db.get('select page_count * page_size from pragma_page_count(), pragma_page_size()');
    return { ...result, databaseBytes: Number(pages?.[0] ?? 0), sqliteMemoryBytes: db.raw.HEAPU8.length, feedThread };
  } finally {
    clearInterval(timer);
    // No handler: wa-sqlite unregisters it.
    db.sqlite3.progress_handler(db.handle, 0, null as never, null);
    await db.exec('pragma cache_size = -2000');
  }
}
