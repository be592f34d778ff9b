/**
 * The demo outliner in a real Chromium against a real server and Postgres: two devices (two
 * browsers, each with its own OPFS replica) editing one outline through the page's buttons and
 * `window.tree` converge to the server's GET /state; a reload keeps the replica and its
 * unpushed edits; edits made with the page's offline switch sync once it is switched back.
 *
 * What a page shows is read from its DOM, so these check the page as a person sees it, not
 * only the replica behind it.
 */
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { stateResponseSchema } from '../../protocol/state.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from '../server/harness.ts';
import { clickOn, editText, idsOf, openDemo, serverOutline, shownOutline, shownTrash, syncIn, useDemo, waitReady, type Item } from './demo-page.ts';

const db = useTestDb();
// The page is on another origin (its own port): CORS for loopback, as in development mode.
const server = useTestServer(db, { env: { TREESYNC_CORS_ORIGINS: 'loopback' } });
const demo = useDemo(() => server.url);

// Generous: two browsers and a server share 2 busy cores with other test runs.
const SETTLE = { timeout: 60_000, interval: 200 };

async function serverState(tree: string) {
  const res = await server.call('GET', `/v1/trees/${tree}/state`, { token: await server.token() });
  expect(res.status).toBe(200);
  return stateResponseSchema.parse(res.body);
}

async function open(device: 0 | 1, tree: string): Promise<Page> {
  const { page, browsers } = demo();
  return openDemo(browsers[device].context, page.url, { tree, server: server.url, token: await server.token() });
}

/** The id of the item whose text box has the focus. */
const focusedItem = (page: Page) =>
  page.evaluate(() => {
    const active = (globalThis as unknown as { document: { activeElement: { closest(s: string): { dataset: { id?: string } } | null } | null } }).document.activeElement;
    return active?.closest('li')?.dataset.id;
  });

/** Clicks "Add item" (or an item's add) and types the new item's text; returns its id. The new
 * item is the one focused (an add button focuses the item it creates): items that other devices
 * made can appear meanwhile. */
async function addItem(page: Page, text: string, under?: string): Promise<string> {
  const before = new Set(idsOf(await shownOutline(page)));
  if (under) await clickOn(page, under, 'add');
  else await page.locator('#add').click();
  let id: string | undefined;
  await expect.poll(async () => ((id = await focusedItem(page)) !== undefined && !before.has(id) ? id : undefined), SETTLE).toBeDefined();
  await editText(page, id!, text);
  return id!;
}

const pendingOf = async (page: Page) => Number(await page.locator('#status').getAttribute('data-pending'));
const callTree = (page: Page, method: 'setOnline', arg: boolean) =>
  page.evaluate(([m, a]) => (globalThis as unknown as { tree: Record<string, (a: boolean) => void> }).tree[m]!(a), [method, arg] as const);
const moveIn = (page: Page, id: string, parent: string) =>
  page.evaluate(([i, p]) => (globalThis as unknown as { tree: { move(i: string, p: string): Promise<void> } }).tree.move(i, p), [id, parent] as const);

/** Both pages show the server's outline (after syncing both until nothing is pending). */
async function expectConverged(tree: string, pages: Page[]): Promise<Item[]> {
  for (const p of pages) await syncIn(p);
  for (const p of pages) await syncIn(p); // the first page pulls what the second pushed
  const expected = serverOutline(await serverState(tree));
  for (const p of pages) await expect.poll(() => shownOutline(p), SETTLE).toEqual(expected);
  return expected;
}

describe('the demo outliner', () => {
  test('two devices edit one outline at once, conflicting moves included, and show the server\'s outline', async () => {
    const tree = 'two-devices';
    const a = await open(0, tree);
    const b = await open(1, tree);
    try {
      expect(await a.textContent('body')).toContain('replica storage: opfs');
      expect(await b.textContent('body')).toContain('replica storage: opfs');
      const x = await addItem(a, 'x');
      const y = await addItem(a, 'y');
      const z = await addItem(a, 'z');
      const shared = await expectConverged(tree, [a, b]);
      expect(shared.map((i) => i.text)).toEqual(['x', 'y', 'z']);

      // Both offline, then conflicting edits: x under y on one device, y under x on the other
      // (together a cycle, so one of them must lose), z edited on both, z moved up on one.
      callTree(a, 'setOnline', false);
      callTree(b, 'setOnline', false);
      await Promise.all([moveIn(a, x, y), moveIn(b, y, x)]);
      await Promise.all([editText(a, z, 'z from a'), clickOn(b, z, 'up')]);
      await editText(b, z, 'z from b');
      await expect.poll(() => pendingOf(a), SETTLE).toBeGreaterThan(0);
      await expect.poll(() => pendingOf(b), SETTLE).toBeGreaterThan(0);
      callTree(a, 'setOnline', true);
      callTree(b, 'setOnline', true);

      const merged = await expectConverged(tree, [a, b]);
      // Nothing lost, no cycle: one of x and y is under the other, at the top level.
      expect(idsOf(merged).sort()).toEqual([x, y, z].sort());
      const top = merged.find((i) => i.id === x || i.id === y)!;
      expect(top.children.map((i) => i.id)).toEqual([top.id === x ? y : x]);
      expect(merged.find((i) => i.id === z)?.text).toMatch(/^z from [ab]$/);

      // And edits at the same moment while online: each device adds an item and indents it.
      const [fromA, fromB] = await Promise.all([addItem(a, 'from a'), addItem(b, 'from b')]);
      await Promise.all([clickOn(a, fromA, 'indent'), clickOn(b, fromB, 'indent')]);
      const last = await expectConverged(tree, [a, b]);
      expect(idsOf(last)).toEqual(expect.arrayContaining([fromA, fromB]));
    } finally {
      await a.close();
      await b.close();
    }
  }, 240_000);

  test('a reload keeps the replica, with edits made offline, which sync once back online', async () => {
    const tree = 'reload';
    const a = await open(0, tree);
    try {
      const kept = await addItem(a, 'synced before the reload');
      await expectConverged(tree, [a]);

      // Offline through the page's own switch: edits stay local.
      await a.locator('#offline').check();
      await expect.poll(() => a.textContent('#status'), SETTLE).toMatch(/^offline/);
      const offline = await addItem(a, 'made offline', kept);
      await clickOn(a, kept, 'delete');
      await expect.poll(() => shownTrash(a), SETTLE).toEqual([kept]);
      expect(idsOf(serverOutline(await serverState(tree)))).toEqual([kept]);

      // A reload starts online again, so a request may go out at once: what it finds must be
      // this replica (opfs, its outbox), not a fresh bootstrap of the server's tree.
      await a.reload();
      await waitReady(a);
      expect(await a.textContent('body')).toContain('replica storage: opfs');
      await syncIn(a);
      await expect.poll(() => pendingOf(a), SETTLE).toBe(0);
      const state = await serverState(tree);
      expect(serverOutline(state, 'TRASH').map((i) => i.id)).toEqual([kept]);
      expect(serverOutline(state, 'TRASH')[0]!.children.map((i) => [i.id, i.text])).toEqual([[offline, 'made offline']]);
      await expect.poll(() => shownTrash(a), SETTLE).toEqual([kept]);

      // Undelete: back at the end of ROOT, with its child.
      await a.locator(`#trash > li[data-id="${kept}"] > button.undelete`).click();
      const back = await expectConverged(tree, [a]);
      expect(back).toEqual([{ id: kept, text: 'synced before the reload', children: [{ id: offline, text: 'made offline', children: [] }] }]);
    } finally {
      await a.close();
    }
  }, 240_000);

  test("edits made with the page's offline switch reach the other device once it is switched back", async () => {
    const tree = 'offline-switch';
    const a = await open(0, tree);
    const b = await open(1, tree);
    try {
      const first = await addItem(a, 'first');
      const second = await addItem(a, 'second');
      await expectConverged(tree, [a, b]);

      await a.locator('#offline').check();
      await expect.poll(() => a.textContent('#status'), SETTLE).toMatch(/^offline/);
      await clickOn(a, second, 'up');
      await clickOn(a, first, 'indent');
      await editText(a, first, 'first, edited offline');
      const third = await addItem(a, 'third');
      await clickOn(a, third, 'outdent'); // at the top already: changes nothing
      await expect.poll(() => pendingOf(a), SETTLE).toBeGreaterThan(0);
      await syncIn(b);
      // The other device and the server have none of it yet.
      expect(serverOutline(await serverState(tree)).map((i) => i.text)).toEqual(['first', 'second']);
      expect((await shownOutline(b)).map((i) => i.text)).toEqual(['first', 'second']);

      await a.locator('#offline').uncheck();
      await expect.poll(() => pendingOf(a), SETTLE).toBe(0);
      const synced = await expectConverged(tree, [a, b]);
      expect(synced).toEqual([
        { id: second, text: 'second', children: [{ id: first, text: 'first, edited offline', children: [] }] },
        { id: third, text: 'third', children: [] },
      ]);
    } finally {
      await a.close();
      await b.close();
    }
  }, 240_000);

  test('a second tab of the same tree in one browser keeps its replica in memory, and syncs too', async () => {
    const tree = 'two-tabs';
    const first = await open(0, tree);
    const second = await open(0, tree);
    try {
      expect(await first.textContent('body')).toContain('replica storage: opfs');
      expect(await second.textContent('body')).toContain('replica storage: memory (this tree is open in another tab)');
      const one = await addItem(first, 'from the owner');
      const two = await addItem(second, 'from the other tab');
      const both = await expectConverged(tree, [first, second]);
      expect(idsOf(both).sort()).toEqual([one, two].sort());
    } finally {
      await first.close();
      await second.close();
    }
  }, 240_000);
});
