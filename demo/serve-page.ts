/**
 * The demo page, bundled and served: the outliner (page/main.ts) built with esbuild the way the
 * browser tests build their page (test/browser/bundle.ts: the worker and wa-sqlite's wasm as
 * `new URL(…, import.meta.url)` assets), written to a temporary folder with a
 * `demo-config.json` naming the treesync server, and served on 127.0.0.1 (a secure context,
 * which OPFS and Web Locks need). The page calls the server directly: a loopback origin is
 * allowed by the server's CORS in development mode (or with TREESYNC_CORS_ORIGINS=loopback),
 * and its events WebSocket goes straight there too.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundlePage } from '../test/browser/bundle.ts';
import { serveFolder, type StaticServer } from '../test/browser/static-server.ts';

export const DEMO_PAGE = new URL('./page/main.ts', import.meta.url).pathname;

export interface DemoPage {
  /** The page's URL (add `?tree=name` for another tree than `demo`). */
  url: string;
  close(): Promise<void>;
}

/** `server`: the treesync server's base URL; `port`: 0 (the default) picks a free one;
 * `entry`: the page's script (another version of it, for a benchmark's comparison). */
export async function startDemoPage(server: string, port = 0, entry = DEMO_PAGE): Promise<DemoPage> {
  const folder = await mkdtemp(join(tmpdir(), 'treesync-demo-'));
  let served: StaticServer | undefined;
  try {
    await bundlePage(entry, folder);
    await writeFile(join(folder, 'demo-config.json'), `${JSON.stringify({ server })}\n`);
    served = await serveFolder(folder, undefined, port);
  } catch (err) {
    await rm(folder, { recursive: true, force: true });
    throw err;
  }
  const page = served;
  return {
    url: page.url,
    async close() {
      await page.close();
      await rm(folder, { recursive: true, force: true });
    },
  };
}
