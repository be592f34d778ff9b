/**
 * Where OPFS's synchronous access handles are missing (the same worker, with the API taken
 * away: page/no-opfs-worker.ts), a request for `opfs` gets IndexedDB, says so, and still
 * keeps the replica across a reload.
 */
import { expect, test } from 'vitest';
import { move, ts } from '../merge/ops.ts';
import { loadTestPage } from './harness.ts';
import { useHarness } from './use-harness.ts';
import { applyIn, closeIn, nodesIn, openIn, storedIn } from './page-replica.ts';

const harness = useHarness();

test('opfs falls back to idb where OPFS is missing', async () => {
  const page = await harness().openPage();
  try {
    expect(await openIn(page, 'r', { storage: 'opfs', name: 'fallback' }, true)).toEqual({ ok: true, storage: 'idb' });
    await applyIn(page, 'r', [move(ts(1), 'a', 'ROOT', 'a0')]);
    const stored = await storedIn(page, 'fallback');
    expect(stored.opfs).toEqual([]);
    expect(stored.idb).toContain('treesync-fallback');

    await loadTestPage(page);
    expect(await openIn(page, 'r', { storage: 'opfs', name: 'fallback' }, true)).toEqual({ ok: true, storage: 'idb' });
    expect((await nodesIn(page, 'r')).map((n) => n.id)).toEqual(['ROOT', 'TRASH', 'a']);
    await closeIn(page, 'r');
  } finally {
    await page.close();
  }
}, 180_000);
