/**
 * The bytes a COPY parser is reading, with a fast way to take text out of them.
 *
 * Most text in a snapshot is ASCII (ids, order keys and timestamps are ASCII by the protocol,
 * and so is much content). Decoding each field with TextDecoder costs about 100 ns a call,
 * which for the ~4 text fields of each of millions of rows was most of the parser's time. So
 * the bytes are decoded 8 KiB at a time as one-byte-per-character strings (windows-1252, what
 * the `latin1` label means to TextDecoder: every byte becomes exactly one UTF-16 unit, so byte
 * offsets are string offsets), and an ASCII field is a `substring` of its window's string.
 * Measured on a 1M-node snapshot: 3 times faster than a TextDecoder call per field; windows of
 * 8 KiB beat decoding a whole 64 KiB chunk at once by a third (less garbage kept alive by
 * substrings that share their window's string).
 *
 * A field with any byte >= 0x80 is UTF-8 and goes through a (fatal) UTF-8 decoder, and so does
 * the rare field that crosses a window boundary.
 *
 * A substring of 13 or more characters may share its window's string in V8 (a "sliced
 * string"): keeping such a row keeps 8 KiB alive; a reader that loads rows into a database and
 * drops them keeps nothing.
 */
import { SnapshotError } from './snapshot-error.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const oneBytePerChar = new TextDecoder('latin1');
const WINDOW_BITS = 13;

export class CopyBuffer {
  private window = -1;
  private chars = '';

  constructor(readonly bytes: Uint8Array) {}

  /** The UTF-8 text of `bytes[start .. start + len)`; throws on invalid UTF-8. */
  text(start: number, len: number): string {
    const b = this.bytes;
    const end = start + len;
    for (let i = start; i < end; i++) {
      if (b[i]! >= 0x80) return decodeUtf8(b.subarray(start, end));
    }
    const window = start >>> WINDOW_BITS;
    const base = window << WINDOW_BITS;
    if (end > base + (1 << WINDOW_BITS)) return decodeUtf8(b.subarray(start, end));
    if (window !== this.window) {
      this.window = window;
      this.chars = oneBytePerChar.decode(b.subarray(base, base + (1 << WINDOW_BITS)));
    }
    return this.chars.substring(start - base, end - base);
  }
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new SnapshotError('snapshot_invalid', 'a text field is not valid UTF-8');
  }
}
