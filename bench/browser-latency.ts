/**
 * bench:browser's latency figures, on the demo outliner (demo/page/main.ts) as `npm run demo`
 * serves it, against `npm start`'s server (server/main.ts in a child process, development mode)
 * on the benchmark's Postgres, in two headless Chromiums (two devices, each with its OPFS
 * replica of the same tree):
 *
 * - local: `window.tree.set(id, 'text', …)` called in page A → A's DOM shows the new text. The
 *   demo draws an edit from the TreeClient's `pending` event, inside the call, so this is the
 *   optimistic view; also timed: the same text drawn from the replica after the worker
 *   committed the edit ("confirmed": the item's `data-drawn`, the replica's text as the page
 *   last read it, holds it), the worker's answer (the call's promise) and its change event;
 * - remote: the same call in A → B's DOM shows it (A's push, the server's poke over B's events
 *   WebSocket, B's pull, B's redraw): B draws only from its replica.
 *
 * Timed inside the pages: a MutationObserver on the outline, and a check on every animation
 * frame, note when the item's input holds the text ("DOM"), and the requestAnimationFrame after
 * that ("frame": the frame that paints it). Across two pages the clock is
 * `performance.timeOrigin + performance.now()`, both on this machine's clock.
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
  /** Local only: ms from the edit call to the worker's answer (the call's promise resolved:
   * the edit is committed in the replica). */
  committed?: number;
  /** Local only: ms from the edit call to the frame after the page drew the text from the
   * replica (the optimistic view confirmed). */
  confirmed?: number;
}

export interface LatencyFigures {
  items: number;
  local: Sample[];
  remote: Sample[];
}

interface Seen {
  dom: number;
  frame: number;
  /** The frame after the item's text was drawn from the replica. */
  confirmed: number;
}

/** Installed in each page: `seen(id, text)` resolves with the absolute times (ms since the
 * epoch, sub-ms) at which the outline showed `text` in item `id` and painted it, and painted it
 * as drawn from the replica (the item's `data-drawn`). Written as source: these files are
 * type-checked without the DOM library. */
const WATCHER = `(() => {
  const now = () => performance.timeOrigin + performance.now();
  const input = (id) => document.querySelector('li[data-id="' + id + '"] > input.text');
  const shows = (id, text) => input(id)?.value === text;
  const drawn = (id, text) => input(id)?.dataset.drawn === text;
  const events = [];
  const latency = window.latency = {
    now,
    acked: 0,
    /** The first change event at or after t (waits up to 2 s for it; NaN without one). */
    async eventAfter(t) {
      for (let waited = 0; waited < 2000; waited += 5) {
        const e = events.find((x) => x >= t);
        if (e !== undefined) return e;
        await new Promise((r) => setTimeout(r, 5));
      }
      return NaN;
    },
    seen(id, text) {
      return new Promise((resolve) => {
        let dom, frame, confirmed;
        let polling = true;
        const check = (inFrame) => {
          if (dom === undefined && shows(id, text)) {
            dom = now();
            // Seen in a frame callback: this frame paints it; else the next one does.
            if (inFrame) frame = dom;
            else requestAnimationFrame(() => { frame = now(); finish(); });
          }
          if (confirmed === undefined && drawn(id, text)) {
            confirmed = -1;
            requestAnimationFrame(() => { confirmed = now(); finish(); });
          }
          finish();
        };
        const finish = () => {
          if (frame === undefined || confirmed === undefined || confirmed < 0) return;
          observer.disconnect();
          polling = false;
          resolve({ dom, frame, confirmed });
        };
        const observer = new MutationObserver(() => check(false));
        observer.observe(document.querySelector('#outline'), { childList: true, subtree: true, attributes: true });
        const poll = () => { if (polling) { check(true); requestAnimationFrame(poll); } };
        requestAnimationFrame(poll);
        check(false);
      });
    },
  };
  let pending = 0;
  window.tree.subscribe((e) => {
    if (e.type === 'changes') {
      events.push(now());
      if (events.length > 100) events.shift();
    }
    if (e.type === 'status') {
      if (pending > 0 && e.status.pending === 0) latency.acked = now();
      pending = e.status.pending;
    }
  });
})()`;

type PageApi = {
  latency: { now(): number; seen(id: string, text: string): Promise<Seen>; eventAfter(t: number): Promise<number>; acked: number };
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
      const committed = latency.now();
      const s = await seen;
      const event = await latency.eventAfter(t0);
      return { dom: s.dom - t0, frame: s.frame - t0, event: event - t0, committed: committed - t0, confirmed: s.confirmed - t0 };
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
  const event = await to.evaluate((t0) => (globalThis as unknown as PageApi).latency.eventAfter(t0), t0);
  const acked = await from.evaluate(() => (globalThis as unknown as PageApi).latency.acked);
  return { dom: s.dom - t0, frame: s.frame - t0, event: event - t0, acked: acked - t0 };
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
