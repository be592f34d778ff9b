/**
 * The docs stand alone and stay true to the repository: links and anchors resolve, nothing
 * points outside it, and the npm scripts and environment variables they name exist
 * (scripts/check-doc-links.ts). The second part proves the check finds each kind of problem.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { checkDocs, slug } from '../../scripts/check-doc-links.ts';

const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');

test('README.md and docs/*.md: every link, anchor, npm script and environment variable resolves', () => {
  expect(checkDocs(ROOT)).toEqual([]);
});

describe('the check itself', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treesync-doc-check-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('headings become GitHub anchors', () => {
    expect(slug('`GET /v1/trees/:tree/events` (WebSocket)')).toBe('get-v1treestreeevents-websocket');
    expect(slug('bench:merge (e): a random tree, Postgres 15 and 18')).toBe('benchmerge-e-a-random-tree-postgres-15-and-18');
  });

  test('finds a missing file, a missing anchor, an outside path, an unknown script and variable', () => {
    mkdirSync(join(dir, 'docs'), { recursive: true });
    mkdirSync(join(dir, 'server'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ scripts: { start: 'x', test: 'x', 'bench:a': 'x' } }));
    writeFileSync(join(dir, 'server', 'config.ts'), "const a = read('TREESYNC_KNOWN'); const b = int('TREESYNC_UNDOCUMENTED', 1);\n");
    writeFileSync(
      join(dir, 'README.md'),
      [
        '# Title',
        '',
        '## Run it',
        '',
        'See [ops](docs/ops.md#faults), [run](#run-it), [gone](docs/gone.md), [bad anchor](docs/ops.md#nope).',
        'Not a link: `[x](nowhere.md)`. Also [web](https://example.com/x.md).',
        '`npm run bench:a`, `npm run bench:*`, `npm start`, `npm run nothing`.',
        '`TREESYNC_KNOWN` and `TREESYNC_MADE_UP`. See ../shared/design.md.',
        '',
        '```sh',
        '[not](checked.md)',
        '```',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'docs', 'ops.md'), '# Ops\n\n## Faults\n\n[back](../README.md#title) [out](../../elsewhere.md)\n');

    const found = checkDocs(dir).map((p) => `${p.file}:${p.line}: ${p.message}`);
    expect(found).toEqual([
      'README.md:5: link docs/gone.md: no such file',
      'README.md:5: link docs/ops.md#nope: no heading with that anchor in docs/ops.md',
      'README.md:7: npm script "nothing" is not in package.json',
      'README.md:8: refers to ../shared/, outside the repository',
      'README.md:8: environment variable TREESYNC_MADE_UP is read nowhere in the code',
      'docs/ops.md:5: link ../../elsewhere.md leaves the repository',
      'server/config.ts:0: environment variable TREESYNC_UNDOCUMENTED is not documented',
    ]);
  });
});
