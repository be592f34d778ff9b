/**
 * A persistent replica in a real Chromium: operations applied through the pinned Replica
 * interface in a module worker are there again after the page reloads, read back from OPFS
 * (and, the same way, from IndexedDB); a memory replica is not.
 */
import { describe, expect, test } from 'vitest';
import { move, set, ts } from '../merge/ops.ts';
import { loadTestPage } from './harness.ts';
import { useHarness } from './use-harness.ts';
import { applyIn, closeIn, nodesIn, openIn, storedIn, valuesIn } from './page-replica.ts';

const harness = useHarness();

const OPS = [
  move(ts(1), 'a', 'ROOT', 'a0'),
  move(ts(2), 'b', 'ROOT', 'a1'),
  move(ts(3), 'c', 'a', 'a0'),
  set(ts(4), 'c', 'title', 'kept across a reload'),
  // A move of a onto its own child: skipped, as everywhere.
  move(ts(5), 'a', 'c', 'a0'),
  move(ts(6), 'b', 'TRASH', 'a0'),
];

const EXPECTED_NODES = [
  { id: 'ROOT', parent: null, pos: '' },
  { id: 'TRASH', parent: null, pos: '' },
  { id: 'a', parent: 'ROOT', pos: 'a0' },
  { id: 'b', parent: 'TRASH', pos: 'a0' },
  { id: 'c', parent: 'a', pos: 'a0' },
];

describe.each(['opfs', 'idb'] as const)('a %s replica in Chromium', (storage) => {
  test('holds its operations across a reload, and takes more after it', async () => {
    const name = `reload-${storage}`;
    const page = await harness().openPage();
    try {
      expect(await openIn(page, 'r', { storage, name })).toEqual({ ok: true, storage });
      expect(await applyIn(page, 'r', OPS)).toEqual({ accepted: 6, duplicates: 0, undone: 0, skipped: 1 });
      expect(await nodesIn(page, 'r')).toEqual(EXPECTED_NODES);
      // It lives where it was asked to, and only there.
      const stored = await storedIn(page, name);
      if (storage === 'opfs') {
        expect(stored.opfs.length).toBeGreaterThan(0);
        expect(stored.idb).not.toContain(`treesync-${name}`);
      } else {
        expect(stored.opfs).toEqual([]);
        expect(stored.idb).toContain(`treesync-${name}`);
      }

      await loadTestPage(page);
      expect(await openIn(page, 'r', { storage, name })).toEqual({ ok: true, storage });
      expect(await nodesIn(page, 'r')).toEqual(EXPECTED_NODES);
      expect(await valuesIn(page, 'r')).toEqual([{ node: 'c', key: 'title', value: 'kept across a reload' }]);
      // The move log came back too: the same operations again are duplicates, and a late
      // move is merged under the logged ones.
      expect(await applyIn(page, 'r', OPS)).toEqual({ accepted: 0, duplicates: 6, undone: 0, skipped: 0 });
      const late = await applyIn(page, 'r', [move(ts(0), 'd', 'ROOT', 'a2')]);
      expect(late.accepted).toBe(1);
      expect(late.undone).toBeGreaterThan(0);
      await closeIn(page, 'r');

      // Closed and opened again in the same page: still the same replica.
      expect(await openIn(page, 'r', { storage, name })).toEqual({ ok: true, storage });
      expect((await nodesIn(page, 'r')).map((n) => n.id)).toEqual(['ROOT', 'TRASH', 'a', 'b', 'c', 'd']);
      await closeIn(page, 'r');
    } finally {
      await page.close();
    }
  }, 180_000);

  test('another name is another replica', async () => {
    const page = await harness().openPage();
    try {
      expect(await openIn(page, 'other', { storage, name: `other-${storage}` })).toEqual({ ok: true, storage });
      expect((await nodesIn(page, 'other')).map((n) => n.id)).toEqual(['ROOT', 'TRASH']);
      await closeIn(page, 'other');
    } finally {
      await page.close();
    }
  }, 180_000);
});

test('a memory replica starts empty after a reload', async () => {
  const page = await harness().openPage();
  try {
    expect(await openIn(page, 'm', {})).toEqual({ ok: true, storage: 'memory' });
    await applyIn(page, 'm', OPS);
    expect(await nodesIn(page, 'm')).toEqual(EXPECTED_NODES);
    const stored = await storedIn(page, 'default');
    expect(stored.opfs).toEqual([]);
    expect(stored.idb).not.toContain('treesync-default');
    await loadTestPage(page);
    expect(await openIn(page, 'm', { storage: 'memory' })).toEqual({ ok: true, storage: 'memory' });
    expect((await nodesIn(page, 'm')).map((n) => n.id)).toEqual(['ROOT', 'TRASH']);
  } finally {
    await page.close();
  }
}, 180_000);

test('a bad storage or name is a clear error', async () => {
  const page = await harness().openPage();
  try {
    const badStorage = await openIn(page, 'x', { storage: 'disk' as 'opfs' });
    expect(badStorage).toMatchObject({ ok: false, error: { code: 'invalid_request', message: expect.stringContaining('storage must be one of memory, opfs, idb') } });
    const badName = await openIn(page, 'x', { storage: 'opfs', name: '../etc' });
    expect(badName).toMatchObject({ ok: false, error: { code: 'invalid_request', message: expect.stringContaining('a replica name is') } });
  } finally {
    await page.close();
  }
}, 180_000);
