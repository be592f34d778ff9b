/**
 * A persistent replica bootstrapped in Chromium from a real server and a real Postgres: the
 * snapshot streamed into OPFS (and IndexedDB) gives exactly the server's GET /state, and after
 * a reload the replica still holds it, with its seq, without fetching it again. The stream is
 * read by the feed worker the replica's worker starts (a nested module worker).
 */
import { describe, expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { stateResponseSchema } from '../../protocol/state.ts';
import { move, set, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from '../server/harness.ts';
import { loadTestPage } from './harness.ts';
import { callIn, closeIn, nodesIn, openIn, valuesIn } from './page-replica.ts';
import { useHarness } from './use-harness.ts';

const db = useTestDb();
const NOW = 1_732_212_345_000 + 3_600_000;
const server = useTestServer(db, { clock: { now: () => NOW } });
// Registered after the server's hooks: its URL exists when the harness starts.
const harness = useHarness(() => server.url);

const NODES = 3_000;

async function buildTree(tree: string, token: string): Promise<void> {
  expect((await server.call('PUT', `/v1/trees/${tree}`, { token, body: {} })).status).toBeLessThan(300);
  const ops: Op[] = [];
  for (let i = 0; i < NODES; i++) ops.push(move(ts(1000 + i, 'alice'), `n${i}`, i < 20 ? 'ROOT' : `n${(i * 7) % i}`, `p${i % 9}`));
  for (let i = 0; i < 300; i++) ops.push(set(ts(5000 + i, 'alice'), `n${i}`, 'title', { i, text: `nœud ${i}` }));
  ops.push(move(ts(6000, 'alice'), 'n7', 'TRASH', 'a'));
  for (let from = 0; from < ops.length; from += 500) {
    const batch = ops.slice(from, from + 500);
    const res = await server.call('POST', `/v1/trees/${tree}/push`, { token, body: { replica: 'alice', seen: 0, floor: batch[0]!.ts, ops: batch } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
}

describe.each(['opfs', 'idb'] as const)('%s', (storage) => {
  test('a bootstrapped replica equals GET /state, and still does after a reload', async () => {
    const token = await server.token();
    const tree = `boot-${storage}`;
    await buildTree(tree, token);
    const expected = stateResponseSchema.parse((await server.call('GET', `/v1/trees/${tree}/state`, { token })).body);
    expect(expected.nodes).toHaveLength(NODES + 2);

    const page = await harness().openPage();
    try {
      expect(await openIn(page, 'r', { storage, name: tree })).toEqual({ ok: true, storage });
      const url = harness().url.replace(/\/$/, '');
      const loaded = await callIn<{ tree: string; seq: number; rows: number }>(page, 'r', 'bootstrap', { url, tree, token });
      expect(loaded).toMatchObject({ tree, seq: expected.seq });
      // Again: by now the module worker the replica's worker started is up, and fetches and parses.
      const again = await callIn<{ tree: string; seq: number; feedThread: boolean }>(page, 'r', 'bootstrap', { url, tree, token });
      expect(again).toMatchObject({ tree, seq: expected.seq, feedThread: true });
      expect(await nodesIn(page, 'r')).toEqual(expected.nodes);
      expect(await valuesIn(page, 'r')).toEqual(expected.values);

      await loadTestPage(page);
      expect(await openIn(page, 'r', { storage, name: tree })).toEqual({ ok: true, storage });
      expect(await callIn<number | null>(page, 'r', 'seq')).toBe(expected.seq);
      expect(await nodesIn(page, 'r')).toEqual(expected.nodes);
      expect(await valuesIn(page, 'r')).toEqual(expected.values);
      await closeIn(page, 'r');
    } finally {
      await page.close();
    }
  }, 240_000);
});
