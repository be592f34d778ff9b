/**
 * The snapshot reader on streams built here from the documented framing (no server): it must
 * hand over exactly the rows, in batches, with progress, and refuse every stream that is cut or
 * disagrees with its header.
 */
import { describe, expect, test } from 'vitest';
import { encodePreamble, END_TAG, SECTIONS, type SnapshotHeader } from '../../protocol/snapshot-format.ts';
import { readSnapshot, type SnapshotEvent } from '../../client/snapshot-reader.ts';
import { bool, concatBytes, encodeCopy, jsonb, text } from './copy-encoder.ts';
import { readAll } from './read-all.ts';

const nodes = [
  { id: 'ROOT', parent: null, pos: '' },
  { id: 'TRASH', parent: null, pos: '' },
  ...Array.from({ length: 25 }, (_, i) => ({ id: `n${String(i).padStart(2, '0')}`, parent: 'ROOT', pos: `a${i}` })),
];
const fields = [
  { node: 'n01', key: 'text', value: '"hello"', ts: '1700000000001.00000.a' },
  { node: 'n02', key: 'text', value: 'null', ts: '1700000000002.00000.a' },
];
const moves = nodes.slice(2).map((n, i) => ({
  ts: `17000000000${String(i).padStart(2, '0')}.00000.a`,
  node: n.id,
  parent: 'ROOT',
  pos: n.pos,
  old_parent: i % 2 ? 'ROOT' : null,
  old_pos: i % 2 ? 'a' : null,
  applied: i !== 3,
}));

const nullable = (s: string | null) => (s === null ? null : text(s));
const sections = {
  nodes: encodeCopy(nodes.map((n) => [text(n.id), nullable(n.parent), text(n.pos)])),
  fields: encodeCopy(fields.map((f) => [text(f.node), text(f.key), jsonb(f.value), text(f.ts)])),
  moves: encodeCopy(
    moves.map((m) => [text(m.ts), text(m.node), text(m.parent), text(m.pos), nullable(m.old_parent), nullable(m.old_pos), bool(m.applied)]),
  ),
};
const header: SnapshotHeader = { tree: 't', seq: 77, counts: { nodes: nodes.length, fields: fields.length, moves: moves.length } };

function snapshot(over: { header?: unknown; sections?: Uint8Array[]; end?: Uint8Array } = {}): Uint8Array {
  return concatBytes(
    encodePreamble((over.header ?? header) as SnapshotHeader),
    ...(over.sections ?? SECTIONS.map((s) => concatBytes(Uint8Array.of(s.tag), sections[s.name]))),
    over.end ?? Uint8Array.of(END_TAG),
  );
}

async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function failure(bytes: Uint8Array, size = 5): Promise<unknown> {
  return readAll(pieces(bytes, size)).then(() => 'no error', (err: unknown) => err);
}

describe('readSnapshot', () => {
  test('yields the header, then every row of each section in batches, with progress', async () => {
    const events: SnapshotEvent[] = [];
    for await (const event of readSnapshot(pieces(snapshot(), 3), { batchSize: 10 })) events.push(event);
    expect(events[0]).toEqual({ kind: 'header', header });
    const batches = events.slice(1).map((e) => (e.kind === 'rows' ? [e.section, e.rows.length, e.progress.rows] : e));
    expect(batches).toEqual([
      ['nodes', 10, 10], ['nodes', 10, 20], ['nodes', 7, 27],
      ['fields', 2, 29],
      ['moves', 10, 39], ['moves', 10, 49], ['moves', 5, 54],
    ]);
    const last = events.at(-1)!;
    expect(last.kind === 'rows' && last.progress).toEqual({ rows: 54, totalRows: 54, bytes: snapshot().length });
    const back = await readAll(pieces(snapshot(), 1));
    expect(back).toMatchObject({ header, nodes, fields, moves });
  });

  test('reads a web ReadableStream, and cancels it when the loop is left early', async () => {
    let cancelled = false;
    const bytes = snapshot();
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.subarray(0, 200));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const event of readSnapshot(stream)) if (event.kind === 'header') break;
    expect(cancelled).toBe(true);
    const whole = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes);
        controller.close();
      },
    });
    expect((await readAll(whole)).nodes).toEqual(nodes);
  });

  test('a source that fails mid-way (a cut connection) is a truncation', async () => {
    const broken = async function* () {
      yield snapshot().subarray(0, 100);
      throw new TypeError('terminated');
    };
    await expect(readAll(broken())).rejects.toMatchObject({
      name: 'SnapshotError',
      code: 'snapshot_truncated',
      cause: expect.objectContaining({ message: 'terminated' }),
    });
  });

  test('a stream cut at any byte is a truncation', async () => {
    const bytes = snapshot();
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(await failure(bytes.subarray(0, cut), 1 + (cut % 9)), `cut at ${cut}`).toMatchObject({
        name: 'SnapshotError',
        code: 'snapshot_truncated',
      });
    }
  });

  const tagged = (name: 'nodes' | 'fields' | 'moves', data = sections[name]) =>
    concatBytes(Uint8Array.of(SECTIONS.find((s) => s.name === name)!.tag), data);

  test.each([
    ['bad magic bytes', concatBytes(Uint8Array.of(0x89, 0x50, 0x4e, 0x47), snapshot().subarray(4))],
    ['format version 2', (() => { const b = snapshot(); b[9] = 2; return b; })()],
    ['a header of more than 64 KiB', (() => { const b = snapshot(); new DataView(b.buffer).setUint32(10, 70_000); return b; })()],
    ['a header that is not JSON', (() => { const b = snapshot(); b[14] = 0x7b + 1; return b; })()],
    ['a header without counts', snapshot({ header: { tree: 't', seq: 1 } })],
    ['a negative count', snapshot({ header: { ...header, counts: { ...header.counts, fields: -1 } } })],
    ['fewer rows than the header says', snapshot({ header: { ...header, counts: { ...header.counts, fields: 3 } } })],
    ['more rows than the header says', snapshot({ header: { ...header, counts: { ...header.counts, nodes: 20 } } })],
    ['sections out of order', snapshot({ sections: [tagged('nodes'), tagged('moves'), tagged('fields')] })],
    ['a section missing', snapshot({ sections: [tagged('nodes'), tagged('moves')] })],
    ['an unknown end marker', snapshot({ end: Uint8Array.of(0x59) })],
    ['bytes after the end marker', snapshot({ end: Uint8Array.of(END_TAG, 0) })],
    ['a section with the wrong columns', snapshot({ sections: [tagged('nodes', sections.fields), tagged('fields'), tagged('moves')] })],
  ])('refuses %s', async (_, bytes) => {
    expect(await failure(bytes)).toMatchObject({ name: 'SnapshotError', code: 'snapshot_invalid' });
  });
});
