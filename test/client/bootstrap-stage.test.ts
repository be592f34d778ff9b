/**
 * The bulk load binds each field's bytes where they lie in SQLite's memory (snapshot-stage.ts)
 * instead of making strings: it must store exactly what the general reader decodes, whatever the
 * chunk boundaries (a tuple cut between chunks is parsed from the parser's carry), UTF-8 and
 * long values included, and refuse what the reader refuses, leaving the replica as it was.
 * The same through a feed thread (snapshot-feed.ts: a worker_threads Worker that fetches,
 * parses and stages, handing batches over), from a real HTTP server on a socket; and the
 * fallback to one thread where no feed thread can start.
 * Real wa-sqlite in this thread (no replica worker, no treesync server: bootstrap.pg.test.ts
 * has those, and goes through the feed thread too).
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import * as SQLite from '@journeyapps/wa-sqlite';
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite.mjs';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createSchema, TABLE_NAMES } from '../../client/worker/schema.ts';
import { Db } from '../../client/worker/sqlite-db.ts';
import { startFeedThread } from '../../client/node/spawn-feed-thread.ts';
import { bootstrap } from '../../client/worker/sync/bootstrap.ts';
import { loadSnapshot, loadStaged, type LoadProgress } from '../../client/worker/sync/load-snapshot.ts';
import { openFeed, prepareFeed, useFeedThreads } from '../../client/worker/sync/snapshot-feed.ts';
import { snapshotRequest } from '../../client/worker/sync/snapshot-request.ts';
import { MAX_VALUE_BYTES } from '../../protocol/ops.ts';
import { encodePreamble, END_TAG, SECTIONS, type SnapshotHeader } from '../../protocol/snapshot-format.ts';
import { bool, concatBytes, encodeCopy, jsonb, text } from '../snapshot/copy-encoder.ts';
import { readAll } from '../snapshot/read-all.ts';

let api: SQLiteAPI;
let module: unknown;
let db: Db | undefined;

beforeAll(async () => {
  const wasm = new URL(import.meta.resolve('@journeyapps/wa-sqlite/dist/wa-sqlite.wasm'));
  module = await SQLiteESMFactory({ wasmBinary: await readFile(wasm) });
  api = SQLite.Factory(module);
});

afterEach(async () => {
  await db?.close();
  db = undefined;
});

async function replica(): Promise<Db> {
  db = await Db.open(api, module);
  await createSchema(db);
  return db;
}

// Content that is not all ASCII, values long enough that their COPY length has a byte >= 0x80
// (200 = 0xc8), and every NULL and tombstone the sections allow.
const ids = Array.from({ length: 300 }, (_, i) => `n${String(i).padStart(3, '0')}`);
const nodes = [
  { id: 'ROOT', parent: null, pos: '' },
  { id: 'TRASH', parent: null, pos: '' },
  ...ids.map((id, i) => ({ id, parent: i < 10 ? 'ROOT' : ids[Math.floor(i / 10)]!, pos: `a${i}` })),
];
const value = (i: number) =>
  i % 7 === 0 ? 'null' : i % 5 === 0 ? JSON.stringify(`ünïcödé ✓ 🌳 ${i}`) : i % 3 === 0 ? JSON.stringify('y'.repeat(200)) : JSON.stringify({ n: i });
const fields = ids.map((id, i) => ({ node: id, key: i % 4 === 0 ? 'tïtle' : 'k', value: value(i), ts: `1700000000${String(i).padStart(3, '0')}.00001.a` }));
const moves = ids.map((id, i) => ({
  ts: `1700000000${String(i).padStart(3, '0')}.00000.a`,
  node: id,
  parent: nodes[i + 2]!.parent!,
  pos: nodes[i + 2]!.pos,
  old_parent: i % 2 ? 'TRASH' : null,
  old_pos: i % 2 ? 'z' : null,
  applied: i % 9 !== 4,
}));
const nullable = (s: string | null) => (s === null ? null : text(s));
const header: SnapshotHeader = { tree: 't', seq: 42, counts: { nodes: nodes.length, fields: fields.length, moves: moves.length } };

function snapshot(over: { fields?: Uint8Array } = {}): Uint8Array {
  const sections = {
    nodes: encodeCopy(nodes.map((n) => [text(n.id), nullable(n.parent), text(n.pos)])),
    fields: over.fields ?? encodeCopy(fields.map((f) => [text(f.node), text(f.key), jsonb(f.value), text(f.ts)])),
    moves: encodeCopy(
      moves.map((m) => [text(m.ts), text(m.node), text(m.parent), text(m.pos), nullable(m.old_parent), nullable(m.old_pos), bool(m.applied)]),
    ),
  };
  return concatBytes(encodePreamble(header), ...SECTIONS.map((s) => concatBytes(Uint8Array.of(s.tag), sections[s.name])), Uint8Array.of(END_TAG));
}

async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

async function tables(d: Db): Promise<Record<string, unknown[][]>> {
  const out: Record<string, unknown[][]> = {};
  for (const table of TABLE_NAMES) out[table] = await d.all(`select * from ${table} order by 1, 2`);
  return out;
}

describe('the staged bulk load', () => {
  test.each([1, 3, 64, 1000, 65_536])('stores exactly what the reader decodes, in pieces of %i bytes', async (size) => {
    const d = await replica();
    const bytes = snapshot();
    const result = await loadSnapshot(d, pieces(bytes, size), MAX_VALUE_BYTES);
    expect(result).toMatchObject({ tree: 't', seq: 42, rows: nodes.length + fields.length + moves.length });
    // Bytes as of the last rows: the end marker may come in a chunk of its own after them.
    expect(bytes.length - result.bytes).toBeLessThanOrEqual(1);
    const read = await readAll(pieces(bytes, 4096));
    expect(await d.all('select id, parent, pos from nodes order by id')).toEqual(read.nodes.map((n) => [n.id, n.parent, n.pos]));
    // The jsonb text `null` is the replica's tombstone, SQL NULL.
    expect(await d.all('select node, key, value, ts from fields order by node, key')).toEqual(
      read.fields.map((f) => [f.node, f.key, f.value === 'null' ? null : f.value, f.ts]),
    );
    expect(await d.all('select ts, node, parent, pos, old_parent, old_pos, applied from moves order by ts')).toEqual(
      read.moves.map((m) => [m.ts, m.node, m.parent, m.pos, m.old_parent, m.old_pos, m.applied ? 1 : 0]),
    );
    expect(await d.all(`select count(*) from fields where value like '%🌳%'`)).toEqual([[fields.filter((f) => f.value.includes('🌳')).length]]);
    // The index is back, and used for children in order.
    expect(await d.all(`select name from sqlite_schema where type = 'index' and name = 'nodes_by_parent'`)).toEqual([['nodes_by_parent']]);
  });

  test.each([
    ['invalid UTF-8 in a key', [text('n001'), Uint8Array.of(0x6b, 0xc3, 0x28), jsonb('1'), text('1700000000001.00001.a')]],
    ['invalid UTF-8 after a long value', [text('n001'), text('k'), Uint8Array.from([1, ...text(JSON.stringify('y'.repeat(200))), 0xff]), text('1700000000001.00001.a')]],
    ['a jsonb of another version', [text('n001'), text('k'), Uint8Array.of(2, 0x31), text('1700000000001.00001.a')]],
    ['a NULL key', [text('n001'), null, jsonb('1'), text('1700000000001.00001.a')]],
  ])('refuses %s and keeps the replica as it was', async (_name, row: Array<Uint8Array | null>) => {
    const d = await replica();
    await loadSnapshot(d, pieces(snapshot(), 512), MAX_VALUE_BYTES);
    const before = await tables(d);
    // One bad row among good ones: the header's count still holds.
    const bad: Array<Array<Uint8Array | null>> = fields.map((f) => [text(f.node), text(f.key), jsonb(f.value), text(f.ts)]);
    bad[150] = row;
    for (const size of [1, 512, 65_536]) {
      await expect(loadSnapshot(d, pieces(snapshot({ fields: encodeCopy(bad) }), size), MAX_VALUE_BYTES)).rejects.toMatchObject({
        name: 'SnapshotError',
        code: 'snapshot_invalid',
      });
      expect(await tables(d)).toEqual(before);
    }
  });
});

/** A server on a real socket that answers every request with `bytes` in pieces of `piece`,
 * then ends the answer, or (`cutAt`) breaks the connection after that many bytes. */
async function serve(bytes: Uint8Array, piece: number, cutAt?: number): Promise<{ url: string; close(): Promise<void> }> {
  const s = http.createServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/vnd.treesync.snapshot' });
    const end = cutAt ?? bytes.length;
    for (let i = 0; i < end; i += piece) {
      // Each piece written out before the next (and before the cut: nothing written is lost).
      await new Promise((resolve) => res.write(bytes.subarray(i, Math.min(i + piece, end)), resolve));
    }
    if (cutAt === undefined) res.end();
    else res.socket?.destroy();
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => s.close(() => resolve())),
  };
}

describe('the load through a feed thread', () => {
  beforeAll(() => useFeedThreads(startFeedThread));
  afterAll(() => useFeedThreads(undefined));

  test('stores what the one-thread load stores, in batches handed over and acked', async () => {
    const bytes = snapshot();
    const d = await replica();
    await loadSnapshot(d, pieces(bytes, 4096), MAX_VALUE_BYTES);
    const expected = await tables(d);
    await d.close();
    db = undefined;

    const server = await serve(bytes, 1000);
    try {
      const e = await replica();
      // Started ahead (a bootstrap that finds none starting loads in one thread). Batches of 7
      // rows: many more than the 4 the thread may have out, so it waits for acks.
      prepareFeed();
      const feed = await openFeed(snapshotRequest({ url: server.url, tree: 't' }), 7);
      expect(feed).toBeDefined();
      const progress: LoadProgress[] = [];
      const result = await loadStaged(e, feed!.events(e.raw), MAX_VALUE_BYTES, (p) => progress.push(p));
      expect(result).toMatchObject({ tree: 't', seq: 42, rows: nodes.length + fields.length + moves.length, feedThread: true });
      expect(await tables(e)).toEqual(expected);
      expect(progress.at(-1)).toMatchObject({ done: true, rows: result.rows, totalRows: result.rows });
      // The thread is kept: a second load through it gives the same.
      await e.exec('delete from nodes');
      expect(await bootstrap(e, { url: server.url, tree: 't' }, MAX_VALUE_BYTES)).toMatchObject({ seq: 42, rows: result.rows, feedThread: true });
      expect(await tables(e)).toEqual(expected);
    } finally {
      await server.close();
    }
  });

  test('a stream cut anywhere, or corrupt, is refused through the thread; the replica keeps its state', async () => {
    const bytes = snapshot();
    const d = await replica();
    await loadSnapshot(d, pieces(bytes, 4096), MAX_VALUE_BYTES);
    const before = await tables(d);
    prepareFeed();
    for (const cutAt of [5, 100, Math.floor(bytes.length / 3), Math.floor(bytes.length / 2), bytes.length - 1]) {
      const server = await serve(bytes, 64, cutAt);
      try {
        await expect(bootstrap(d, { url: server.url, tree: 't' }, MAX_VALUE_BYTES)).rejects.toMatchObject({ name: 'SnapshotError', code: 'snapshot_truncated' });
      } finally {
        await server.close();
      }
      expect(await tables(d)).toEqual(before);
    }
    const bad: Array<Array<Uint8Array | null>> = fields.map((f) => [text(f.node), text(f.key), jsonb(f.value), text(f.ts)]);
    bad[150] = [text('n001'), Uint8Array.of(0x6b, 0xc3, 0x28), jsonb('1'), text('1700000000001.00001.a')];
    const server = await serve(snapshot({ fields: encodeCopy(bad) }), 512);
    try {
      await expect(bootstrap(d, { url: server.url, tree: 't' }, MAX_VALUE_BYTES)).rejects.toMatchObject({ name: 'SnapshotError', code: 'snapshot_invalid' });
    } finally {
      await server.close();
    }
    expect(await tables(d)).toEqual(before);
  });

  test('an error answer crosses with its code; an abort ends the load', async () => {
    const s = http.createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'tree_not_found', message: 'no tree t' } }));
    });
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const d = await replica();
    prepareFeed();
    try {
      await expect(bootstrap(d, { url, tree: 't' }, MAX_VALUE_BYTES)).rejects.toMatchObject({ name: 'TreesyncError', code: 'tree_not_found', message: 'no tree t' });
    } finally {
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    // A stream that never ends: aborted mid-load, the load stops and nothing is kept.
    const before = await tables(d);
    const bytes = snapshot();
    const slow = http.createServer((_req, res) => {
      res.writeHead(200);
      res.write(bytes.subarray(0, bytes.length >> 1));
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const abort = new AbortController();
    try {
      const loading = bootstrap(d, { url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}`, tree: 't', signal: abort.signal }, MAX_VALUE_BYTES, (p) => {
        if (p.rows > 0) abort.abort();
      });
      await expect(loading).rejects.toBeDefined();
      expect(abort.signal.aborted).toBe(true);
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
    expect(await tables(d)).toEqual(before);
  });

  test('where no feed thread can start, the load runs in this thread', async () => {
    let tried = 0;
    useFeedThreads((onMessage, onError) => {
      tried++;
      // A thread whose module does not exist: it fails before its first message.
      const worker = new Worker(new URL('./no-such-feed-entry.mjs', import.meta.url));
      worker.on('error', onError);
      return { post: (m) => worker.postMessage(m), terminate: () => void worker.terminate() };
    });
    const server = await serve(snapshot(), 1000);
    try {
      const d = await replica();
      expect(await bootstrap(d, { url: server.url, tree: 't' }, MAX_VALUE_BYTES)).toMatchObject({ seq: 42, rows: nodes.length + fields.length + moves.length, feedThread: false });
      expect(await bootstrap(d, { url: server.url, tree: 't' }, MAX_VALUE_BYTES)).toMatchObject({ seq: 42, feedThread: false });
      // Tried once, not again.
      expect(tried).toBe(1);
      expect(await d.all('select count(*) from nodes')).toEqual([[nodes.length]]);
    } finally {
      await server.close();
      useFeedThreads(startFeedThread);
    }
  });
});
