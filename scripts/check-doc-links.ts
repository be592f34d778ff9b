/**
 * Checks the project's own docs (README.md and docs/*.md) against the repository:
 *
 * - every relative link resolves to a file or folder of the repository, and a `#anchor` to a
 *   heading of the Markdown file it names (GitHub's slugs);
 * - nothing links or refers to a path outside the repository (`../shared/`, `/work/`): the
 *   docs stand alone;
 * - every `npm run <script>` (and `npm start`, `npm test`) names a script of package.json;
 * - every environment variable the docs name is read somewhere in the code, and every one that
 *   server/config.ts reads is documented.
 *
 *   npx tsx scripts/check-doc-links.ts     # prints each problem with file and line; exit 1 if any
 *
 * test/docs/links.test.ts runs the same check in `npm test`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DocProblem {
  /** The file, relative to the repository. */
  file: string;
  line: number;
  message: string;
}

/** Names that look like this are environment variables when the docs mention them. */
const ENV_NAME = /\b(?:TREESYNC|BENCH|PG|FC|DEMO|UPDATE|DATABASE|CI)_[A-Z0-9_]*[A-Z0-9]\b/g;
/** `HOST` and `PORT` are too common as words: counted only in code spans or before `=`. */
const SHORT_ENV = /`(HOST|PORT|CI|RUNS)`|\b(HOST|PORT|RUNS)=/g;
/** Where the code that may read an environment variable lives. */
const CODE_PLACES = ['server', 'client', 'bench', 'test', 'demo', 'scripts', 'sql', 'protocol', '.ci', 'vitest.config.ts', 'docker-compose.yml', 'Dockerfile'];
const CODE_FILE = /\.(ts|mts|mjs|js|json|ya?ml|sh)$|^run$|^Dockerfile$/;
const OUTSIDE = ['../shared/', '/work/'];

/** The Markdown files checked: README.md and docs/*.md. */
export function docFiles(root: string): string[] {
  const docs = join(root, 'docs');
  const inDocs = existsSync(docs) ? readdirSync(docs).filter((f) => f.endsWith('.md')).sort().map((f) => join(docs, f)) : [];
  return [join(root, 'README.md'), ...inDocs].filter((f) => existsSync(f));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
export function slug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

interface Line {
  n: number;
  text: string;
  /** Inside a fenced code block. */
  code: boolean;
}

function linesOf(text: string): Line[] {
  let fence: string | undefined;
  return text.split('\n').map((text, i) => {
    const open = /^\s*(```+|~~~+)/.exec(text);
    if (fence === undefined && open) {
      fence = open[1]!;
      return { n: i + 1, text, code: true };
    }
    if (fence !== undefined) {
      if (text.trim().startsWith(fence)) fence = undefined;
      return { n: i + 1, text, code: true };
    }
    return { n: i + 1, text, code: false };
  });
}

/** The anchors of a Markdown file's headings, duplicates numbered as GitHub does. */
export function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of linesOf(markdown)) {
    const heading = !line.code && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line.text);
    if (!heading) continue;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** A line with its code spans blanked out (same length), so links inside them do not count. */
function withoutCodeSpans(text: string): string {
  return text.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (span) => 'x'.repeat(span.length));
}

/** Every file under `dir` (or `dir` itself) whose name looks like code. */
function codeFiles(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  const files: string[] = [];
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.data')) continue;
    const full = join(path, entry.name);
    if (entry.isDirectory()) files.push(...codeFiles(full));
    else if (CODE_FILE.test(entry.name)) files.push(full);
  }
  return files;
}

/** The environment variables server/config.ts reads (`read('X')`, `int('X', …)`, `env.X`). */
export function configVariables(configSource: string): string[] {
  const names = new Set<string>();
  for (const m of configSource.matchAll(/\b(?:read|int)\(\s*'([A-Z][A-Z0-9_]*)'/g)) names.add(m[1]!);
  for (const m of configSource.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(m[1]!);
  return [...names].sort();
}

export function checkDocs(root: string): DocProblem[] {
  const problems: DocProblem[] = [];
  const rel = (f: string) => relative(root, f) || f;
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (file: string) => {
    let found = anchorCache.get(file);
    if (!found) anchorCache.set(file, (found = anchorsOf(readFileSync(file, 'utf8'))));
    return found;
  };
  const scripts = new Set(Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {}));
  const code = CODE_PLACES.flatMap((p) => codeFiles(join(root, p)))
    .filter((f) => !f.endsWith(join('scripts', 'check-doc-links.ts')) && !f.includes(`${sep}test${sep}docs${sep}`))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const mentioned = new Set<string>();

  for (const file of docFiles(root)) {
    const text = readFileSync(file, 'utf8');
    for (const line of linesOf(text)) {
      const at = (message: string) => problems.push({ file: rel(file), line: line.n, message });

      for (const outside of OUTSIDE) if (line.text.includes(outside)) at(`refers to ${outside}, outside the repository`);

      for (const m of line.text.matchAll(/\bnpm\s+(?:run(?:\s+-s)?\s+([A-Za-z][\w:*-]*)|(start|test)\b)/g)) {
        const script = m[1] ?? m[2]!;
        // `bench:*` stands for every script with that prefix: at least one must exist.
        const known = script.endsWith('*') ? [...scripts].some((s) => s.startsWith(script.slice(0, -1))) : scripts.has(script);
        if (!known) at(`npm script "${script}" is not in package.json`);
      }

      for (const m of line.text.matchAll(ENV_NAME)) mentioned.add(m[0]);
      for (const m of line.text.matchAll(SHORT_ENV)) mentioned.add(m[1] ?? m[2]!);
      for (const m of line.text.matchAll(ENV_NAME)) {
        if (!new RegExp(`\\b${m[0]}\\b`).test(code)) at(`environment variable ${m[0]} is read nowhere in the code`);
      }

      if (line.code) continue;
      for (const m of withoutCodeSpans(line.text).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        const target = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const [pathPart = '', anchor] = target.split('#', 2) as [string, string | undefined];
        const resolved = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart));
        if (resolved !== root && !resolved.startsWith(root + sep)) {
          at(`link ${target} leaves the repository`);
          continue;
        }
        if (!existsSync(resolved)) {
          at(`link ${target}: no such file`);
          continue;
        }
        if (anchor !== undefined) {
          if (!resolved.endsWith('.md') || statSync(resolved).isDirectory()) at(`link ${target}: an anchor into a file that is not Markdown`);
          else if (!anchors(resolved).has(anchor)) at(`link ${target}: no heading with that anchor in ${rel(resolved)}`);
        }
      }
    }
  }

  const configFile = join(root, 'server', 'config.ts');
  if (existsSync(configFile)) {
    for (const name of configVariables(readFileSync(configFile, 'utf8'))) {
      if (!mentioned.has(name)) problems.push({ file: 'server/config.ts', line: 0, message: `environment variable ${name} is not documented` });
    }
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const problems = checkDocs(root);
  for (const p of problems) console.log(`${p.file}:${p.line}: ${p.message}`);
  console.log(problems.length === 0 ? `docs: ${docFiles(root).length} files, no problems` : `docs: ${problems.length} problems`);
  process.exit(problems.length === 0 ? 0 : 1);
}
