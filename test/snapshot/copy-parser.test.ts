/**
 * The binary COPY parser against data written by an independent encoder: every field form,
 * any chunking, and every way the data can be wrong or cut.
 */
import { describe, expect, test } from 'vitest';
import type { CopyBuffer } from '../../client/copy-buffer.ts';
import { decodeBool, decodeInt8, decodeJsonbText, decodeNullableText, decodeText } from '../../client/copy-decode.ts';
import { CopyParser, type TupleDecoder } from '../../client/copy-parser.ts';
import { bool, concatBytes, encodeCopy, int8, jsonb, text } from './copy-encoder.ts';

interface Row {
  name: string;
  note: string | null;
  flag: boolean;
  count: number | null;
  json: string;
}

const decodeRow: TupleDecoder<Row> = (b, s, l) => ({
  name: decodeText(b, s[0]!, l[0]!),
  note: decodeNullableText(b, s[1]!, l[1]!),
  flag: decodeBool(b, s[2]!, l[2]!),
  count: l[3]! < 0 ? null : decodeInt8(b, s[3]!, l[3]!),
  json: decodeJsonbText(b, s[4]!, l[4]!),
});

const ROWS: Row[] = [
  { name: 'ROOT', note: null, flag: true, count: 0, json: 'null' },
  { name: '', note: '', flag: false, count: -1, json: '""' },
  { name: 'Grüße, 世界 🌳', note: 'naïve', flag: true, count: 2 ** 53 - 1, json: '{"a": [1, 2.5, "ü"]}' },
  { name: 'x'.repeat(20_000), note: 'y'.repeat(9000), flag: false, count: null, json: `"${'z'.repeat(70_000)}"` },
  ...Array.from({ length: 2000 }, (_, i) => ({
    name: `n${i}`,
    note: i % 3 ? `note ${i} ${'.'.repeat(i % 40)}` : null,
    flag: i % 2 === 0,
    count: i * 1_000_003,
    json: JSON.stringify({ i, s: 'é'.repeat(i % 5) }),
  })),
];

function encodeRows(rows: Row[], opts = {}): Uint8Array {
  return encodeCopy(
    rows.map((r) => [
      text(r.name),
      r.note === null ? null : text(r.note),
      bool(r.flag),
      r.count === null ? null : int8(BigInt(r.count)),
      jsonb(r.json),
    ]),
    opts,
  );
}

/** Feeds `bytes` in pieces of `size`, `limit` rows per call; returns the rows and the offset in
 * the last piece where the COPY data ended. */
function parseInPieces(bytes: Uint8Array, size: number, limit = Infinity) {
  const parser = new CopyParser(5, decodeRow, 'test');
  const rows: Row[] = [];
  let stoppedAt = -1;
  for (let at = 0; at < bytes.length && !parser.done; at += size) {
    const piece = bytes.subarray(at, at + size);
    let offset = 0;
    do {
      const batch: Row[] = [];
      offset = parser.write(piece, offset, batch, limit);
      rows.push(...batch);
    } while (offset < piece.length && !parser.done);
    if (parser.done) stoppedAt = at + offset;
  }
  parser.end();
  return { rows, stoppedAt, parsed: parser.rows };
}

describe('CopyParser', () => {
  const bytes = encodeRows(ROWS);

  test.each([1, 2, 3, 5, 17, 4096, 8192, 65_536, Infinity])('reads every field form in pieces of %s bytes', (size) => {
    const { rows, parsed, stoppedAt } = parseInPieces(bytes, size === Infinity ? bytes.length : size, 333);
    expect(rows).toEqual(ROWS);
    expect(parsed).toBe(ROWS.length);
    expect(stoppedAt).toBe(bytes.length);
  });

  test('stops at the trailer and leaves what follows to the caller', () => {
    const after = Uint8Array.of(0x46, 1, 2, 3);
    const parser = new CopyParser(5, decodeRow);
    const rows: Row[] = [];
    const stream = concatBytes(encodeRows(ROWS.slice(0, 3)), after);
    const offset = parser.write(stream, 0, rows, Infinity);
    expect(parser.done).toBe(true);
    expect(stream.subarray(offset)).toEqual(after);
    expect(rows).toEqual(ROWS.slice(0, 3));
    // Once done, it reads nothing more.
    expect(parser.write(stream, offset, rows, Infinity)).toBe(offset);
  });

  test('honours the row limit, resuming where it stopped', () => {
    const parser = new CopyParser(5, decodeRow);
    const batches: number[] = [];
    let offset = 0;
    const all: Row[] = [];
    while (!parser.done) {
      const batch: Row[] = [];
      offset = parser.write(bytes, offset, batch, 700);
      batches.push(batch.length);
      all.push(...batch);
    }
    expect(batches).toEqual([700, 700, 604]);
    expect(all).toEqual(ROWS);
  });

  test('skips a header extension', () => {
    const withExtension = encodeRows(ROWS.slice(0, 5), { extension: Uint8Array.of(9, 9, 9, 9, 9, 9, 9) });
    expect(parseInPieces(withExtension, 1).rows).toEqual(ROWS.slice(0, 5));
  });

  test('an empty COPY (header and trailer) has no rows', () => {
    expect(parseInPieces(encodeCopy([]), 1).rows).toEqual([]);
  });

  test('data cut anywhere is truncated, not short', () => {
    const small = encodeRows(ROWS.slice(0, 4));
    for (let cut = 0; cut < small.length; cut += cut < 200 ? 1 : 997) {
      expect(() => parseInPieces(small.subarray(0, cut), 7), `cut at ${cut}`).toThrow(
        expect.objectContaining({ name: 'SnapshotError', code: 'snapshot_truncated' }),
      );
    }
  });

  test.each([
    ['a wrong signature, seen from its first bytes', Uint8Array.of(0x50, 0x47, 0x44)],
    ['OIDs in the header flags', encodeRows([], { flags: 1 << 16 })],
    ['an unknown critical flag', encodeRows([], { flags: 1 })],
    ['a tuple with the wrong number of fields', encodeCopy([[text('a')]])],
    ['a negative field length other than -1', concatBytes(encodeCopy([]).subarray(0, 19), Uint8Array.of(0, 5, 0xff, 0xff, 0xff, 0xfe))],
    ['a NULL where text is required', encodeCopy([[null, null, bool(true), null, jsonb('1')]])],
    ['a bool of two bytes', encodeCopy([[text('a'), null, Uint8Array.of(0, 1), null, jsonb('1')]])],
    ['an int8 of four bytes', encodeCopy([[text('a'), null, bool(true), Uint8Array.of(0, 0, 0, 1), jsonb('1')]])],
    ['an int8 beyond 2^53', encodeCopy([[text('a'), null, bool(true), int8(2n ** 60n), jsonb('1')]])],
    ['a jsonb of format version 2', encodeCopy([[text('a'), null, bool(true), null, Uint8Array.of(2, 0x31)]])],
    ['invalid UTF-8 in text', encodeCopy([[Uint8Array.of(0x61, 0xc3, 0x28), null, bool(true), null, jsonb('1')]])],
  ])('rejects %s', (_, data) => {
    expect(() => parseInPieces(data, data.length)).toThrow(
      expect.objectContaining({ name: 'SnapshotError', code: 'snapshot_invalid' }),
    );
  });
});

describe('decoders', () => {
  const at = (bytes: Uint8Array): [CopyBuffer, number, number] => {
    // A field inside a larger buffer, as the parser hands them out.
    const padded = concatBytes(Uint8Array.of(7, 7, 7), bytes, Uint8Array.of(7));
    let captured: [CopyBuffer, number, number] | undefined;
    const parser = new CopyParser(1, (b, s, l) => (captured = [b, s[0]!, l[0]!]));
    parser.write(encodeCopy([[padded]]), 0, [], 1);
    const [buf, start] = captured!;
    return [buf, start + 3, bytes.length];
  };

  test('int8 reads big-endian two’s complement', () => {
    for (const n of [0n, 1n, -1n, 255n, 256n, -(2n ** 31n), 2n ** 32n + 5n, 2n ** 53n - 1n, -(2n ** 53n) + 1n]) {
      expect(decodeInt8(...at(int8(n)))).toBe(Number(n));
    }
  });

  test('text across 8 KiB windows and in UTF-8 reads back exactly', () => {
    for (const s of ['a'.repeat(8191), 'b'.repeat(8192), 'c'.repeat(8193), `${'d'.repeat(8190)}é${'e'.repeat(10)}`, '€‰™']) {
      expect(decodeText(...at(text(s)))).toBe(s);
    }
  });
});
