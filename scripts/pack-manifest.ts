/**
 * `npm pack` ships the client only (dist/client, dist/protocol), so the packed package.json
 * should make an app install only what that code imports, not the server's dependencies
 * (Postgres binaries, pg, hono…). npm puts the package.json it finds on disk into the tarball,
 * so around the pack:
 *
 * - `prepack` (after the build): keeps the repository's package.json in package.repo.json
 *   (git-ignored, not packed: package.json "files") and writes one
 *   whose `dependencies` are the packages the built JavaScript and declarations import, with
 *   the repository's version ranges, and no `devDependencies`; a package imported but not in
 *   the repository's `dependencies` fails the pack;
 * - `postpack`: puts the repository's package.json back.
 *
 * `restore` is the same as `postpack`, for a pack that failed half way (npm then skips
 * postpack); `prepack` itself restores a leftover first, so a second pack starts clean.
 */
import { readdir, readFile, rename, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const MANIFEST = join(ROOT, 'package.json');
const KEPT = join(ROOT, 'package.repo.json');
/** What the tarball holds of dist/ (package.json "files"). */
const SHIPPED = ['dist/client', 'dist/protocol'];
/** Bare specifiers in `import … from '…'`, `export … from '…'` and `import('…')`. */
const BARE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*)(['"])([^./'"][^'"]*)\1/g;

interface Manifest {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
  [field: string]: unknown;
}

const exists = (path: string) => access(path).then(() => true, () => false);

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`; node: builtins → undefined. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

async function importedPackages(): Promise<string[]> {
  const found = new Set<string>();
  for (const dir of SHIPPED) {
    const entries = await readdir(join(ROOT, dir), { recursive: true, withFileTypes: true });
    for (const e of entries) {
      if (!e.isFile() || !/\.(m?js|d\.ts)$/.test(e.name)) continue;
      const text = await readFile(join(e.parentPath, e.name), 'utf8');
      for (const m of text.matchAll(BARE_IMPORT)) {
        const name = packageOf(m[2]!);
        if (name) found.add(name);
      }
    }
  }
  return [...found].sort();
}

async function restore(): Promise<void> {
  if (await exists(KEPT)) await rename(KEPT, MANIFEST);
}

async function prepack(): Promise<void> {
  await restore();
  const text = await readFile(MANIFEST, 'utf8');
  const repo = JSON.parse(text) as Manifest;
  const wanted = await importedPackages();
  const missing = wanted.filter((name) => repo.dependencies?.[name] === undefined);
  if (missing.length > 0) {
    throw new Error(`the packed client imports ${missing.join(', ')}, not in package.json "dependencies"`);
  }
  const packed: Manifest = { ...repo, dependencies: Object.fromEntries(wanted.map((name) => [name, repo.dependencies![name]!])) };
  delete packed.devDependencies;
  delete packed.allowScripts;
  // Only the pack's own hooks stay (npm reads postpack from the file on disk).
  packed.scripts = { prepack: repo.scripts!.prepack!, postpack: repo.scripts!.postpack! };
  await writeFile(KEPT, text);
  await writeFile(MANIFEST, `${JSON.stringify(packed, null, 2)}\n`);
  console.log(`package.json for the tarball: dependencies ${wanted.join(', ')}`);
}

const step = process.argv[2];
if (step === 'prepack') await prepack();
else if (step === 'postpack' || step === 'restore') await restore();
else throw new Error(`usage: pack-manifest.ts prepack|postpack|restore (got ${step})`);
