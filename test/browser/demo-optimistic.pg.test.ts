/**
 * The demo outliner draws an edit at once, from the TreeClient's `pending` event, and then
 * follows the replica: in a real Chromium against a real server and Postgres, an edit made
 * through `window.tree` is in the page's DOM before the call returns (the same task, so the
 * next frame paints it), and once settled the page shows what the replica holds. A move the
 * replica refuses — a cycle with another device's move that the replica has merged but the page
 * has not drawn yet — is drawn, then taken back to the replica's tree, and the page says why.
 */
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { stateResponseSchema } from '../../protocol/state.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from '../server/harness.ts';
import { openDemo, serverOutline, shownOutline, syncIn, useDemo } from './demo-page.ts';

const db = useTestDb();
const server = useTestServer(db, { env: { TREESYNC_CORS_ORIGINS: 'loopback' } });
const demo = useDemo(() => server.url);

const SETTLE = { timeout: 60_000, interval: 200 };

async function open(device: 0 | 1, tree: string): Promise<Page> {
  const { page, browsers } = demo();
  return openDemo(browsers[device].context, page.url, { tree, server: server.url, token: await server.token() });
}

async function serverState(tree: string) {
  const res = await server.call('GET', `/v1/trees/${tree}/state`, { token: await server.token() });
  expect(res.status).toBe(200);
  return stateResponseSchema.parse(res.body);
}

/** Creates an item at the end of the top level through `window.tree` and waits for it. */
const create = (page: Page, text: string) =>
  page.evaluate((text) => (globalThis as unknown as { tree: { create(p: string, o: unknown): Promise<string> } }).tree.create('ROOT', { fields: { text } }), text);

/** Items drawn as pending (not yet drawn from the replica). */
const pendingShown = (page: Page) => page.locator('#outline li.pending').count();

// The page-side code below runs in Chromium; this file is type-checked without the DOM library.
type PageGlobals = {
  tree: {
    create(parent: string, o?: unknown): Promise<string>;
    set(id: string, key: string, value: unknown): Promise<void>;
    move(id: string, parent: string, o?: unknown): Promise<void>;
    subscribe(l: (e: { type: string; edit?: number; error?: { code: string } | null; parents?: string[] }) => void): () => void;
  };
  document: { querySelector(s: string): { value?: string; dataset: { id?: string }; parentElement: { closest(s: string): { dataset: { id?: string } } | null } | null; classList: { contains(c: string): boolean } } | null };
  trap?: Promise<unknown>;
};

describe('the demo outliner draws edits at once and follows the replica', () => {
  test('a create, a set and a move are in the page before their calls return, then confirmed by the replica', async () => {
    const tree = 'optimistic';
    const a = await open(0, tree);
    try {
      const seen = await a.evaluate(async () => {
        const g = globalThis as unknown as PageGlobals;
        const item = (id: string) => g.document.querySelector(`li[data-id="${id}"]`);
        const text = (id: string) => g.document.querySelector(`li[data-id="${id}"] > input.text`)?.value;
        const parentShown = (id: string) => item(id)?.parentElement?.closest('li')?.dataset.id ?? 'ROOT';
        const events: string[] = [];
        g.tree.subscribe((e) => {
          if (e.type === 'pending' || e.type === 'settled') events.push(`${e.type} ${e.edit}${e.type === 'settled' ? ` ${e.error === null ? 'ok' : e.error!.code}` : ''}`);
        });

        // Each check runs in the task that made the call, before anything was awaited.
        const creating = g.tree.create('ROOT', { fields: { text: 'drawn at once' } });
        const last = g.document.querySelector('#outline > li:last-child');
        const created = { id: last?.dataset.id, text: last?.dataset.id && text(last.dataset.id), pending: last?.classList.contains('pending') };
        const x = await creating;

        const setting = g.tree.set(x, 'text', 'changed at once');
        const set = text(x);
        await setting;

        const y = await g.tree.create('ROOT', { fields: { text: 'y' } });
        const moving = g.tree.move(y, x);
        const moved = parentShown(y);
        await moving;
        return { x, y, created, set, moved, events };
      });
      expect(seen.created).toEqual({ id: seen.x, text: 'drawn at once', pending: true });
      expect(seen.set).toBe('changed at once');
      expect(seen.moved).toBe(seen.x);
      // Each edit: pending first, settled (committed) after, in order.
      expect(seen.events).toEqual(['pending 1', 'settled 1 ok', 'pending 2', 'settled 2 ok', 'pending 3', 'settled 3 ok', 'pending 4', 'settled 4 ok']);

      // Confirmed: the page ends drawing the replica's tree (nothing left pending), the server's.
      await syncIn(a);
      const expected = serverOutline(await serverState(tree));
      expect(expected).toEqual([{ id: seen.x, text: 'changed at once', children: [{ id: seen.y, text: 'y', children: [] }] }]);
      await expect.poll(() => shownOutline(a), SETTLE).toEqual(expected);
      await expect.poll(() => pendingShown(a), SETTLE).toBe(0);
    } finally {
      await a.close();
    }
  }, 240_000);

  test('a move the replica refuses as a cycle is drawn, then taken back to the replica\'s tree, and the page says why', async () => {
    const tree = 'optimistic-refused';
    const a = await open(0, tree);
    const b = await open(1, tree);
    try {
      const x = await create(a, 'x');
      const y = await create(a, 'y');
      await syncIn(a);
      await syncIn(b);
      await expect.poll(() => shownOutline(b), SETTLE).toEqual(serverOutline(await serverState(tree)));

      // On device A: at the change event that brings B's move (y under x) — merged in A's
      // replica, not yet drawn by the page — the person moves x under y, as the page shows them.
      await a.evaluate(
        ([x, y]) => {
          const g = globalThis as unknown as PageGlobals;
          const parentShown = (id: string) => g.document.querySelector(`li[data-id="${id}"]`)?.parentElement?.closest('li')?.dataset.id ?? 'ROOT';
          g.trap = new Promise((resolve) => {
            const off = g.tree.subscribe((e) => {
              if (e.type !== 'changes' || !e.parents!.includes(x)) return;
              off();
              const settled: unknown[] = [];
              const offSettled = g.tree.subscribe((s) => {
                if (s.type === 'settled') settled.push(s.error);
              });
              const before = { x: parentShown(x), y: parentShown(y) };
              const moving = g.tree.move(x, y);
              const drawn = { x: parentShown(x), y: parentShown(y) };
              moving.then(
                () => resolve({ before, drawn, error: null, settled }),
                (err: { code: string; message: string }) => resolve({ before, drawn, error: `${err.code}: ${err.message}`, settled }),
              ).finally(offSettled);
            });
          });
        },
        [x, y] as const,
      );
      await b.evaluate(([x, y]) => (globalThis as unknown as PageGlobals).tree.move(y, x), [x, y] as const);
      await syncIn(b);
      const trapped = (await a.evaluate(() => (globalThis as unknown as PageGlobals).trap)) as {
        before: { x: string; y: string };
        drawn: { x: string; y: string };
        error: string | null;
        settled: unknown[];
      };
      // The page had not drawn B's move yet, and drew A's move at once: x under y.
      expect(trapped.before).toEqual({ x: 'ROOT', y: 'ROOT' });
      expect(trapped.drawn).toEqual({ x: y, y: 'ROOT' });
      // The replica had y under x: the move is a cycle, refused, and the app is told.
      expect(trapped.error).toBe(`invalid_request: ${x} cannot move under ${y}: it is one of its ancestors`);
      expect(trapped.settled).toEqual([{ code: 'invalid_request', message: `${x} cannot move under ${y}: it is one of its ancestors` }]);
      await expect.poll(() => a.textContent('#notice'), SETTLE).toBe(`edit refused: ${x} cannot move under ${y}: it is one of its ancestors`);

      // The page shows the replica's tree again, which is the server's: y under x.
      await syncIn(a);
      const expected = serverOutline(await serverState(tree));
      expect(expected).toEqual([{ id: x, text: 'x', children: [{ id: y, text: 'y', children: [] }] }]);
      await expect.poll(() => shownOutline(a), SETTLE).toEqual(expected);
      await expect.poll(() => pendingShown(a), SETTLE).toBe(0);
    } finally {
      await a.close();
      await b.close();
    }
  }, 240_000);
});
