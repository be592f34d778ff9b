/**
 * One browser test's world: the test page bundled into a temporary folder, served on
 * 127.0.0.1, and a Chromium with a fresh profile. `close()` ends all of it, whatever state
 * it is in (call it in `finally` / afterAll).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { bundlePage } from './bundle.ts';
import { launchChromium, type Chromium } from './chromium.ts';
import { serveFolder, type StaticServer } from './static-server.ts';

/** The page the tests drive (page/main.ts). */
export const TEST_PAGE = new URL('./page/main.ts', import.meta.url).pathname;

export interface BrowserHarness {
  url: string;
  chromium: Chromium;
  /** A new tab on the test page, once its script has run. */
  openPage(): Promise<Page>;
  close(): Promise<void>;
}

/** `entry`: the page's script (the test page unless a benchmark brings its own); `api`: a
 * treesync server whose /v1/ the page's origin passes through (static-server.ts). */
export async function startHarness(entry = TEST_PAGE, api?: string): Promise<BrowserHarness> {
  const folder = await mkdtemp(join(tmpdir(), 'treesync-page-'));
  let server: StaticServer | undefined;
  let chromium: Chromium | undefined;
  const close = async () => {
    await chromium?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
  };
  try {
    await bundlePage(entry, folder);
    server = await serveFolder(folder, api);
    chromium = await launchChromium();
    const { context } = chromium;
    const url = server.url;
    return {
      url,
      chromium,
      async openPage() {
        const page = await context.newPage();
        // What goes wrong inside the page shows in the test's output, not only as a timeout.
        page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
        page.on('console', (msg) => {
          if (msg.type() === 'error') console.error(`[page console] ${msg.text()}`);
        });
        await loadTestPage(page, url);
        return page;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Goes to (or reloads) the test page and waits for its script. */
export async function loadTestPage(page: Page, url?: string): Promise<void> {
  if (url) await page.goto(url);
  else await page.reload();
  await page.waitForFunction(() => (globalThis as unknown as { treesyncReady?: boolean }).treesyncReady === true);
}
