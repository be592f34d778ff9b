// Truncation, snapshots from F, registration with the snapshot and purge, through a real
// server over HTTP: what a replica sees of the log's lifecycle.
import { beforeAll, describe, expect, test } from 'vitest';
import { readSnapshot } from '../../client/snapshot-reader.ts';
import type { Op } from '../../protocol/ops.ts';
import type { SectionRows, SnapshotHeader } from '../../protocol/snapshot-format.ts';
import { stateResponseSchema } from '../../protocol/state.ts';
import { purgeTree } from '../../server/lifecycle/purge-tree.ts';
import { truncateTree } from '../../server/lifecycle/truncate-tree.ts';
import { applyOps, readTree, treeProblems } from '../merge/pg-tree.ts';
import { move, set, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from '../server/harness.ts';

const db = useTestDb();
const NOW = 1_732_212_345_000 + 3_600_000;
const server = useTestServer(db, { clock: { now: () => NOW } });
let token: string;

beforeAll(async () => {
  token = await server.token();
});

async function createTree(tree: string) {
  expect((await server.call('PUT', `/v1/trees/${tree}`, { token, body: {} })).status).toBe(201);
}
async function push(tree: string, replica: string, seen: number, ops: Op[], floor = ops[0]?.ts ?? ts(0, replica)) {
  return server.call('POST', `/v1/trees/${tree}/push`, { token, body: { replica, seen, floor, ops } });
}
async function pull(tree: string, since: number, replica?: string, floor?: string) {
  const who = replica === undefined ? '' : `&replica=${replica}&floor=${floor}`;
  return server.call('GET', `/v1/trees/${tree}/pull?since=${since}${who}`, { token });
}
async function seqOf(tree: string): Promise<number> {
  return (await server.call('GET', `/v1/trees/${tree}`, { token })).body.seq;
}
async function fetchSnapshot(tree: string, query = '', auth = token) {
  const res = await fetch(`${server.url}/v1/trees/${tree}/snapshot${query}`, {
    headers: { authorization: `Bearer ${auth}`, 'accept-encoding': 'identity' },
  });
  if (res.status !== 200) return { status: res.status, body: await res.json() };
  const bytes = new Uint8Array(await res.arrayBuffer());
  // The header JSON as sent (magic, version, length, JSON): the reader keeps only the keys it
  // knows, and `frontier` is newer than it.
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(10);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(14, 14 + length))) as SnapshotHeader;
  const rows: { [S in keyof SectionRows]: SectionRows[S][] } = { nodes: [], fields: [], moves: [] };
  for await (const event of readSnapshot((async function* () {
    yield bytes;
  })())) {
    if (event.kind === 'rows') (rows[event.section] as unknown[]).push(...event.rows);
  }
  return { status: 200, frontierHeader: res.headers.get('x-treesync-frontier'), header, rows };
}
const count = async (sql: string, params: unknown[]) => Number((await db.query(sql, params)).rows[0].n);

describe('truncation seen over HTTP', () => {
  test('log rows and ops below F go; a pull from before what is kept answers reset, a push is refused', async () => {
    await createTree('tr');
    const alice = Array.from({ length: 20 }, (_, i) => move(ts(1 + i, 'alice'), `n${i}`, i < 5 ? 'ROOT' : `n${i % 5}`));
    expect((await push('tr', 'alice', 0, alice)).status).toBe(200);
    expect((await push('tr', 'bob', 20, [move(ts(30, 'bob'), 'n7', 'TRASH'), set(ts(31, 'bob'), 'n1', 'k', 1)])).status).toBe(200);
    const seq = await seqOf('tr');
    expect((await pull('tr', seq, 'alice', ts(1000, 'alice'))).body.frontier).toBe(ts(30, 'bob'));
    expect((await pull('tr', seq, 'bob', ts(1000, 'bob'))).body.frontier).toBe(ts(1000, 'alice'));

    const r = await truncateTree(db.pool, 'tr', 7);
    expect(r).toMatchObject({ frontier: ts(1000, 'alice'), moves: 21, ops: 22, keptSeq: seq });
    expect(r.batches).toBeGreaterThan(3);
    expect(await count('select count(*) as n from treesync.moves where tree = $1', ['tr'])).toBe(0);
    expect(await count('select count(*) as n from treesync.ops where tree = $1', ['tr'])).toBe(0);

    expect((await pull('tr', 0)).body).toEqual({ reset: true, seq });
    expect((await pull('tr', seq - 1, 'alice', ts(1000, 'alice'))).body).toEqual({ reset: true, seq });
    expect((await pull('tr', seq)).body).toEqual({ seq, ops: [], more: false, frontier: ts(1000, 'alice') });
    const refused = await push('tr', 'bob', 3, [move(ts(2000, 'bob'), 'x', 'ROOT')]);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: 'reset_required', seq } });
    expect(await seqOf('tr')).toBe(seq);
    // The tree itself is whole, and what a replica at the top pushes merges as ever.
    const ok = await push('tr', 'bob', seq, [move(ts(2000, 'bob'), 'x', 'n1')], ts(2000, 'bob'));
    expect(ok.body).toMatchObject({ seq: seq + 1, accepted: 1, frontier: ts(1000, 'alice') });
    expect(await treeProblems(db, 'tr')).toEqual([]);
  });

  test('operations a replica has not pulled yet are kept for it', async () => {
    await createTree('slow');
    expect((await push('slow', 'alice', 0, [move(ts(1, 'alice'), 'a', 'ROOT'), move(ts(2, 'alice'), 'b', 'ROOT')])).status).toBe(200);
    await pull('slow', 2, 'alice', ts(100, 'alice'));
    await pull('slow', 1, 'bob', ts(100, 'bob')); // bob has applied seq 1 only
    const r = await truncateTree(db.pool, 'slow');
    expect(r).toMatchObject({ moves: 2, ops: 1, keptSeq: 1 });
    const page = await pull('slow', 1, 'bob', ts(100, 'bob'));
    expect(page.body.ops).toEqual([{ ...move(ts(2, 'alice'), 'b', 'ROOT'), seq: 2 }]);
  });
});

describe('snapshots from F', () => {
  test('carry the log from F on, say F, and a replica loaded from one takes every operation that can still arrive', async () => {
    await createTree('boot');
    // alice builds and reshapes a tree; carol, seen since, holds F at her floor.
    const ops: Op[] = [];
    for (let i = 0; i < 60; i++) {
      const at = ts(10 * i, 'alice');
      ops.push(i < 12 ? move(at, `n${i}`, 'ROOT', `p${i}`) : move(at, `n${i % 12}`, `n${(i * 5) % 12}`, `q${i}`));
      if (i % 7 === 0) ops.push(set(ts(10 * i + 1, 'alice'), `n${i % 12}`, 'text', `v${i}`));
    }
    expect((await push('boot', 'alice', 0, ops)).status).toBe(200);
    await pull('boot', 0, 'carol', ts(300, 'carol'));
    await pull('boot', ops.length, 'alice', ts(700, 'alice'));
    const cut = await truncateTree(db.pool, 'boot');
    expect(cut.frontier).toBe(ts(300, 'carol'));
    expect(cut.moves).toBeGreaterThan(0);

    const snap = await fetchSnapshot('boot');
    expect(snap.header!.frontier).toBe(ts(300, 'carol'));
    expect(snap.frontierHeader).toBe(ts(300, 'carol'));
    const F = ts(300, 'carol');
    expect(snap.rows!.moves.length).toBeGreaterThan(0);
    expect(snap.rows!.moves.every((m) => m.ts >= F)).toBe(true);
    expect(snap.header!.counts.moves).toBe(snap.rows!.moves.length);

    // A replica made from nothing but the snapshot, merged by the same algorithm as the server:
    // a tree of its own in Postgres, its log starting at F.
    await db.query('select treesync.create_tree($1)', ['boot-replica']);
    await db.query(`delete from treesync.nodes where tree = 'boot-replica'`);
    for (const n of snap.rows!.nodes) {
      await db.query('insert into treesync.nodes (tree, id, parent, pos) values ($1, $2, $3, $4)', ['boot-replica', n.id, n.parent, n.pos]);
    }
    for (const f of snap.rows!.fields) {
      await db.query('insert into treesync.fields (tree, node, key, value, ts) values ($1, $2, $3, $4::jsonb, $5)', ['boot-replica', f.node, f.key, f.value, f.ts]);
    }
    for (const m of snap.rows!.moves) {
      await db.query(
        `insert into treesync.moves (tree, ts, node, parent, pos, old_parent, old_pos, applied)
         values ($1, $2, $3, $4, $5, $6, $7, $8)`,
        ['boot-replica', m.ts, m.node, m.parent, m.pos, m.old_parent, m.old_pos, m.applied],
      );
    }
    await db.query(`update treesync.trees set log_from = $2, newest_ts = $3 where id = $1`, ['boot-replica', F, ts(700, 'alice')]);

    // carol's edits, made offline at or after F but before much of alice's work: they undo and
    // redo the log from F on, on the server and on the replica.
    const late: Op[] = [
      move(ts(300, 'carol'), 'n3', 'n9', 'c1'),
      move(ts(305, 'carol'), 'c-new', 'n4', 'c2'),
      move(ts(420, 'carol'), 'n9', 'n3', 'c3'),
      set(ts(430, 'carol'), 'n3', 'text', 'carol'),
      move(ts(510, 'carol'), 'n0', 'TRASH'),
    ];
    const res = await push('boot', 'carol', snap.header!.seq, late);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    await applyOps(db, 'boot-replica', late);
    expect(await readTree(db, 'boot-replica')).toEqual(await readTree(db, 'boot'));
    expect(await treeProblems(db, 'boot')).toEqual([]);
    // And something older than F is refused by both.
    expect((await push('boot', 'carol', res.body.seq, [move(ts(299, 'carol'), 'z', 'ROOT')])).body).toMatchObject({ error: { code: 'stale_ops' } });
  });

  test('a new replica registers its floor with its snapshot, so its first edits are never stale', async () => {
    // The same history on two trees: dave registers with his snapshot on one, erin bootstraps
    // without registering on the other; then alice moves on and truncation runs.
    const bootstrap = async (tree: string, query: string) => {
      await createTree(tree);
      expect((await push(tree, 'alice', 0, [move(ts(10, 'alice'), 'a', 'ROOT')])).status).toBe(200);
      await pull(tree, 1, 'alice', ts(100, 'alice'));
      const snap = await fetchSnapshot(tree, query);
      expect(snap.status).toBe(200);
      await pull(tree, 1, 'alice', ts(5000, 'alice'));
      await truncateTree(db.pool, tree);
      return snap;
    };
    const dave = await bootstrap('reg', `?replica=dave&floor=${ts(150, 'dave')}`);
    expect(dave.header!.frontier).toBe(ts(100, 'alice')); // read after dave's floor was noted
    const row = (await db.query(`select floor, pulled from treesync.replicas where tree = 'reg' and replica = 'dave'`)).rows[0];
    expect(row).toEqual({ floor: ts(150, 'dave'), pulled: String(dave.header!.seq) });
    const edit = await push('reg', 'dave', dave.header!.seq, [move(ts(160, 'dave'), 'd', 'a')]);
    expect(edit.status, JSON.stringify(edit.body)).toBe(200);

    const erin = await bootstrap('reg-unregistered', '');
    const stale = await push('reg-unregistered', 'erin', erin.header!.seq, [move(ts(160, 'erin'), 'e', 'a')]);
    expect(stale.body).toMatchObject({ error: { code: 'stale_ops' } });
  });

  test('a bad registration is refused before anything is read or recorded', async () => {
    await createTree('reg-bad');
    const half = await fetchSnapshot('reg-bad', '?replica=dave');
    expect(half).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    const badFloor = await fetchSnapshot('reg-bad', '?replica=dave&floor=yesterday');
    expect(badFloor).toMatchObject({ status: 400 });
    const mine = await fetchSnapshot('reg-bad', `?replica=dave&floor=${ts(1, 'dave')}`);
    expect(mine.status).toBe(200);
    const other = await fetchSnapshot('reg-bad', `?replica=dave&floor=${ts(1, 'dave')}`, await server.token({ sub: 'mallory' }));
    expect(other).toMatchObject({ status: 403 });
    const missing = await fetchSnapshot('nope', `?replica=dave&floor=${ts(1, 'dave')}`);
    expect(missing).toMatchObject({ status: 404 });
    expect(await count(`select count(*) as n from treesync.replicas where tree in ('reg-bad', 'nope')`, [])).toBe(1);
  });
});

describe('purge', () => {
  test('removes old trashed subtrees whole, leaves no orphan, and replicas converge by a reset', async () => {
    await createTree('pu');
    const ops: Op[] = [
      move(ts(1, 'alice'), 'f', 'ROOT'),
      move(ts(2, 'alice'), 'a', 'f'),
      move(ts(3, 'alice'), 'b', 'a'),
      move(ts(4, 'alice'), 'h', 'ROOT'),
      move(ts(5, 'alice'), 'hc', 'h'),
      move(ts(6, 'alice'), 'keep', 'ROOT'),
      set(ts(7, 'alice'), 'f', 'title', 'F'),
      set(ts(8, 'alice'), 'b', 'title', 'B'),
      set(ts(9, 'alice'), 'keep', 'title', 'K'),
      move(ts(20, 'alice'), 'f', 'TRASH'),
      move(ts(21, 'alice'), 'h', 'TRASH'),
    ];
    expect((await push('pu', 'alice', 0, ops)).status).toBe(200);
    await pull('pu', ops.length, 'alice', ts(100, 'alice'));
    // Something at or above F still touches h's subtree: h must stay.
    expect((await push('pu', 'alice', ops.length, [set(ts(200, 'alice'), 'hc', 'title', 'late')])).status).toBe(200);
    await truncateTree(db.pool, 'pu'); // f's log rows go first: its delete time is kept aside
    const seq = await seqOf('pu');

    const r = await purgeTree(db.pool, 'pu');
    expect(r).toMatchObject({ purged: 1, nodes: 3, fields: 2, keptSeq: seq });
    const state = stateResponseSchema.parse((await server.call('GET', '/v1/trees/pu/state', { token })).body);
    expect(state.nodes.map((n) => n.id)).toEqual(['ROOT', 'TRASH', 'h', 'hc', 'keep']);
    const orphans = await count(
      `select (select count(*) from treesync.fields f where f.tree = $1
                 and not exists (select from treesync.nodes n where n.tree = f.tree and n.id = f.node))
            + (select count(*) from treesync.moves l where l.tree = $1
                 and not exists (select from treesync.nodes n where n.tree = l.tree and n.id = l.node))
            + (select count(*) from treesync.trash_times t where t.tree = $1
                 and not exists (select from treesync.nodes n where n.tree = t.tree and n.id = t.node)) as n`,
      ['pu'],
    );
    expect(orphans).toBe(0);
    expect(await treeProblems(db, 'pu')).toEqual([]);

    // Every replica from before the purge bootstraps again, and gets the purged tree.
    expect((await pull('pu', seq - 1)).body).toEqual({ reset: true, seq });
    expect((await push('pu', 'alice', seq - 1, [])).status).toBe(409);
    const snap = await fetchSnapshot('pu');
    expect(snap.rows!.nodes).toEqual(state.nodes);
    expect(snap.rows!.fields.map((f) => f.node).sort()).toEqual(['hc', 'keep']);
    // Nothing left to purge: a second run changes nothing and resets nobody.
    expect(await purgeTree(db.pool, 'pu')).toMatchObject({ purged: 0, keptSeq: null });
    expect((await pull('pu', seq)).body).toMatchObject({ seq, ops: [] });
  });
});
