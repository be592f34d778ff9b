/**
 * Decoders of the binary COPY forms of the Postgres types a snapshot carries (each type's
 * `*_send` function defines its form). Each takes the tuple's buffer and a field's start and
 * length as the parser gives them (length -1 = NULL).
 */
import type { CopyBuffer } from './copy-buffer.ts';
import { SnapshotError } from './snapshot-error.ts';

/** `text` (and varchar, name): the UTF-8 bytes. */
export function decodeText(buf: CopyBuffer, start: number, len: number): string {
  if (len < 0) invalid('a NULL where text was expected');
  return buf.text(start, len);
}

/** `text` that may be NULL. */
export function decodeNullableText(buf: CopyBuffer, start: number, len: number): string | null {
  return len < 0 ? null : buf.text(start, len);
}

/** `jsonb`: a version byte (1, the only one Postgres has defined) then the value's JSON text.
 * Returns the text; parse it only if the value itself is needed. */
export function decodeJsonbText(buf: CopyBuffer, start: number, len: number): string {
  if (len < 1) invalid(len < 0 ? 'a NULL where jsonb was expected' : 'an empty jsonb field');
  const version = buf.bytes[start];
  if (version !== 1) invalid(`jsonb format version ${version}, expected 1`);
  return buf.text(start + 1, len - 1);
}

/** `bool`: one byte, 0 or 1. */
export function decodeBool(buf: CopyBuffer, start: number, len: number): boolean {
  if (len !== 1) invalid(`a bool field of ${len} bytes`);
  return buf.bytes[start] !== 0;
}

/** `int8` (bigint): 8 bytes, big-endian two's complement. A number, exact up to 2^53; beyond
 * that it throws rather than round (use BigInt in a caller that needs the full range). */
export function decodeInt8(buf: CopyBuffer, start: number, len: number): number {
  if (len !== 8) invalid(`an int8 field of ${len} bytes`);
  const b = buf.bytes;
  const hi = (b[start]! << 24) | (b[start + 1]! << 16) | (b[start + 2]! << 8) | b[start + 3]!;
  const lo = ((b[start + 4]! << 24) | (b[start + 5]! << 16) | (b[start + 6]! << 8) | b[start + 7]!) >>> 0;
  const value = hi * 2 ** 32 + lo;
  if (!Number.isSafeInteger(value)) invalid(`int8 ${value} is beyond 2^53`);
  return value;
}

function invalid(what: string): never {
  throw new SnapshotError('snapshot_invalid', what);
}
