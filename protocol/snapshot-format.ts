/**
 * The snapshot stream's framing, version 1: the constants and types that the server writes and
 * the client reads (docs/snapshot.md is the prose form of this file; change both together and
 * bump SNAPSHOT_VERSION for anything a version-1 reader would misread).
 *
 *   magic      8 bytes   0x89 'T' 'S' 'Y' 'N' 'C' '\r' '\n'
 *   version    uint16    big-endian, 1
 *   length     uint32    big-endian, byte length of the JSON that follows (at most 64 KiB)
 *   header     JSON      UTF-8 object: {"tree", "seq", "counts": {"nodes", "fields", "moves"}}
 *   sections   per section in SECTIONS order: its tag byte, then one complete Postgres binary
 *              COPY stream (signature … trailer), passed through from the database untouched
 *   end        1 byte    'Z', then the stream ends
 *
 * Browser-safe: no Node APIs here (this file is imported by the server too).
 */

export const SNAPSHOT_CONTENT_TYPE = 'application/vnd.treesync.snapshot';

/** Like PNG's: the high byte catches 7-bit transports, CR LF catches newline translation. */
export const SNAPSHOT_MAGIC: Uint8Array = Uint8Array.of(0x89, 0x54, 0x53, 0x59, 0x4e, 0x43, 0x0d, 0x0a);
export const SNAPSHOT_VERSION = 1;
/** A reader refuses a longer header: a stream that is not a snapshot must not make it allocate. */
export const MAX_HEADER_JSON_BYTES = 64 * 1024;
/** Magic, version and JSON length: the fixed bytes before the header JSON. */
export const PREAMBLE_BYTES = 8 + 2 + 4;
export const END_TAG = 0x5a; // 'Z'

export type SectionName = 'nodes' | 'fields' | 'moves';

export interface SnapshotHeader {
  tree: string;
  /** The tree's seq in the same database snapshot as the rows: pull from here after loading. */
  seq: number;
  /** Rows of each section, counted in the same transaction as the rows were read. */
  counts: Record<SectionName, number>;
  /** The tree's stability frontier F in the same database snapshot, or null when it has none:
   * the moves section holds the log from F on, and no operation older than F can arrive.
   * Added to format version 1 as a header key (readers ignore keys they do not know); absent
   * from snapshots of servers before it. */
  frontier?: string | null;
}

/** A row of `nodes`, sorted by id (bytewise) in the stream. */
export interface NodeRow {
  id: string;
  parent: string | null;
  pos: string;
}

/** A row of `fields`, sorted by (node, key). `value` is the JSON text of the jsonb column as
 * Postgres wrote it; the text `null` is a tombstone (the field was removed) and is kept so that
 * an older write arriving later still loses. */
export interface FieldRow {
  node: string;
  key: string;
  value: string;
  ts: string;
}

/** A row of the move log, sorted by ts (bytewise). */
export interface MoveRow {
  ts: string;
  node: string;
  parent: string;
  pos: string;
  old_parent: string | null;
  old_pos: string | null;
  applied: boolean;
}

export interface SectionRows {
  nodes: NodeRow;
  fields: FieldRow;
  moves: MoveRow;
}

export interface SectionSpec {
  name: SectionName;
  tag: number;
  /** The columns of the COPY, in order, with their Postgres types (binary COPY forms). */
  columns: ReadonlyArray<readonly [string, 'text' | 'jsonb' | 'bool']>;
}

/** The sections of version 1, in stream order. */
export const SECTIONS: readonly SectionSpec[] = [
  {
    name: 'nodes',
    tag: 0x4e, // 'N'
    columns: [['id', 'text'], ['parent', 'text'], ['pos', 'text']],
  },
  {
    name: 'fields',
    tag: 0x46, // 'F'
    columns: [['node', 'text'], ['key', 'text'], ['value', 'jsonb'], ['ts', 'text']],
  },
  {
    name: 'moves',
    tag: 0x4d, // 'M'
    columns: [
      ['ts', 'text'], ['node', 'text'], ['parent', 'text'], ['pos', 'text'],
      ['old_parent', 'text'], ['old_pos', 'text'], ['applied', 'bool'],
    ],
  },
];

/** The magic, version, length and JSON header: the first bytes of a snapshot. */
export function encodePreamble(header: SnapshotHeader): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  if (json.length > MAX_HEADER_JSON_BYTES) throw new Error('snapshot header too large');
  const out = new Uint8Array(PREAMBLE_BYTES + json.length);
  out.set(SNAPSHOT_MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint16(8, SNAPSHOT_VERSION);
  view.setUint32(10, json.length);
  out.set(json, PREAMBLE_BYTES);
  return out;
}
