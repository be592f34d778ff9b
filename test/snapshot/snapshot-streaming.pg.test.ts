/**
 * A large snapshot under a slow, a vanishing and a stalled reader, and with pushes landing while
 * it streams: memory stays flat because backpressure reaches Postgres, a reader that goes away
 * ends the query in the database and gives the connection back, and the snapshot shows one
 * database state.
 *
 * The 200,000-node tree is written with SQL (synthetic-tree.ts), not merged: minutes of
 * apply_ops would prove nothing more about streaming.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { readSnapshot } from '../../client/snapshot-reader.ts';
import type { SnapshotHeader } from '../../protocol/snapshot-format.ts';
import { formatTs } from '../../protocol/ops.ts';
import type { SnapshotHandlerDeps } from '../../server/snapshot/snapshot-handler.ts';
import type { SnapshotResult } from '../../server/snapshot/snapshot-stream.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, createTree } from '../merge/pg-tree.ts';
import { waitFor } from './poll.ts';
import { startServerProcess } from './server-process.ts';
import { readAll } from './read-all.ts';
import { serveSnapshots, type SnapshotServer } from './serve-snapshots.ts';
import { insertSyntheticTree } from './synthetic-tree.ts';

const NODES = 200_000;
const MB = 1024 * 1024;

const db = useTestDb();
/** One connection: every test that needs a second snapshot proves the first gave it back. */
let snapshotPool: pg.Pool;
const servers: SnapshotServer[] = [];

beforeAll(async () => {
  await insertSyntheticTree(db, 'big', { nodes: NODES, valueChars: 400 });
  await createTree(db, 'small');
  snapshotPool = new pg.Pool({ connectionString: db.url, max: 1 });
}, 120_000);

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await snapshotPool?.end();
});

/** A server of this test's own, and the results of its snapshots as they finish. */
async function serve(extra: Partial<SnapshotHandlerDeps> = {}) {
  const results: SnapshotResult[] = [];
  const server = await serveSnapshots({ snapshotPool, ...extra, onDone: (_ms, _bytes, result) => results.push(result) });
  servers.push(server);
  /** The i-th result (0-based), once it is there. */
  const result = (i: number) => waitFor(`snapshot ${i} to give its connection back`, () => results[i]);
  return { server, result };
}

interface CopyActivity {
  pid: number;
  state: string;
  wait_event: string | null;
}

/** The snapshot COPYs of a tree running in the database now (an idle connection shows its
 * last query too, hence `active`). */
async function copies(tree: string): Promise<CopyActivity[]> {
  const { rows } = await db.query<CopyActivity>(
    `select pid, state, wait_event from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and state = 'active'
        and query like 'copy (select % where tree = ''' || $1 || ''' %'`,
    [tree],
  );
  return rows;
}

function identity(signal?: AbortSignal): RequestInit {
  return { headers: { 'accept-encoding': 'identity' }, ...(signal ? { signal } : {}) };
}

/** Yields a body's chunks, calling `between` after each. */
async function* chunksOf(body: ReadableStream<Uint8Array>, between: (bytes: number) => Promise<void>) {
  const reader = body.getReader();
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      bytes += value.length;
      yield value;
      await between(bytes);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Reads a body until `bytes` have arrived (or it ends). */
async function readAbout(reader: ReadableStreamDefaultReader<Uint8Array>, bytes: number) {
  for (let got = 0; got < bytes; ) {
    const { done, value } = await reader.read();
    if (done) return;
    got += value.length;
  }
}

describe('a large snapshot', () => {
  test("read slowly: the server's memory stays flat and Postgres waits on the socket", async () => {
    // The server in a process of its own, so that the reader's memory is not counted.
    const server = await startServerProcess(db.url);
    try {
      await readAll((await fetch(server.url('small'), identity())).body!); // warm up
      const before = await server.resetPeak();
      let sawClientWrite = false;
      let paused = 0;
      let header: SnapshotHeader | undefined;
      const rows = { nodes: 0, fields: 0, moves: 0 };
      const started = performance.now();
      let total = 0;
      const res = await fetch(server.url('big'), identity());
      // 25 ms after every MB: a reader of at most 40 MB/s, far slower than Postgres.
      let nextPause = MB;
      const source = chunksOf(res.body!, async (bytes) => {
        total = bytes;
        if (bytes < nextPause) return;
        nextPause += MB;
        paused++;
        await sleep(25);
        if (paused === 20) {
          // With the reader paused, Postgres must be blocked writing to its socket.
          await waitFor('the COPY to block on its socket', async () =>
            (await copies('big')).find((a) => a.wait_event === 'ClientWrite'),
          );
          sawClientWrite = true;
        }
      });
      for await (const event of readSnapshot(source)) {
        if (event.kind === 'header') header = event.header;
        else rows[event.section] += event.rows.length; // counted, not kept
      }
      const seconds = (performance.now() - started) / 1000;
      const after = await server.memory();
      const rssGrowth = (after.peakRss - before.rss) / MB;
      const heapGrowth = (after.peakHeap - before.heap) / MB;
      console.log(
        `[snapshot] slow reader: ${(total / MB).toFixed(1)} MB in ${seconds.toFixed(1)} s with ${paused} pauses; ` +
          `server process peak growth: RSS ${rssGrowth.toFixed(1)} MB (from ${(before.rss / MB).toFixed(0)} MB), ` +
          `heap+external ${heapGrowth.toFixed(1)} MB`,
      );
      expect(header?.counts).toEqual({ nodes: NODES + 2, fields: NODES, moves: NODES });
      expect(rows).toEqual(header?.counts);
      expect(total).toBeGreaterThan(100 * MB); // more than the bound below: buffering would show
      expect(sawClientWrite).toBe(true);
      expect(rssGrowth).toBeLessThan(50);
      await waitFor('the snapshot to finish', () => server.done.length === 2);
      expect(server.done[1]).toMatchObject({ outcome: 'complete', connection: 'reused' });
    } finally {
      await server.stop();
    }
  });

  test.each(['identity', 'gzip'])(
    'closing the connection early ends the query in the database and frees the connection (%s)',
    async (encoding) => {
      const { server, result } = await serve();
      const abort = new AbortController();
      const res = await fetch(server.url('big'), { headers: { 'accept-encoding': encoding }, signal: abort.signal });
      expect(res.headers.get('content-encoding')).toBe(encoding === 'gzip' ? 'gzip' : null);
      // Into the fields (85 MB): their COPY is running, blocked on its socket.
      await readAbout(res.body!.getReader(), 16 * MB);
      await waitFor('the COPY to block', async () => (await copies('big')).length === 1);
      abort.abort();
      await waitFor('the COPY to end in the database', async () => (await copies('big')).length === 0);
      expect(await result(0)).toMatchObject({ outcome: 'aborted', connection: 'reused' });
      expect(snapshotPool.totalCount).toBe(1);
      expect(snapshotPool.idleCount).toBe(1);
      // The pool's one connection works for the next snapshot.
      expect((await readAll((await fetch(server.url('small'), identity())).body!)).header.tree).toBe('small');
    },
  );

  test('pushes committed while it streams are not in it; its seq says where to pull from', async () => {
    const { server, result } = await serve();
    const seqBefore = await treeSeq('big');
    const res = await fetch(server.url('big'), identity());
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Hold the reader inside the fields (after the 9 MB of nodes), so that the rest of the
    // fields and all the moves are read from the database after the push below has committed.
    const source = chunksOf(res.body!, async (bytes) => {
      if (bytes >= 16 * MB) await gate;
    });
    const reading = readAll(source);
    const ts = (i: number) => formatTs(1_800_000_000_000 + i, 0, 'during');
    try {
      await waitFor('a COPY to block', async () => (await copies('big')).some((a) => a.wait_event === 'ClientWrite'));
      const pushed = await applyOps(db, 'big', [
        { ts: ts(1), type: 'move', node: 'fresh', parent: 'ROOT', pos: 'a' },
        { ts: ts(2), type: 'move', node: 'n0000007', parent: 'TRASH', pos: 'a' },
        { ts: ts(3), type: 'move', node: 'n0199999', parent: 'ROOT', pos: 'z' },
        { ts: ts(4), type: 'set', node: 'n0199998', key: 'k1', value: 'changed' },
      ]);
      expect(pushed.seq).toBe(seqBefore + 4);
      expect(await copies('big')).toHaveLength(1); // still streaming
    } finally {
      release();
    }
    const back = await reading;
    expect(back.header.seq).toBe(seqBefore);
    expect(back.nodes.find((n) => n.id === 'fresh')).toBeUndefined();
    expect(back.nodes.find((n) => n.id === 'n0000007')?.parent).toBe('ROOT');
    expect(back.nodes.find((n) => n.id === 'n0199999')?.parent).toBe('n0019999');
    expect(back.fields.find((f) => f.node === 'n0199998')?.value).not.toBe('"changed"');
    expect(back.moves.find((m) => m.ts.endsWith('.during'))).toBeUndefined();
    expect(await result(0)).toMatchObject({ outcome: 'complete' });
    // The next snapshot has them, and its seq.
    const after = await readAll((await fetch(server.url('big'), identity())).body!);
    expect(after.header.seq).toBe(seqBefore + 4);
    expect(after.nodes.find((n) => n.id === 'fresh')?.parent).toBe('ROOT');
    expect(after.moves.filter((m) => m.ts.endsWith('.during'))).toHaveLength(3);
    expect(after.fields.find((f) => f.node === 'n0199998' && f.key === 'k1')?.value).toBe('"changed"');
    await result(1);
  });

  test('a database failure mid-stream reaches the reader as a truncated snapshot', async () => {
    const { server, result } = await serve();
    const res = await fetch(server.url('big'), identity());
    let killed = false;
    const source = chunksOf(res.body!, async () => {
      if (killed) return;
      const [copy] = await copies('big');
      if (!copy) return; // keep reading until a COPY runs
      killed = true;
      await db.query('select pg_terminate_backend($1)', [copy.pid]);
    });
    await expect(readAll(source)).rejects.toMatchObject({ name: 'SnapshotError', code: 'snapshot_truncated' });
    expect(killed).toBe(true);
    expect(await result(0)).toMatchObject({ outcome: 'failed', connection: 'closed' });
    // The pool replaces the lost connection.
    expect((await readAll((await fetch(server.url('small'), identity())).body!)).header.tree).toBe('small');
  });

  test('with every snapshot connection busy, a snapshot is 503 unavailable, not a wait for ever', async () => {
    const busyPool = new pg.Pool({ connectionString: db.url, max: 1, connectionTimeoutMillis: 200 });
    const busy = await serveSnapshots({ snapshotPool: busyPool });
    try {
      const first = await fetch(busy.url('big'), identity());
      expect(first.status).toBe(200); // holds the pool's one connection while unread
      const second = await fetch(busy.url('small'), identity());
      expect(second.status).toBe(503);
      expect(await second.json()).toMatchObject({ error: { code: 'unavailable' } });
      await first.body!.cancel();
    } finally {
      await busy.close();
      await waitFor('the connection to come back', () => busyPool.idleCount === busyPool.totalCount);
      await busyPool.end();
    }
  });

  test('a reader that stalls is cut off after the stall timeout, freeing the connection', async () => {
    const { server, result } = await serve({ snapshot: { stallTimeoutMs: 300 } });
    const res = await fetch(server.url('big'), identity());
    const reader = res.body!.getReader();
    await readAbout(reader, 16 * MB);
    // Stop reading, without closing.
    const stalled = await result(0);
    expect(stalled).toMatchObject({ outcome: 'failed', connection: 'reused' });
    expect(stalled.error?.message).toMatch(/stalled/);
    expect(await copies('big')).toHaveLength(0);
    // What the reader gets from here on ends in an error, not a clean end.
    await expect(readAbout(reader, Infinity)).rejects.toThrow();
  });
});

async function treeSeq(tree: string): Promise<number> {
  const { rows } = await db.query<{ seq: string }>('select seq from treesync.trees where id = $1', [tree]);
  return Number(rows[0]!.seq);
}
