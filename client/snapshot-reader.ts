/**
 * Reads a snapshot stream (snapshot-format.ts) from a fetch body or any async iterable of byte
 * chunks: first the header, then the rows of each section in batches, for bulk inserts.
 *
 *   for await (const event of readSnapshot(response.body)) {
 *     if (event.kind === 'header') begin(event.header.seq);
 *     else if (event.section === 'nodes') insertNodes(event.rows); // NodeRow[]
 *     …
 *   }
 *   commit(); // only here: the loop ended without throwing, so the snapshot was complete
 *
 * Contract: a stream that is cut anywhere, or that disagrees with its header, throws a
 * SnapshotError before the loop ends normally; batches already yielded are then worthless, so
 * load inside a transaction that only the normal end of the loop commits. Leaving the loop
 * early (break, throw) cancels the source, which ends the request and the server's query.
 */
import { CopyParser, type TupleDecoder } from './copy-parser.ts';
import { SnapshotError } from './snapshot-error.ts';
import {
  END_TAG,
  MAX_HEADER_JSON_BYTES,
  PREAMBLE_BYTES,
  SECTIONS,
  SNAPSHOT_MAGIC,
  SNAPSHOT_VERSION,
  type SectionName,
  type SectionRows,
  type SnapshotHeader,
} from '../protocol/snapshot-format.ts';
import { parseHeader } from './snapshot-header.ts';
import { ROW_DECODERS } from './snapshot-rows.ts';

export interface SnapshotProgress {
  /** Rows read so far, all sections. */
  rows: number;
  /** Rows in the whole snapshot (the header's counts). */
  totalRows: number;
  /** Bytes of the (decompressed) stream read so far. */
  bytes: number;
}

/** What a reader yields, with rows of the type its decoders make (`Rows[section]`). */
export type SnapshotEventOf<Rows extends { [S in SectionName]: unknown }> =
  | { kind: 'header'; header: SnapshotHeader }
  | { [S in SectionName]: { kind: 'rows'; section: S; rows: Rows[S][]; progress: SnapshotProgress } }[SectionName];

export type SnapshotEvent = SnapshotEventOf<SectionRows>;

/** One tuple decoder per section. */
export type SectionDecoders<Rows extends { [S in SectionName]: unknown }> = { [S in SectionName]: TupleDecoder<Rows[S]> };

export interface ReadSnapshotOptions {
  /** The most rows in one batch (default 10,000). A batch never spans two sections. */
  batchSize?: number;
}

export type ByteSource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export function readSnapshot(source: ByteSource, opts: ReadSnapshotOptions = {}): AsyncGenerator<SnapshotEvent, void, undefined> {
  return readSnapshotWith<SectionRows>(source, ROW_DECODERS, opts);
}

/**
 * readSnapshot with decoders of one's own: the same checks of the stream's structure, counts
 * and end, with each tuple handed to `decoders[section]` (copy-decode.ts reads its fields). A
 * bulk loader uses this to copy a tuple's bytes where they go without making row objects.
 */
export async function* readSnapshotWith<Rows extends { [S in SectionName]: unknown }>(
  source: ByteSource,
  decoders: SectionDecoders<Rows>,
  opts: ReadSnapshotOptions = {},
): AsyncGenerator<SnapshotEventOf<Rows>, void, undefined> {
  const batchSize = opts.batchSize ?? 10_000;
  if (!(batchSize >= 1)) throw new RangeError('batchSize must be at least 1');
  let preamble: Uint8Array = new Uint8Array(0);
  let header: SnapshotHeader | undefined;
  let totalRows = 0;
  /** The index in SECTIONS of the section being read, or of the next tag expected. */
  let index = 0;
  let parser: CopyParser<Rows[SectionName]> | undefined;
  let batch: Rows[SectionName][] = [];
  let rows = 0;
  let bytes = 0;
  let ended = false;

  const progress = (): SnapshotProgress => ({ rows, totalRows, bytes });
  const emit = (): SnapshotEventOf<Rows> => {
    const event = { kind: 'rows', section: SECTIONS[index]!.name, rows: batch, progress: progress() };
    batch = [];
    return event as SnapshotEventOf<Rows>;
  };

  for await (const chunk of byteChunks(source)) {
    bytes += chunk.length;
    if (!header) {
      preamble = concat(preamble, chunk);
      const read = readPreamble(preamble);
      if (!read) continue;
      header = read.header;
      totalRows = header.counts.nodes + header.counts.fields + header.counts.moves;
      yield { kind: 'header', header };
      // The rest of what arrived belongs to the sections.
      const rest = preamble.subarray(read.length);
      preamble = new Uint8Array(0);
      yield* sections(rest);
      continue;
    }
    yield* sections(chunk);
  }
  if (!header) throw truncated('the stream ended inside the header');
  if (parser) parser.end(); // throws: the section's COPY data was cut
  if (!ended) throw truncated(`the stream ended before the ${SECTIONS[index]?.name ?? 'end'} section`);

  /** Feeds one chunk's bytes to the section state machine, yielding full batches. */
  function* sections(chunk: Uint8Array): Generator<SnapshotEventOf<Rows>> {
    let p = 0;
    while (p < chunk.length) {
      if (ended) throw invalid(`${chunk.length - p} bytes after the end marker`);
      if (!parser) {
        const tag = chunk[p++]!;
        const spec = SECTIONS[index];
        if (!spec) {
          if (tag !== END_TAG) throw invalid(`expected the end marker, found byte 0x${hex(tag)}`);
          ended = true;
          continue;
        }
        if (tag !== spec.tag) throw invalid(`expected the ${spec.name} section, found byte 0x${hex(tag)}`);
        parser = new CopyParser<Rows[SectionName]>(spec.columns.length, decoders[spec.name] as TupleDecoder<Rows[SectionName]>, spec.name);
        continue;
      }
      const name = SECTIONS[index]!.name;
      const before = batch.length;
      p = parser.write(chunk, p, batch, batchSize);
      rows += batch.length - before;
      const expected = header!.counts[name];
      if (parser.rows > expected) throw invalid(`${name}: more rows than the ${expected} in the header`);
      if (parser.done) {
        if (parser.rows !== expected) throw invalid(`${name}: ${parser.rows} rows, the header says ${expected}`);
        if (batch.length > 0) yield emit();
        parser = undefined;
        index++;
      } else if (batch.length >= batchSize) {
        yield emit();
      }
    }
  }
}

/** The header once all of its bytes are in `buf`, with the number of bytes it took. */
function readPreamble(buf: Uint8Array): { header: SnapshotHeader; length: number } | undefined {
  for (let i = 0; i < SNAPSHOT_MAGIC.length && i < buf.length; i++) {
    if (buf[i] !== SNAPSHOT_MAGIC[i]) throw invalid('not a treesync snapshot (bad magic bytes)');
  }
  if (buf.length < PREAMBLE_BYTES) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const version = view.getUint16(8);
  if (version !== SNAPSHOT_VERSION) throw invalid(`snapshot format version ${version}; this reader knows ${SNAPSHOT_VERSION}`);
  const length = view.getUint32(10);
  if (length > MAX_HEADER_JSON_BYTES) throw invalid(`a header of ${length} bytes`);
  if (buf.length < PREAMBLE_BYTES + length) return undefined;
  const header = parseHeader(buf.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + length));
  return { header, length: PREAMBLE_BYTES + length };
}

/** The chunks of a web stream or async iterable; leaving early cancels the source. A source
 * that fails (a connection cut mid-body: fetch's `TypeError: terminated`) is a truncation. */
async function* byteChunks(source: ByteSource): AsyncGenerator<Uint8Array> {
  if (!(source instanceof ReadableStream)) {
    const iterator = source[Symbol.asyncIterator]();
    let done = false;
    try {
      for (;;) {
        const next = await iterator.next().catch(failed);
        if (next.done) {
          done = true;
          return;
        }
        yield plain(next.value);
      }
    } finally {
      if (!done) await iterator.return?.();
    }
  }
  const reader = source.getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read().catch(failed);
      if (next.done) {
        done = true;
        return;
      }
      yield plain(next.value);
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** A plain Uint8Array view of a chunk (Node streams give Buffers, a subclass): the parser's
 * byte loads then always see one kind of object, which keeps V8's code for them monomorphic. */
function plain(chunk: Uint8Array): Uint8Array {
  return chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function failed(err: unknown): never {
  const why = err instanceof Error ? err.message : String(err);
  throw new SnapshotError('snapshot_truncated', `the stream failed before its end: ${why}`, { cause: err });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

function invalid(message: string): SnapshotError {
  return new SnapshotError('snapshot_invalid', message);
}

function truncated(message: string): SnapshotError {
  return new SnapshotError('snapshot_truncated', message);
}
