/**
 * bench:browser's latency figures, on the demo outliner (demo/page/main.ts) as `npm run demo`
 * serves it, against `npm start`'s server (server/main.ts in a child process, development mode)
 * on the benchmark's Postgres, in two headless Chromiums (two devices, each with its OPFS
 * replica of the same tree):
 *
 * - local: `window.tree.set(id, 'text', …)` called in page A → A's DOM shows the new text;
 * - remote: the same call in A → B's DOM shows it (A's push, the server's poke over B's events
 *   WebSocket, B's pull, B's redraw).
 *
 * Timed inside the pages: a MutationObserver on the outline notes when the item's input holds
 * the text ("DOM"), and the requestAnimationFrame after that ("frame": the frame that paints
 * it). Across two pages the clock is `performance.timeOrigin + performance.now()`, both on this
 * machine's clock.
 */
import type { Page } from 'playwright-core';
import { startDemoPage, type DemoPage } from '../demo/serve-page.ts';
import { launchChromium, type Chromium } from '../test/browser/chromium.ts';
import { startMain, type StartedMain } from '../test/server/main-process.ts';

export interface Sample {
  /** ms from the edit call to the DOM holding the text. */
  dom: number;
  /** ms from the edit call to the animation frame after that. */
  frame: number;
  /** ms from the edit call to the page's TreeClient emitting the change event (the rest, to
   * "DOM", is the page reading the outline and drawing it). */
  event: number;
  /** Remote only: ms from the edit call to the editing page's push being acknowledged (its
   * pending count back to 0). */
  acked?: number;
}

export interface LatencyFigures {
  items: number;
  local: Sample[];
  remote: Sample[];
}

interface Seen {
  dom: number;
  frame: number;
  event: number;
}

/** Installed in each page: `seen(id, text)` resolves with the absolute times (ms since the
 * epoch, sub-ms) at which the outline showed `text` in item `id`, and painted it. Written as
 * source: these files are type-checked without the DOM library. */
const WATCHER = `(() => {
  const now = () => performance.timeOrigin + performance.now();
  const shows = (id, text) => document.querySelector('li[data-id="' + id + '"] > input.text')?.value === text;
  const latency = window.latency = {
    now,
    event: 0,
    acked: 0,
    seen(id, text) {
      return new Promise((resolve) => {
        const done = () => {
          const dom = now();
          observer.disconnect();
          const event = latency.event;
          requestAnimationFrame(() => resolve({ dom, frame: now(), event }));
        };
        const observer = new MutationObserver(() => { if (shows(id, text)) done(); });
        observer.observe(document.querySelector('#outline'), { childList: true, subtree: true, attributes: true });
        if (shows(id, text)) done();
      });
    },
  };
  let pending = 0;
  window.tree.subscribe((e) => {
    if (e.type === 'changes') latency.event = now();
    if (e.type === 'status') {
      if (pending > 0 && e.status.pending === 0) latency.acked = now();
      pending = e.status.pending;
    }
  });
})()`;

type PageApi = {
  latency: { now(): number; seen(id: string, text: string): Promise<Seen>; acked: number };
  tree: { set(id: string, key: string, value: unknown): Promise<void>; create(parent: string, o?: unknown): Promise<string>; sync(): Promise<void> };
  pending?: Promise<Seen>;
};

async function openDemo(browser: Chromium, url: string, tree: string): Promise<Page> {
  const page = await browser.context.newPage();
  page.on('pageerror', (err) => console.error(`[demo page error] ${err.message}`));
  await page.goto(`${url}?tree=${tree}`);
  await page.waitForFunction(() => (globalThis as unknown as { demoReady?: boolean }).demoReady === true, undefined, { timeout: 120_000 });
  await page.evaluate(WATCHER);
  return page;
}

/** Local edit in `page`: from the call to its own outline showing it. */
function localRound(page: Page, id: string, text: string): Promise<Sample> {
  return page.evaluate(
    async ([id, text]) => {
      const { latency, tree } = (globalThis as unknown as { latency: PageApi['latency']; tree: PageApi['tree'] });
      const seen = latency.seen(id, text);
      const t0 = latency.now();
      await tree.set(id, 'text', text);
      const s = await seen;
      return { dom: s.dom - t0, frame: s.frame - t0, event: s.event - t0 };
    },
    [id, text] as const,
  );
}

/** Edit in `from`, seen in `to`: the watcher is set in `to` first. */
async function remoteRound(from: Page, to: Page, id: string, text: string): Promise<Sample> {
  await to.evaluate(
    ([id, text]) => {
      const g = globalThis as unknown as PageApi;
      g.pending = g.latency.seen(id, text);
    },
    [id, text] as const,
  );
  const t0 = await from.evaluate(
    async ([id, text]) => {
      const g = globalThis as unknown as PageApi;
      const t0 = g.latency.now();
      await g.tree.set(id, 'text', text);
      return t0;
    },
    [id, text] as const,
  );
  const s = await to.evaluate(() => (globalThis as unknown as PageApi).pending!);
  const acked = await from.evaluate(() => (globalThis as unknown as PageApi).latency.acked);
  return { dom: s.dom - t0, frame: s.frame - t0, event: s.event - t0, acked: acked - t0 };
}

export async function measureLatency(databaseUrl: string, opts: { rounds: number; items: number; page?: string }): Promise<LatencyFigures> {
  let server: StartedMain | undefined;
  let demo: DemoPage | undefined;
  const browsers: Chromium[] = [];
  try {
    server = await startMain({ DATABASE_URL: databaseUrl });
    demo = await startDemoPage(server.url, 0, opts.page);
    browsers.push(await launchChromium(), await launchChromium());
    const tree = 'bench-latency';
    const a = await openDemo(browsers[0]!, demo.url, tree);
    // An outline to redraw: `items` items, every third one nested under the one before.
    const ids = await a.evaluate(async (items) => {
      const { tree } = globalThis as unknown as PageApi;
      const made: string[] = [];
      for (let i = 0; i < items; i++) {
        const parent = i % 3 === 2 ? made[i - 1]! : 'ROOT';
        made.push(await tree.create(parent, { fields: { text: `item ${i}` } }));
      }
      await tree.sync();
      return made;
    }, opts.items);
    const b = await openDemo(browsers[1]!, demo.url, tree);
    await b.evaluate(() => (globalThis as unknown as PageApi).tree.sync());
    const pause = () => new Promise((r) => setTimeout(r, 30));

    const local: Sample[] = [];
    for (let i = 0; i < opts.rounds; i++) {
      local.push(await localRound(a, ids[i % ids.length]!, `local ${i}`));
      await pause();
    }
    // Let A's pushes of the local rounds settle before timing the remote ones.
    for (const p of [a, b]) await p.evaluate(() => (globalThis as unknown as PageApi).tree.sync());
    const remote: Sample[] = [];
    for (let i = 0; i < opts.rounds; i++) {
      remote.push(await remoteRound(a, b, ids[i % ids.length]!, `remote ${i}`));
      await pause();
    }
    return { items: opts.items, local, remote };
  } finally {
    for (const b of browsers) await b.close().catch(() => undefined);
    await demo?.close().catch(() => undefined);
    await server?.stop();
  }
}

/** The q-quantile (0..1) of `xs`, nearest rank. */
export function quantile(xs: number[], q: number): number {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
