/**
 * The steps an app developer takes with the package, run as programs in a temporary folder:
 * `npm pack` of this repository (its `prepack` builds dist/), a scratch app (app/) that installs
 * the tarball with npm, type-checks against the package's declarations and builds with Vite.
 */
import { execFile } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
const APP_SOURCE = new URL('./app', import.meta.url).pathname;

/** The environment of a child program, without the npm_* variables of the `npm test` that runs
 * us: the scratch app's npm must not inherit this project's prefix or config. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
}

async function sh(file: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, env: cleanEnv(), timeout: 180_000, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** Packs this repository into `folder`; the tarball's path. */
export async function packTreesync(folder: string): Promise<string> {
  const out = await sh('npm', ['pack', '--json', '--pack-destination', folder], ROOT);
  const [packed] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  if (!packed) throw new Error(`npm pack said nothing: ${out}`);
  return join(folder, packed.filename);
}

/** The scratch app in `folder`/app with the tarball installed, built into its dist/; the
 * folder the built app is in. Vite and tsc are this project's (devDependencies). */
export async function buildApp(folder: string, tarball: string): Promise<string> {
  const app = join(folder, 'app');
  await cp(APP_SOURCE, app, { recursive: true });
  // From the registry, or npm's cache when it has the versions; no install scripts needed.
  await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tarball], app);
  await sh(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], app);
  await sh(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], app);
  return join(app, 'dist');
}

/** Runs the scratch app's Node script (app/node-check.mjs) against the installed package; its
 * output. */
export async function runNodeCheck(folder: string): Promise<string> {
  return sh(process.execPath, ['node-check.mjs'], join(folder, 'app'));
}
