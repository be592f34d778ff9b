/**
 * The snapshot's rows staged in WebAssembly memory for the bulk load (load-snapshot.ts).
 *
 * The general reader makes a JS string of every text field (copy-buffer.ts); binding that
 * string to a statement then encodes it back into SQLite's memory. For a bulk load both steps
 * are waste: the COPY tuple already holds each field's UTF-8 bytes. So each chunk of the
 * stream is copied whole into an arena in the module's memory, and these decoders only note
 * where each field's bytes are in it; the loader binds them there (SQLITE_STATIC: no further
 * copy) and steps. One batch at a time: the arena is reused after each.
 *
 * The checks are the reader's (copy-decode.ts): text is valid UTF-8 (checked by a decoder only
 * for the rare field with a byte >= 0x80), no NULL where the column has none, jsonb version 1,
 * bool one byte. The jsonb text `null` is staged as SQL NULL: the replica's tombstone.
 */
import type { TupleDecoder } from '../../copy-parser.ts';
import type { SectionDecoders } from '../../snapshot-reader.ts';
import { SnapshotError } from '../../snapshot-error.ts';
import type { SectionName } from '../../../protocol/snapshot-format.ts';
import type { RawModule } from '../sqlite-db.ts';

/** Where the arena lies: the SQLite module's memory (the loader binds the bytes there), or a
 * plain ArrayBuffer (the feed thread, snapshot-feed-worker.ts, hands its batches over whole). */
export interface StageMemory {
  /** The bytes the arena's offsets are into (read again after every grow: WebAssembly memory
   * can move when it grows). */
  readonly heap: Uint8Array;
  /** A new arena of `bytes` holding the first `keep` bytes of the one at `arena` (0: none),
   * which is let go; returns the new arena's offset in `heap`. */
  grow(arena: number, keep: number, bytes: number): number;
  /** Lets the arena at `arena` go. */
  free(arena: number): void;
}

/** The arena in the SQLite module's memory (malloc'd there). */
export function moduleMemory(m: RawModule): StageMemory {
  return {
    get heap() {
      return m.HEAPU8;
    },
    grow(arena, keep, bytes) {
      const next = m._sqlite3_malloc(bytes);
      if (!next) throw new Error('SQLite out of memory for the snapshot arena');
      if (arena) {
        m.HEAPU8.copyWithin(next, arena, arena + keep);
        m._sqlite3_free(arena);
      }
      return next;
    },
    free(arena) {
      if (arena) m._sqlite3_free(arena);
    },
  };
}

/** The staged rows of one batch, as the loader binds them (load-snapshot.ts): value v is
 * `kinds[v]` with, for a text, its bytes at `arena + offsets[v]` of the SQLite module's memory,
 * `lengths[v]` long; for an int, `offsets[v]`. */
export interface StagedRows {
  readonly rows: number;
  readonly kinds: Uint8Array;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  readonly arena: number;
}

/** How a staged value is bound: a text of the arena, SQL NULL, or an integer. */
export const TEXT = 0;
export const NULL = 1;
export const INT = 2;

/** A column's COPY form: numbers, so the decoder's switch compares small integers. */
const C_TEXT = 0;
const C_NULLABLE = 1;
const C_JSONB = 2;
const C_BOOL = 3;

/** The columns of each section as the replica stores them, in COPY order. */
const KINDS: { [S in SectionName]: Uint8Array } = {
  nodes: Uint8Array.of(C_TEXT, C_NULLABLE, C_TEXT),
  fields: Uint8Array.of(C_TEXT, C_TEXT, C_JSONB, C_TEXT),
  moves: Uint8Array.of(C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_NULLABLE, C_NULLABLE, C_BOOL),
};

const utf8 = new TextDecoder('utf-8', { fatal: true });
const ARENA_START_BYTES = 1 << 20;

export class SnapshotStage implements StagedRows {
  /** Staged rows since the last clear(), and their values (StagedRows). */
  rows = 0;
  /** Values staged (rows × the section's columns). */
  values = 0;
  kinds: Uint8Array = new Uint8Array(1024);
  offsets: Int32Array = new Int32Array(1024);
  lengths: Int32Array = new Int32Array(1024);
  /** The arena: `arenaBytes` bytes at `arena` in the memory's heap, `used` of them staged. */
  arena = 0;
  protected arenaBytes = 0;
  used = 0;
  /** The bytes last copied into the arena, at `sourceAt`; whether any is >= 0x80. */
  private source: Uint8Array | undefined;
  private sourceAt = 0;
  private sourceHigh = false;
  readonly decoders: SectionDecoders<{ nodes: number; fields: number; moves: number }>;

  constructor(protected readonly memory: StageMemory) {
    this.grow(ARENA_START_BYTES);
    this.decoders = { nodes: this.decoder('nodes'), fields: this.decoder('fields'), moves: this.decoder('moves') };
  }

  /** Forgets the staged rows; their bytes may be overwritten from now on. */
  clear(): void {
    this.source = undefined;
    this.rows = 0;
    this.values = 0;
    this.used = 0;
  }

  /** Frees the arena. */
  release(): void {
    this.memory.free(this.arena);
    this.arena = 0;
  }

  private decoder(section: SectionName): TupleDecoder<number> {
    const kinds = KINDS[section];
    return (buf, starts, lens) => {
      const need = this.values + kinds.length;
      if (need > this.kinds.length) this.widen(need * 2);
      const b = buf.bytes;
      if (b !== this.source) this.copy(b);
      for (let i = 0; i < kinds.length; i++) {
        const v = this.values++;
        const start = starts[i]!;
        const len = lens[i]!;
        switch (kinds[i]) {
          case C_BOOL:
            if (len !== 1) invalid(`a bool field of ${len} bytes`);
            this.kinds[v] = INT;
            this.offsets[v] = b[start] === 0 ? 0 : 1;
            break;
          case C_JSONB:
            if (len < 1) invalid(len < 0 ? 'a NULL where jsonb was expected' : 'an empty jsonb field');
            if (b[start] !== 1) invalid(`jsonb format version ${b[start]}, expected 1`);
            if (isNullJson(b, start + 1, len - 1)) this.kinds[v] = NULL;
            else this.text(v, b, start + 1, len - 1);
            break;
          case C_NULLABLE:
            if (len < 0) this.kinds[v] = NULL;
            else this.text(v, b, start, len);
            break;
          default:
            if (len < 0) invalid('a NULL where text was expected');
            this.text(v, b, start, len);
        }
      }
      return this.rows++;
    };
  }

  /** Notes where a text field's bytes are: in the copy of the bytes being parsed. */
  private text(v: number, b: Uint8Array, start: number, len: number): void {
    if (this.sourceHigh) {
      let high = 0;
      for (let k = start; k < start + len; k++) high |= b[k]!;
      if (high >= 0x80) {
        try {
          utf8.decode(b.subarray(start, start + len));
        } catch {
          invalid('a text field is not valid UTF-8');
        }
      }
    }
    this.kinds[v] = TEXT;
    this.offsets[v] = this.sourceAt + start;
    this.lengths[v] = len;
  }

  /**
   * Copies the bytes being parsed (a chunk of the stream, or the parser's carry of a tuple cut
   * between chunks) into the arena whole: one copy at memory speed instead of one per field.
   * Also notes whether any byte of the copy is >= 0x80, read four at a time: nearly every chunk
   * is all ASCII (ids, keys, positions and timestamps are ASCII by the protocol), and then no
   * field needs a UTF-8 check of its own.
   */
  private copy(b: Uint8Array): void {
    // At a multiple of 4 (the arena is malloc's, 8-aligned), for the 32-bit reads.
    const at = (this.used + 3) & ~3;
    if (at + b.length > this.arenaBytes) this.grow(Math.max(this.arenaBytes * 2, at + b.length + 3));
    const heap = this.memory.heap;
    heap.set(b, this.arena + at);
    const words = new Uint32Array(heap.buffer, this.arena + at, b.length >>> 2);
    let high = 0;
    for (let i = 0; i < words.length; i++) high |= words[i]!;
    for (let k = words.length * 4; k < b.length; k++) high |= b[k]!;
    this.source = b;
    this.sourceAt = at;
    this.sourceHigh = (high & 0x80808080) !== 0;
    this.used = at + b.length;
  }

  /** A bigger arena, keeping what is staged (offsets are relative to the arena). */
  protected grow(bytes: number): void {
    this.arena = this.memory.grow(this.arena, this.used, bytes);
    this.arenaBytes = bytes;
  }

  private widen(values: number): void {
    const kinds = new Uint8Array(values);
    const offsets = new Int32Array(values);
    const lengths = new Int32Array(values);
    kinds.set(this.kinds);
    offsets.set(this.offsets);
    lengths.set(this.lengths);
    [this.kinds, this.offsets, this.lengths] = [kinds, offsets, lengths];
  }
}

/** The JSON text `null` (a removed field). */
function isNullJson(b: Uint8Array, start: number, len: number): boolean {
  return len === 4 && b[start] === 0x6e && b[start + 1] === 0x75 && b[start + 2] === 0x6c && b[start + 3] === 0x6c;
}

function invalid(what: string): never {
  throw new SnapshotError('snapshot_invalid', what);
}
