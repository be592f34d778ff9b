/**
 * The snapshot route end to end: a real HTTP server, a real Postgres, the client's own reader.
 * A snapshot read back must be exactly the tree as SQL reads it, whatever the chunking, and a
 * snapshot cut anywhere must be an error, never a smaller tree.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SNAPSHOT_CONTENT_TYPE } from '../../protocol/snapshot-format.ts';
import { formatTs, TRASH, type Op } from '../../protocol/ops.ts';
import { GrowingTree } from '../../bench/growing-tree.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, createTree, type Queryable } from '../merge/pg-tree.ts';
import { waitFor } from './poll.ts';
import { readAll } from './read-all.ts';
import { serveSnapshots, type SnapshotServer } from './serve-snapshots.ts';

const db = useTestDb();
let snapshotPool: pg.Pool;
let server: SnapshotServer;

beforeAll(async () => {
  snapshotPool = new pg.Pool({ connectionString: db.url, max: 2 });
  server = await serveSnapshots({ snapshotPool });
  await buildTree(db, 'garden');
  await createTree(db, 'empty');
});

afterAll(async () => {
  await server?.close();
  await snapshotPool?.end();
});

/** A tree with history: an offline branch merged late (undo/redo), moves, deletes, skipped
 * moves (missing parent, cycle), content with unicode, nested JSON, overwrites and tombstones. */
async function buildTree(db: Queryable, tree: string) {
  await createTree(db, tree);
  const online = new GrowingTree('online', 1);
  await applyOps(db, tree, online.moves(200, { createOnly: true }));
  const offline = online.fork('offline', 2, 10_000);
  online.setClock(1_000_000);
  for (let i = 0; i < 3; i++) await applyOps(db, tree, online.moves(150));
  // Older than everything online did since the fork: merged by undoing and redoing.
  await applyOps(db, tree, offline.moves(120));
  const ts = (i: number, replica = 'editor') => formatTs(1_700_002_000_000 + i, 0, replica);
  const ops: Op[] = [
    { ts: ts(1), type: 'move', node: 'online-1', parent: TRASH, pos: 'z' },
    { ts: ts(2), type: 'move', node: 'orphan', parent: 'no-such-parent', pos: '' },
    { ts: ts(3), type: 'move', node: 'online-2', parent: 'online-2', pos: '' },
    { ts: ts(4), type: 'set', node: 'online-3', key: 'text', value: 'Grüße, 世界 🌳' },
    { ts: ts(5), type: 'set', node: 'online-3', key: 'meta', value: { tags: ['a', 'b'], done: false, n: 1.5 } },
    { ts: ts(6), type: 'set', node: 'online-4', key: 'text', value: 'to be removed' },
    { ts: ts(7), type: 'set', node: 'online-4', key: 'text', value: null },
    { ts: ts(8), type: 'set', node: 'never-created', key: 'text', value: 'content of a node that does not exist' },
    { ts: ts(9), type: 'set', node: 'online-5', key: 'empty', value: '' },
  ];
  for (let i = 10; i < 300; i++) {
    ops.push({ ts: ts(i), type: 'set', node: `online-${i}`, key: 'text', value: `node ${i} "quoted" \\ \n` });
  }
  await applyOps(db, tree, ops);
  // A late write older than the tombstone loses to it; the tombstone stays.
  await applyOps(db, tree, [{ ts: ts(6, 'late'), type: 'set', node: 'online-4', key: 'text', value: 'stale' }]);
}

async function readTreeSql(db: Queryable, tree: string) {
  const q = async <R extends pg.QueryResultRow>(sql: string) => (await db.query<R>(sql, [tree])).rows;
  return {
    seq: Number((await q<{ seq: string }>('select seq from treesync.trees where id = $1'))[0]!.seq),
    nodes: await q('select id, parent, pos from treesync.nodes where tree = $1 order by id collate "C"'),
    fields: await q(
      `select node, key, value::text as value, ts from treesync.fields
        where tree = $1 order by node collate "C", key collate "C"`,
    ),
    moves: await q(
      `select ts, node, parent, pos, old_parent, old_pos, applied from treesync.moves
        where tree = $1 order by ts collate "C"`,
    ),
  };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

function* pieces(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

describe('a snapshot read back with the client reader', () => {
  test.each([
    ['without gzip', 'identity', null],
    ['with gzip', 'gzip, deflate', 'gzip'],
  ])('equals the tree read with SQL (%s)', async (_, acceptEncoding, contentEncoding) => {
    const expected = await readTreeSql(db, 'garden');
    // Sanity of the fixture: it holds what the test claims to cover.
    expect(expected.moves.some((m) => m.applied === false)).toBe(true);
    expect(expected.moves.some((m) => m.old_parent !== null)).toBe(true);
    expect(expected.fields.some((f) => f.value === 'null')).toBe(true);
    expect(expected.nodes.some((n) => n.parent === TRASH)).toBe(true);

    const res = await fetch(server.url('garden'), { headers: { 'accept-encoding': acceptEncoding } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(SNAPSHOT_CONTENT_TYPE);
    expect(res.headers.get('content-encoding')).toBe(contentEncoding);
    expect(res.headers.get('x-treesync-seq')).toBe(String(expected.seq));

    const back = await readAll(res.body!, { batchSize: 100 });
    expect(back.header).toEqual({
      tree: 'garden',
      seq: expected.seq,
      counts: { nodes: expected.nodes.length, fields: expected.fields.length, moves: expected.moves.length },
      // The reader keeps the header's frontier (null: no replica has reported a floor here).
      frontier: (await db.query(`select treesync.frontier('garden') as f`)).rows[0].f,
    });
    expect(back.nodes).toEqual(expected.nodes);
    expect(back.fields).toEqual(expected.fields);
    expect(back.moves).toEqual(expected.moves);
    expect(back.batches).toBeGreaterThan(back.moves.length / 100);
  });

  test('an empty tree has ROOT and TRASH and empty sections', async () => {
    const back = await readAll(asAsync([await fetchBytes(server.url('empty'))]));
    expect(back.header).toEqual({ tree: 'empty', seq: 0, counts: { nodes: 2, fields: 0, moves: 0 }, frontier: null });
    expect(back.nodes).toEqual([
      { id: 'ROOT', parent: null, pos: '' },
      { id: 'TRASH', parent: null, pos: '' },
    ]);
    expect(back.fields).toEqual([]);
    expect(back.moves).toEqual([]);
  });

  test('gives the same rows whatever the chunk boundaries, down to one byte at a time', async () => {
    const bytes = await fetchBytes(server.url('garden'));
    const whole = await readAll(asAsync([bytes]));
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const back = await readAll(asAsync(pieces(bytes, size)), { batchSize: 37 });
      expect({ ...back, batches: 0 }).toEqual({ ...whole, batches: 0 });
    }
  });

  test('a stream cut anywhere is a truncation error, never a smaller tree', async () => {
    const bytes = await fetchBytes(server.url('garden'));
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
    const cuts = new Set<number>();
    for (let i = 0; i < 300; i++) cuts.add(i); // header, first section's COPY header, first rows
    for (let i = bytes.length - 100; i < bytes.length; i++) cuts.add(i); // the last rows, trailer, end marker
    for (let i = 0; i < 300; i++) cuts.add(Math.floor(random() * bytes.length));
    for (const cut of cuts) {
      const error = await readAll(asAsync(pieces(bytes.subarray(0, cut), 4096))).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error, `cut at ${cut} of ${bytes.length}`).toMatchObject({
        name: 'SnapshotError',
        code: 'snapshot_truncated',
      });
    }
  });
});

describe('errors before the first byte', () => {
  test('an unknown tree is 404 tree_not_found', async () => {
    const res = await fetch(server.url('no-such-tree'));
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'tree_not_found', message: expect.any(String) } });
  });

  test('a malformed tree id is 400 invalid_tree_id', async () => {
    const res = await fetch(server.url('not a tree id'));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_tree_id' } });
  });

  test('HEAD answers the headers (with the seq) and gives the connection back', async () => {
    const res = await fetch(server.url('garden'), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-treesync-seq')).toBe(String((await readTreeSql(db, 'garden')).seq));
    expect(await res.arrayBuffer()).toHaveProperty('byteLength', 0);
  });

  test('none of these holds on to a snapshot connection', async () => {
    for (let i = 0; i < 5; i++) await (await fetch(server.url('no-such-tree'))).arrayBuffer();
    await waitFor('every snapshot connection to be idle', () => snapshotPool.totalCount === snapshotPool.idleCount);
    expect(snapshotPool.waitingCount).toBe(0);
  });
});
