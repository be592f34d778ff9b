// Bootstrap: a snapshot served by a real server from a real Postgres tree, loaded into the
// replica (the real worker), gives exactly GET /state; the same tree built by applying its
// operations gives the same replica; a stream cut anywhere, or corrupt, is refused and the
// replica keeps what it had.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openLocalReplica, type LocalReplica } from '../../client/index.ts';
import type { Op } from '../../protocol/ops.ts';
import { stateResponseSchema } from '../../protocol/state.ts';
import { move, set, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from '../server/harness.ts';

const db = useTestDb();
const NOW = 1_732_212_345_000 + 3_600_000;
const server = useTestServer(db, { clock: { now: () => NOW } });
let token: string;
let replica: LocalReplica;
const pushed: Op[] = [];

async function push(tree: string, replicaId: string, ops: Op[]) {
  const res = await server.call('POST', `/v1/trees/${tree}/push`, {
    token,
    body: { replica: replicaId, seen: 0, floor: ops.map((o) => o.ts).sort()[0], ops },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  pushed.push(...ops);
}

async function state(tree: string) {
  return stateResponseSchema.parse((await server.call('GET', `/v1/trees/${tree}/state`, { token })).body);
}

async function snapshotBytes(tree: string): Promise<Uint8Array> {
  const res = await fetch(`${server.url}/v1/trees/${tree}/snapshot`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

/** A server on a real socket that answers every request with `bytes`, then ends the answer
 * (`end`) or breaks the connection (`destroy`). */
async function serveBytes(bytes: Uint8Array, how: 'end' | 'destroy'): Promise<{ url: string; close(): Promise<void> }> {
  const s = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/vnd.treesync.snapshot' });
    res.write(bytes, () => {
      if (how === 'end') res.end();
      else res.socket?.destroy();
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => s.close(() => resolve())),
  };
}

/** Every op of `tree`, pulled page by page, in the wire's op form. */
async function serverOps(tree: string): Promise<Op[]> {
  const ops: Op[] = [];
  for (let since = 0; ; ) {
    const res = await server.call('GET', `/v1/trees/${tree}/pull?since=${since}&limit=1000`, { token });
    expect(res.status).toBe(200);
    const page = res.body as { seq: number; more: boolean; ops: Array<Op & { seq: number }> };
    for (const { seq: _seq, ...op } of page.ops) ops.push(op as Op);
    since = page.ops.at(-1)?.seq ?? page.seq;
    if (!page.more) return ops;
  }
}

async function everything(r: LocalReplica) {
  return { nodes: await r.nodes(), fields: await r.fields(), moves: await r.moveLog(), seq: await r.seq() };
}

beforeAll(async () => {
  token = await server.token();
  replica = await openLocalReplica({ replica: 'reader' });
  await server.call('PUT', '/v1/trees/t', { token, body: {} });
  // Replicas seen before alice pushes: their floors hold the frontier back for their late ops.
  for (const r of ['bob', 'carol', 'dave']) await server.call('GET', `/v1/trees/t/pull?since=0&replica=${r}&floor=${ts(0, r)}`, { token });
  const ops: Op[] = [];
  for (let i = 0; i < 600; i++) ops.push(move(ts(1000 + i, 'alice'), `n${i}`, i < 10 ? 'ROOT' : `n${(i * 7) % i}`, `p${i % 5}`));
  for (let i = 0; i < 80; i++) ops.push(set(ts(2000 + i, 'alice'), `n${i}`, 'text', { i, s: `ünïcode ${i}`, big: 1e21 }));
  await push('t', 'alice', ops);
  // A late branch (undo and redo), deletes, and a removed field.
  await push('t', 'bob', [move(ts(500, 'bob'), 'late', 'ROOT', 'z'), move(ts(1500, 'bob'), 'n3', 'TRASH'), set(ts(3000, 'bob'), 'n1', 'text', null)]);
});
afterAll(() => replica.close());

describe('bootstrap', () => {
  test('a snapshot loaded into the replica gives exactly GET /state, and its seq', async () => {
    const progress: Array<{ rows: number; totalRows: number; done: boolean }> = [];
    const result = await replica.bootstrap({ url: server.url, tree: 't', token }, (p) => progress.push(p));
    const expected = await state('t');
    expect(result).toMatchObject({ tree: 't', seq: expected.seq });
    expect(await replica.seq()).toBe(expected.seq);
    expect(await replica.nodes()).toEqual(expected.nodes);
    expect(await replica.values()).toEqual(expected.values);
    // Progress: rows only grow, toward the header's total, and the last event says done.
    await expect.poll(() => progress.at(-1)?.done).toBe(true);
    const rows = progress.map((p) => p.rows);
    expect([...rows].sort((a, b) => a - b)).toEqual(rows);
    expect(progress.at(-1)).toMatchObject({ rows: result.rows, totalRows: result.rows, done: true });
    // The first bootstrap started the feed thread (snapshot-feed.ts) and, not waiting for it,
    // loaded in one thread; the next one is fetched and parsed by it: the same replica.
    expect(await replica.bootstrap({ url: server.url, tree: 't', token })).toMatchObject({ seq: expected.seq, rows: result.rows, feedThread: true });
    expect(await replica.nodes()).toEqual(expected.nodes);
    expect(await replica.values()).toEqual(expected.values);
  });

  test('the same tree built by applying its operations gives the same replica', async () => {
    const built = await openLocalReplica();
    try {
      // Every op the server holds: what was pushed, and the restore it made (bob deleted n3
      // without having seen alice's edits inside it: docs/deletes.md).
      const held = await serverOps('t');
      expect(held.length).toBeGreaterThan(pushed.length);
      await built.apply(held);
      expect(await built.nodes()).toEqual(await replica.nodes());
      expect(await built.fields()).toEqual(await replica.fields());
      // The snapshot's log starts at the stability frontier; from there on the logs agree.
      const loaded = await replica.moveLog();
      expect((await built.moveLog()).filter((m) => m.ts >= loaded[0]!.ts)).toEqual(loaded);
    } finally {
      await built.close();
    }
  });

  test('the merge goes on from a loaded replica as from the server: the same rows', async () => {
    const next = [move(ts(900, 'carol'), 'n5', 'n7', 'k'), move(ts(4000, 'carol'), 'n20', 'ROOT', 'k'), set(ts(4001, 'carol'), 'n20', 'x', [1])];
    await replica.apply(next);
    await push('t', 'carol', next);
    const expected = await state('t');
    expect(await replica.nodes()).toEqual(expected.nodes);
    expect(await replica.values()).toEqual(expected.values);
  });

  test('a stream cut at any of many offsets, or corrupt, is refused; the replica keeps its state', async () => {
    await replica.bootstrap({ url: server.url, tree: 't', token });
    const before = await everything(replica);
    await push('t', 'dave', [move(ts(5000, 'dave'), 'd1', 'ROOT', 'a'), set(ts(5001, 'dave'), 'd1', 'text', 'new')]);
    const bytes = await snapshotBytes('t');
    // Offsets in the preamble, the header, each section and just before the end, and random ones.
    let seed = 7;
    const random = Array.from({ length: 12 }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % bytes.length);
    const cuts = [0, 5, 13, 20, 60, Math.floor(bytes.length / 3), Math.floor(bytes.length / 2), bytes.length - 2, bytes.length - 1, ...random];
    const bad: Array<[string, Uint8Array, 'end' | 'destroy']> = cuts.flatMap((cut): Array<[string, Uint8Array, 'end' | 'destroy']> => [
      [`cut at ${cut}`, bytes.slice(0, cut), 'end'],
      [`connection broken at ${cut}`, bytes.slice(0, cut), 'destroy'],
    ]);
    bad.push(['bytes after the end', Uint8Array.from([...bytes, 0x5a]), 'end']);
    const damaged = bytes.slice();
    damaged[1] = 0x00;
    bad.push(['damaged magic', damaged, 'end']);
    for (const [name, body, how] of bad) {
      const fake = await serveBytes(body, how);
      try {
        const err = await replica.bootstrap({ url: fake.url, tree: 't' }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, name).toBeInstanceOf(Error);
        if (how === 'end') expect((err as { code?: string }).code, name).toMatch(/^snapshot_(truncated|invalid)$/);
        expect(await everything(replica), name).toEqual(before);
      } finally {
        await fake.close();
      }
    }
    // The whole stream loads.
    await replica.bootstrap({ url: server.url, tree: 't', token });
    expect(await replica.nodes()).toEqual((await state('t')).nodes);
  }, 120_000);

  test('an error answer is refused with its code and changes nothing', async () => {
    const before = await everything(replica);
    await expect(replica.bootstrap({ url: server.url, tree: 'no-such-tree', token })).rejects.toMatchObject({ code: 'tree_not_found' });
    await expect(replica.bootstrap({ url: server.url, tree: 't' })).rejects.toMatchObject({ code: 'unauthorized' });
    expect(await everything(replica)).toEqual(before);
  });

  test('local ops not yet acknowledged survive a bootstrap', async () => {
    const id = await replica.create('ROOT', { fields: { text: 'mine' } });
    await replica.bootstrap({ url: server.url, tree: 't', token, compression: false });
    expect((await replica.nodes()).find((n) => n.id === id)?.parent).toBe('ROOT');
    expect(await replica.values()).toContainEqual({ node: id, key: 'text', value: 'mine' });
  });
});
