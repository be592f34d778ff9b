/**
 * Local edits in a persistent replica outlive the page: after a reload the replica has the
 * same id, its outbox still holds every unacknowledged edit in order, and new edits stamp
 * timestamps after the old ones (the clock came back too).
 */
import { describe, expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { loadTestPage } from './harness.ts';
import { useHarness } from './use-harness.ts';
import { callIn, closeIn, openIn } from './page-replica.ts';

const harness = useHarness();

type Child = { id: string; pos: string; fields: Record<string, unknown> };

describe.each(['opfs', 'idb'] as const)('%s', (storage) => {
  test('edits made before a reload are still in the outbox after it, and the clock goes on', async () => {
    const name = `edits-${storage}`;
    const page = await harness().openPage();
    try {
      expect(await openIn(page, 'r', { storage, name })).toEqual({ ok: true, storage });
      const replica = await callIn<string>(page, 'r', 'replicaId');
      const first = await callIn<string>(page, 'r', 'create', 'ROOT', { fields: { title: 'written offline' } });
      const second = await callIn<string>(page, 'r', 'create', 'ROOT');
      await callIn(page, 'r', 'move', second, first);
      const before = await callIn<Op[]>(page, 'r', 'outbox');
      expect(before.length).toBeGreaterThanOrEqual(3);

      await loadTestPage(page);
      expect(await openIn(page, 'r', { storage, name })).toEqual({ ok: true, storage });
      expect(await callIn<string>(page, 'r', 'replicaId')).toBe(replica);
      expect(await callIn<Op[]>(page, 'r', 'outbox')).toEqual(before);
      const roots = await callIn<Child[]>(page, 'r', 'children', 'ROOT');
      expect(roots).toEqual([{ id: first, pos: expect.any(String), fields: { title: 'written offline' } }]);
      expect((await callIn<Child[]>(page, 'r', 'children', first)).map((c) => c.id)).toEqual([second]);

      await callIn(page, 'r', 'set', first, 'title', 'after the reload');
      const after = await callIn<Op[]>(page, 'r', 'outbox');
      expect(after.slice(0, before.length)).toEqual(before);
      expect(after).toHaveLength(before.length + 1);
      expect(after.at(-1)!.ts > before.at(-1)!.ts).toBe(true);
      await closeIn(page, 'r');
    } finally {
      await page.close();
    }
  }, 180_000);
});
