/**
 * An incremental parser of Postgres binary COPY data (`COPY … TO STDOUT (FORMAT binary)`), fed
 * chunks cut anywhere, in a browser worker as well as in Node (Uint8Array only).
 *
 * The format (Postgres docs, "COPY", Binary Format):
 *   signature  11 bytes  'PGCOPY\n\xff\r\n\0'
 *   flags      int32     bit 16 set = OIDs included (refused here); other bits must be 0
 *   extension  int32     length of a header extension, then that many bytes (skipped)
 *   tuples     int16 field count, then per field int32 length (-1 = NULL) and its bytes
 *   trailer    int16     -1
 * All integers are big-endian. The data of one COPY ends at its trailer: whatever follows in the
 * chunk belongs to the caller (the next section of a snapshot).
 *
 * Speed: tuples are read straight out of the caller's chunk. Only a tuple cut by a chunk
 * boundary is copied, into a carry buffer that is topped up with exactly the bytes its next
 * missing piece needs before it is parsed again, so a large field fed a byte at a time still
 * costs linear time. A row is built by a decoder given the field offsets: no per-field objects.
 */
import { CopyBuffer } from './copy-buffer.ts';
import { SnapshotError } from './snapshot-error.ts';

/** Builds a row from one tuple: field i is `buf.bytes[starts[i] .. starts[i] + lens[i])`, and
 * `lens[i]` is -1 for NULL. The arrays are reused: valid only during the call. */
export type TupleDecoder<Row> = (buf: CopyBuffer, starts: Int32Array, lens: Int32Array) => Row;

const SIGNATURE = Uint8Array.of(0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00);
const FIXED_HEADER_BYTES = SIGNATURE.length + 4 + 4;
const EMPTY = new Uint8Array(0);

export class CopyParser<Row> {
  private state: 'header' | 'tuples' | 'done' = 'header';
  /** An incomplete header or tuple from earlier chunks: `carry[0 .. carryLength)`. */
  private carry: Uint8Array = EMPTY;
  private carryLength = 0;
  /** How many carried bytes the next parse of the carry needs to make progress. */
  private need = 0;
  private readonly starts: Int32Array;
  private readonly lens: Int32Array;
  /** The CopyBuffer of the last buffer parsed, and where that parse stopped for a full batch:
   * a chunk is often parsed in several calls (one per batch), and its text decoded once. Only
   * a call that resumes exactly there reuses it (a caller may refill a buffer it passed). */
  private buffer = new CopyBuffer(EMPTY);
  private resumeAt = -1;
  /** Tuples parsed so far. */
  rows = 0;

  constructor(
    /** Every tuple must have exactly this many fields. */
    private readonly columns: number,
    private readonly decode: TupleDecoder<Row>,
    /** Names the data in error messages ("nodes"). */
    private readonly label = 'COPY data',
  ) {
    this.starts = new Int32Array(columns);
    this.lens = new Int32Array(columns);
  }

  /** True once the trailer has been read: the COPY data is complete. */
  get done(): boolean {
    return this.state === 'done';
  }

  /**
   * Parses `chunk` from `offset`, appending decoded rows to `out` until it holds `limit` rows
   * or the trailer is read. Returns the offset where parsing stopped: `chunk.length` when the
   * chunk was used up (an incomplete tuple at its end is kept for the next call); less when
   * `out` is full (call again with the same chunk from there) or after the trailer (the rest
   * is not COPY data).
   */
  write(chunk: Uint8Array, offset: number, out: Row[], limit: number): number {
    while (this.carryLength > 0) {
      if (this.state === 'done' || out.length >= limit) return offset;
      const take = Math.min(this.need - this.carryLength, chunk.length - offset);
      this.keep(chunk, offset, offset + take);
      offset += take;
      if (this.carryLength < this.need) return offset; // the whole chunk is carried
      // The carry ends exactly where its missing piece did: parsing it either completes the
      // tuple (or header, or reads the trailer) or finds the next missing piece.
      const carried = this.carry.subarray(0, this.carryLength);
      this.carryLength = 0;
      this.parse(carried, 0, out, limit);
    }
    if (this.state === 'done' || out.length >= limit) return offset;
    return this.parse(chunk, offset, out, limit);
  }

  /** Call at the end of the data: throws unless the trailer was read. */
  end(): void {
    if (this.state !== 'done') {
      throw new SnapshotError('snapshot_truncated', `${this.label}: the data ended before the COPY trailer`);
    }
  }

  private parse(b: Uint8Array, offset: number, out: Row[], limit: number): number {
    let p = offset;
    const end = b.length;
    if (this.state === 'header') {
      const need = this.header(b, p);
      if (p + need > end) return this.stash(b, p, need);
      p += need;
      this.state = 'tuples';
    }
    const { starts, lens, columns, decode } = this;
    if (this.buffer.bytes !== b || p !== this.resumeAt) this.buffer = new CopyBuffer(b);
    const buf = this.buffer;
    while (out.length < limit) {
      if (p + 2 > end) return p === end ? end : this.stash(b, p, 2);
      const count = ((b[p]! << 24) | (b[p + 1]! << 16)) >> 16;
      if (count === -1) {
        this.state = 'done';
        return p + 2;
      }
      if (count !== columns) this.invalid(`a tuple has ${count} fields, expected ${columns}`);
      let q = p + 2;
      for (let i = 0; i < columns; i++) {
        if (q + 4 > end) return this.stash(b, p, q + 4 - p);
        const len = (b[q]! << 24) | (b[q + 1]! << 16) | (b[q + 2]! << 8) | b[q + 3]!;
        q += 4;
        starts[i] = q;
        lens[i] = len;
        if (len === -1) continue;
        if (len < 0) this.invalid(`a field has length ${len}`);
        q += len;
        if (q > end) return this.stash(b, p, q - p);
      }
      out.push(decode(buf, starts, lens));
      this.rows++;
      p = q;
    }
    this.resumeAt = p;
    return p;
  }

  /** Keeps `b[p ..]`, an incomplete unit that needs `need` bytes from `p` to be parsed; the
   * chunk is used up. */
  private stash(b: Uint8Array, p: number, need: number): number {
    this.carryLength = 0;
    this.keep(b, p, b.length);
    this.need = need;
    return b.length;
  }

  /** Appends `b[from .. to)` to the carry, growing it by doubling (amortised linear). */
  private keep(b: Uint8Array, from: number, to: number): void {
    const length = this.carryLength + (to - from);
    // `b` may be the carry itself (a carried unit parsed and found incomplete again).
    if (b.buffer === this.carry.buffer && from === 0 && b.byteOffset === this.carry.byteOffset) {
      this.carryLength = length;
      return;
    }
    if (length > this.carry.length) {
      const grown = new Uint8Array(Math.max(length, this.carry.length * 2, 256));
      grown.set(this.carry.subarray(0, this.carryLength));
      this.carry = grown;
    }
    this.carry.set(b.subarray(from, to), this.carryLength);
    this.carryLength = length;
  }

  /** Checks the file header at `p` as far as it has arrived; returns its full length (which
   * may reach past the end of `b`: then it is incomplete). */
  private header(b: Uint8Array, p: number): number {
    const end = b.length;
    // The signature is checked as far as it has arrived, so a wrong stream fails at once.
    for (let i = 0; i < SIGNATURE.length && p + i < end; i++) {
      if (b[p + i] !== SIGNATURE[i]) this.invalid('not binary COPY data (bad signature)');
    }
    if (p + FIXED_HEADER_BYTES > end) return FIXED_HEADER_BYTES;
    const at = p + SIGNATURE.length;
    const flags = (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
    // Bit 16 is OIDs, a different tuple layout; bits 0-15 are critical flags a reader must
    // understand, and none are defined.
    if (flags !== 0) this.invalid(`unsupported COPY header flags 0x${(flags >>> 0).toString(16)}`);
    const extension = (b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!;
    if (extension < 0) this.invalid('negative COPY header extension length');
    return FIXED_HEADER_BYTES + extension;
  }

  private invalid(what: string): never {
    throw new SnapshotError('snapshot_invalid', `${this.label}: ${what}`);
  }
}
