/**
 * An esbuild plugin for the `new URL('./file', import.meta.url)` pattern, which esbuild leaves
 * alone but the client relies on (the worker: client/spawn-worker.ts; wa-sqlite's wasm: its
 * own loader). A `.ts`/`.js` target is bundled as an entry of its own (a module worker); any
 * other file is copied. Either way the reference is rewritten to the emitted file, which sits
 * at the top of the flat output folder beside the chunk that refers to it, so the browser
 * resolves it against that chunk's own URL just as the source did. Vite does this by itself.
 */
import { copyFile, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { BuildOptions, Plugin } from 'esbuild';

const NEW_URL = /new URL\(\s*(['"])([^'"]+)\1\s*,\s*import\.meta\.url\s*\)/g;
const SCRIPT = /\.(ts|mts|js|mjs)$/;

/** `options` are the output options every bundle shares (outdir, format, splitting, …). */
export function newUrlAssets(options: BuildOptions & { outdir: string }): Plugin {
  /** Emitted file (relative to outdir) per source file, built or copied once. */
  const emitted = new Map<string, Promise<string>>();

  async function emit(target: string): Promise<string> {
    let done = emitted.get(target);
    if (!done) {
      done = (async () => {
        if (SCRIPT.test(target)) {
          const stem = basename(target, extname(target));
          const { build } = await import('esbuild');
          await build({ ...options, entryPoints: { [stem]: target }, plugins: [plugin] });
          return `${stem}.js`;
        }
        await copyFile(target, join(options.outdir, basename(target)));
        return basename(target);
      })();
      emitted.set(target, done);
    }
    return done;
  }

  const plugin: Plugin = {
    name: 'new-url-assets',
    setup(build) {
      build.onLoad({ filter: SCRIPT }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const rewrites = new Map<string, string>();
        for (const m of text.matchAll(NEW_URL)) {
          const target = resolve(dirname(args.path), m[2]!);
          const isFile = await stat(target).then((s) => s.isFile(), () => false);
          if (isFile) rewrites.set(m[0], `new URL(${JSON.stringify(`./${await emit(target)}`)}, import.meta.url)`);
        }
        if (rewrites.size === 0) return undefined;
        const contents = text.replace(NEW_URL, (all) => rewrites.get(all) ?? all);
        return { contents, loader: /\.m?ts$/.test(args.path) ? 'ts' : 'js', resolveDir: dirname(args.path) };
      });
    },
  };
  return plugin;
}
