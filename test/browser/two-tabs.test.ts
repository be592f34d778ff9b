/**
 * Two tabs of one origin and one persistent replica: the first to open it owns it (a Web
 * Lock), a second gets a clear error and changes nothing, and takes it over once the owner
 * closes it or its tab goes away. Different replicas open side by side.
 */
import { describe, expect, test } from 'vitest';
import { move, set, ts } from '../merge/ops.ts';
import { useHarness } from './use-harness.ts';
import { applyIn, closeIn, nodesIn, openIn, valuesIn } from './page-replica.ts';

const harness = useHarness();

const OPS = [move(ts(1), 'a', 'ROOT', 'a0'), set(ts(2), 'a', 'title', 'first tab')];

describe.each(['opfs', 'idb'] as const)('%s', (storage) => {
  test('a second tab is refused while the first owns the replica, then takes it over', async () => {
    const name = `tabs-${storage}`;
    const first = await harness().openPage();
    const second = await harness().openPage();
    try {
      expect(await openIn(first, 'r', { storage, name })).toEqual({ ok: true, storage });
      await applyIn(first, 'r', OPS);

      const refused = await openIn(second, 'r', { storage, name, lockWaitMs: 300 });
      expect(refused).toEqual({
        ok: false,
        error: {
          name: 'TreesyncError',
          code: 'unavailable',
          reason: 'replica_in_use',
          message: `the replica "${name}" is open in another tab or worker of this origin (waited 300 ms); close it there, or talk to it through that tab`,
        },
      });

      // The owner goes on, untouched by the attempt.
      await applyIn(first, 'r', [move(ts(3), 'b', 'a', 'a0')]);
      expect((await nodesIn(first, 'r')).map((n) => n.id)).toEqual(['ROOT', 'TRASH', 'a', 'b']);

      // Once the owner closes it, the second tab opens the same replica.
      await closeIn(first, 'r');
      expect(await openIn(second, 'r', { storage, name })).toEqual({ ok: true, storage });
      expect((await nodesIn(second, 'r')).map((n) => n.id)).toEqual(['ROOT', 'TRASH', 'a', 'b']);
      expect(await valuesIn(second, 'r')).toEqual([{ node: 'a', key: 'title', value: 'first tab' }]);

      // And now the first tab is the one refused.
      expect(await openIn(first, 'r', { storage, name, lockWaitMs: 300 })).toMatchObject({ ok: false, error: { code: 'unavailable', reason: 'replica_in_use' } });
      await closeIn(second, 'r');
    } finally {
      await first.close();
      await second.close();
    }
  }, 180_000);

  test('a tab that goes away without closing lets go of the replica', async () => {
    const name = `gone-${storage}`;
    const first = await harness().openPage();
    const second = await harness().openPage();
    try {
      expect(await openIn(first, 'r', { storage, name })).toEqual({ ok: true, storage });
      await applyIn(first, 'r', OPS);
      await first.close();
      // Its worker ends with it and the browser releases its lock; the default wait covers
      // the moment that takes.
      expect(await openIn(second, 'r', { storage, name })).toEqual({ ok: true, storage });
      expect(await valuesIn(second, 'r')).toEqual([{ node: 'a', key: 'title', value: 'first tab' }]);
      await closeIn(second, 'r');
    } finally {
      await first.close();
      await second.close();
    }
  }, 180_000);
});

test('a waiting tab gets the replica when the owner closes it within the wait', async () => {
  const name = 'handover';
  const first = await harness().openPage();
  const second = await harness().openPage();
  try {
    expect(await openIn(first, 'r', { storage: 'opfs', name })).toEqual({ ok: true, storage: 'opfs' });
    await applyIn(first, 'r', OPS);
    const waiting = openIn(second, 'r', { storage: 'opfs', name, lockWaitMs: 30_000 });
    await closeIn(first, 'r');
    expect(await waiting).toEqual({ ok: true, storage: 'opfs' });
    expect((await nodesIn(second, 'r')).map((n) => n.id)).toEqual(['ROOT', 'TRASH', 'a']);
    await closeIn(second, 'r');
  } finally {
    await first.close();
    await second.close();
  }
}, 180_000);

test('two replicas of different names open in two tabs at once', async () => {
  const first = await harness().openPage();
  const second = await harness().openPage();
  try {
    expect(await openIn(first, 'r', { storage: 'opfs', name: 'tree-one' })).toEqual({ ok: true, storage: 'opfs' });
    expect(await openIn(second, 'r', { storage: 'opfs', name: 'tree-two' })).toEqual({ ok: true, storage: 'opfs' });
    await applyIn(first, 'r', OPS);
    expect((await nodesIn(first, 'r')).map((n) => n.id)).toEqual(['ROOT', 'TRASH', 'a']);
    expect((await nodesIn(second, 'r')).map((n) => n.id)).toEqual(['ROOT', 'TRASH']);
    await closeIn(first, 'r');
    await closeIn(second, 'r');
  } finally {
    await first.close();
    await second.close();
  }
}, 180_000);
