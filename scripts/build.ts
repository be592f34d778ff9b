/**
 * `npm run build`: the client library as an installable package in dist/ (tsconfig.build.json),
 * what `exports["./client"]` of package.json points at.
 *
 * tsc rewrites the `.ts` extensions of relative imports in the JavaScript it emits, but not two
 * things an app's bundler or Node reads as well, which this script fixes after it:
 * - `new URL('./worker/worker.ts', import.meta.url)`, the worker's address (spawn-worker.ts):
 *   in dist/ it names the emitted `.js`, so the app's bundler (Vite, esbuild with a plugin,
 *   webpack 5) finds the file and bundles it as a worker;
 * - relative `.ts` paths in the emitted declarations, which become `.js` like the code.
 * The Node worker's first module (client/node/worker-bootstrap.mjs) loads the sources through
 * tsx; the built one loads the compiled worker directly. The same for the bootstrap's feed
 * thread (client/node/snapshot-feed-bootstrap.mjs).
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const DIST = join(ROOT, 'dist');

const NEW_URL_TS = /(new URL\(\s*)(['"])(\.\.?\/[^'"]+)\.ts\2(\s*,\s*import\.meta\.url\s*\))/g;
const RELATIVE_TS = /((?:from|import)\s*\(?\s*)(['"])(\.\.?\/[^'"]+)\.ts\2/g;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function rewrite(file: string, pattern: RegExp, replace: (...groups: string[]) => string): Promise<void> {
  const text = await readFile(file, 'utf8');
  const next = text.replace(pattern, replace);
  if (next !== text) await writeFile(file, next);
}

await rm(DIST, { recursive: true, force: true });
execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });

for (const file of await filesUnder(DIST)) {
  if (file.endsWith('.d.ts')) {
    await rewrite(file, RELATIVE_TS, (_all, head, q, path) => `${head}${q}${path}.js${q}`);
  } else if (file.endsWith('.js')) {
    await rewrite(file, NEW_URL_TS, (_all, head, q, path, tail) => `${head}${q}${path}.js${q}${tail}`);
  }
}

await writeFile(
  join(DIST, 'client/node/worker-bootstrap.mjs'),
  "// The Node worker thread's first module (spawn-node-worker.js): the compiled worker entry.\nawait import('./worker-main.js');\n",
);
await writeFile(
  join(DIST, 'client/node/snapshot-feed-bootstrap.mjs'),
  "// The bootstrap's feed thread's first module in Node (spawn-feed-thread.js): the compiled entry.\nawait import('./snapshot-feed-main.js');\n",
);
console.log(`built ${DIST}`);
