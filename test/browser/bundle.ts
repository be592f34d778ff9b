/**
 * Bundles a browser test page with esbuild, the way an app's bundler would take the client:
 * the page's entry, the replica's module worker and wa-sqlite's wasm files (new-url-assets.ts),
 * all in one flat folder beside an index.html.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { newUrlAssets } from './new-url-assets.ts';

/** Builds `entry` (a page script) into `outdir` as main.js, with index.html loading it. */
export async function bundlePage(entry: string, outdir: string): Promise<void> {
  const { build } = await import('esbuild');
  await mkdir(outdir, { recursive: true });
  const output: BuildOptions & { outdir: string } = {
    outdir,
    bundle: true,
    format: 'esm',
    splitting: true,
    platform: 'browser',
    target: 'es2022',
    entryNames: '[name]',
    chunkNames: '[name]-[hash]',
    sourcemap: 'inline',
    logLevel: 'error',
  };
  await build({ ...output, entryPoints: { main: entry }, plugins: [newUrlAssets(output)] });
  await writeFile(
    join(outdir, 'index.html'),
    '<!doctype html><html><head><meta charset="utf-8"><title>treesync test page</title>' +
      '<link rel="icon" href="data:,"></head>' +
      '<body><script type="module" src="./main.js"></script></body></html>\n',
  );
}
