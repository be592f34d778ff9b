/**
 * Writes Postgres binary COPY data, for tests of the parser: the format as the Postgres docs
 * define it, written independently of the parser so the two check each other. A field is its
 * bytes, or null for NULL.
 */
export interface CopyEncodeOptions {
  flags?: number;
  extension?: Uint8Array;
}

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];

export function encodeCopy(rows: ReadonlyArray<ReadonlyArray<Uint8Array | null>>, opts: CopyEncodeOptions = {}): Uint8Array {
  const out: number[] = [...SIGNATURE];
  const int32 = (n: number) => out.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const int16 = (n: number) => out.push((n >>> 8) & 0xff, n & 0xff);
  int32(opts.flags ?? 0);
  int32(opts.extension?.length ?? 0);
  out.push(...(opts.extension ?? []));
  for (const row of rows) {
    int16(row.length);
    for (const field of row) {
      if (field === null) int32(-1);
      else {
        int32(field.length);
        for (const byte of field) out.push(byte);
      }
    }
  }
  int16(-1);
  return Uint8Array.from(out);
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const jsonb = (json: string): Uint8Array => Uint8Array.from([1, ...text(json)]);
export const bool = (b: boolean): Uint8Array => Uint8Array.of(b ? 1 : 0);
export function int8(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, n);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
