/**
 * Drives the demo outliner (demo/page/main.ts) in Chromium for the demo tests: the demo page
 * served as `npm run demo` serves it (demo/serve-page.ts), two browsers on fresh profiles (two
 * devices: each owns its own OPFS replica of the same tree), and readers of what a page shows
 * and of what the server holds, in one comparable shape.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startDemoPage, type DemoPage } from '../../demo/serve-page.ts';
import type { StateResponse } from '../../protocol/state.ts';
import { launchChromium, type Chromium } from './chromium.ts';

/** One item of an outline: its id, its `text` field and its children, in order. */
export interface Item {
  id: string;
  text: string;
  children: Item[];
}

export interface DemoWorld {
  page: DemoPage;
  /** Two browsers: two devices. */
  browsers: [Chromium, Chromium];
}

/** Started once before a file's tests and closed after them; a start failure fails each test
 * (use-harness.ts says why). `server`: read when it starts, after the server's own hooks. */
export function useDemo(server: () => string): () => DemoWorld {
  let page: DemoPage | undefined;
  const browsers: Chromium[] = [];
  let failure: unknown;
  beforeAll(async () => {
    try {
      page = await startDemoPage(server());
      browsers.push(await launchChromium());
      browsers.push(await launchChromium());
    } catch (err) {
      failure = err;
    }
  }, 240_000);
  afterAll(async () => {
    for (const b of browsers) await b.close().catch(() => undefined);
    await page?.close();
  }, 120_000);
  return () => {
    if (!page || browsers.length < 2) throw failure ?? new Error('the demo did not start');
    return { page, browsers: [browsers[0]!, browsers[1]!] };
  };
}

/** Opens the demo for `tree` in a new tab of `context` and waits until it has drawn. */
export async function openDemo(context: BrowserContext, url: string, query: Record<string, string>): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[demo page error] ${err.message}`));
  await page.goto(`${url}?${new URLSearchParams(query)}`);
  await waitReady(page);
  return page;
}

export async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(() => (globalThis as unknown as { demoReady?: boolean }).demoReady === true);
}

/** The outline a page shows: read from its DOM, not from its replica. */
export function shownOutline(page: Page): Promise<Item[]> {
  // Runs in the page; the tests are type-checked without the DOM library, hence the loose types.
  return page.evaluate(() => {
    type El = { children: ArrayLike<El>; dataset: { id?: string }; value?: string; querySelector(s: string): El | null };
    const read = (list: El | null): Item[] =>
      list === null
        ? []
        : Array.from(list.children).map((li) => ({
            id: li.dataset.id ?? '',
            text: li.querySelector(':scope > input.text')?.value ?? '',
            children: read(li.querySelector(':scope > ul')),
          }));
    return read((globalThis as unknown as { document: El }).document.querySelector('#outline'));
  });
}

/** The ids the page lists as recently deleted, in order. */
export function shownTrash(page: Page): Promise<string[]> {
  return page.$$eval('#trash > li', (items) => items.map((li) => (li as unknown as { dataset: { id?: string } }).dataset.id ?? ''));
}

/** The server's outline under `root`: children in sibling order (pos, then id, bytewise). */
export function serverOutline(state: StateResponse, root = 'ROOT'): Item[] {
  const text = new Map(state.values.filter((v) => v.key === 'text').map((v) => [v.node, typeof v.value === 'string' ? v.value : '']));
  const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const under = (parent: string): Item[] =>
    state.nodes
      .filter((n) => n.parent === parent)
      .sort((a, b) => bytewise(a.pos, b.pos) || bytewise(a.id, b.id))
      .map((n) => ({ id: n.id, text: text.get(n.id) ?? '', children: under(n.id) }));
  return under(root);
}

/** Every id in an outline, depth first. */
export function idsOf(items: Item[]): string[] {
  return items.flatMap((i) => [i.id, ...idsOf(i.children)]);
}

/** Types `text` into an item's input and commits it (the input's change event). */
export async function editText(page: Page, id: string, text: string): Promise<void> {
  const input = page.locator(`li[data-id="${id}"] > input.text`);
  await input.fill(text);
  await input.press('Enter');
}

/** Clicks one of an item's buttons (add, indent, outdent, up, down, delete). */
export async function clickOn(page: Page, id: string, button: string): Promise<void> {
  await page.locator(`li[data-id="${id}"] > button.${button}`).click();
}

/** Runs `tree.sync()` in the page. */
export function syncIn(page: Page): Promise<void> {
  return page.evaluate(() => (globalThis as unknown as { tree: { sync(): Promise<void> } }).tree.sync());
}
