/**
 * The demo outliner opening a tree of 100,000 nodes in a real Chromium (a fresh OPFS replica,
 * a real server and Postgres): while the snapshot streams in, the page shows its progress with
 * growing counts; then the progress goes away and the outline shows the tree, its top level
 * exactly the server's, its first items open and the rest closed behind "more".
 *
 * The tree is written with SQL (test/snapshot/synthetic-tree.ts: ten children per node), its
 * one field per node renamed `text` so the page shows it.
 */
import { expect, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from '../server/harness.ts';
import { insertSyntheticTree } from '../snapshot/synthetic-tree.ts';
import { openDemo, shownOutline, useDemo } from './demo-page.ts';

const db = useTestDb();
const server = useTestServer(db, { env: { TREESYNC_CORS_ORIGINS: 'loopback' } });
const demo = useDemo(() => server.url);

const NODES = 100_000;
const TREE = 'big';

/** Records, in the page, every text the progress line shows (from before the page's script). */
const RECORD_PROGRESS = `(() => {
  const seen = (globalThis.progressSeen = []);
  new MutationObserver(() => {
    const text = document.querySelector('#progress')?.textContent ?? null;
    if (text !== null && text !== seen[seen.length - 1]) seen.push(text);
  }).observe(document, { childList: true, subtree: true, characterData: true });
})()`;

/** The server's children of `parent`, in sibling order. */
async function childrenOf(parent: string): Promise<string[]> {
  const res = await db.pool.query<{ id: string }>(
    `select id from treesync.nodes where tree = $1 and parent = $2 order by pos collate "C", id collate "C"`,
    [TREE, parent],
  );
  return res.rows.map((r) => r.id);
}

test('a page bootstrapping a 100,000-node tree shows its progress, then the tree', async () => {
  await insertSyntheticTree(db.pool, TREE, { nodes: NODES, fieldsPerNode: 1, valueChars: 12 });
  await db.pool.query(`update treesync.fields set key = 'text' where tree = $1 and key = 'k1'`, [TREE]);
  const top = await db.pool.query<{ id: string; text: string }>(
    `select n.id, f.value #>> '{}' as text from treesync.nodes n join treesync.fields f on (f.tree, f.node, f.key) = (n.tree, n.id, 'text')
     where n.tree = $1 and n.parent = 'ROOT' order by n.pos collate "C", n.id collate "C"`,
    [TREE],
  );
  expect(top.rows.length).toBe(9);

  const { page: served, browsers } = demo();
  const context = browsers[0].context;
  await context.addInitScript(RECORD_PROGRESS);
  const page = await openDemo(context, served.url, { tree: TREE, server: server.url, token: await server.token() });
  try {
    await expect
      .poll(async () => (await shownOutline(page)).map((i) => ({ id: i.id, text: i.text })), { timeout: 90_000, interval: 250 })
      .toEqual(top.rows);
    expect(await page.textContent('#progress')).toBe('');

    // Progress was shown, its counts growing (never back), up to the whole tree's rows.
    const seen = await page.evaluate(() => (globalThis as unknown as { progressSeen: string[] }).progressSeen);
    const shown = seen.filter((t) => t !== '' && t !== 'loading the tree: waiting for the server');
    const counts = shown.map((t) => /^loading the tree: ([\d,]+) of ([\d,]+) rows$/.exec(t)).map((m) => m && [Number(m[1]!.replaceAll(',', '')), Number(m[2]!.replaceAll(',', ''))]);
    for (const c of counts) expect(c, JSON.stringify(seen)).not.toBeNull();
    const rows = counts.map((c) => c![0]!);
    expect(rows).toEqual([...rows].sort((a, b) => a - b));
    expect(new Set(rows).size, JSON.stringify(seen)).toBeGreaterThanOrEqual(2);
    for (const c of counts) expect(c![1], JSON.stringify(seen)).toBeGreaterThanOrEqual(NODES * 3);

    // The first item is open down to a leaf, each level the server's children in order; the
    // last top-level item (past the first few hundred drawn) is closed, and "more" opens it.
    const outline = await shownOutline(page);
    let level = outline;
    for (let parent = 'ROOT'; ; ) {
      const expected = await childrenOf(parent);
      expect(level.map((i) => i.id)).toEqual(expected);
      if (expected.length === 0) break;
      parent = level[0]!.id;
      level = level[0]!.children;
    }
    const last = outline.at(-1)!;
    expect(last.children).toEqual([]);
    await page.locator(`li[data-id="${last.id}"] > button.more`).click();
    const under = await childrenOf(last.id);
    expect(under.length).toBeGreaterThan(0);
    await expect.poll(async () => (await shownOutline(page)).at(-1)!.children.map((i) => i.id), { timeout: 30_000 }).toEqual(under);
  } finally {
    await page.close();
  }
}, 180_000);
