// The pages of several readers from one statement (server/db/read-ops.ts, used by the group
// commit for every push of a group): each is exactly the page the rule gives for its own
// request, read from the stored rows here: the ops after `after`, up to `upTo` and the tree's
// seq, at most `limit`, cut before the op that takes the approximate size (the value's bytes
// as Postgres prints it, plus 160 an op) past `maxBytes`, at least one.
import { expect, test } from 'vitest';
import { formatTs, type Op } from '../../protocol/ops.ts';
import { storedOpSchema } from '../../protocol/op-schema.ts';
import { type PageRequest, readPages } from '../../server/db/read-ops.ts';
import { useTestDb } from '../pg/db.ts';

const db = useTestDb();

interface Stored {
  seq: number;
  op: unknown;
  bytes: number;
}

async function stored(tree: string): Promise<Stored[]> {
  const { rows } = await db.query<{ seq: string; ts: string; type: string; node: string; parent: string | null; pos: string | null; key: string | null; value: unknown; bytes: number }>(
    `select seq, ts, type, node, parent, pos, key, value, coalesce(octet_length(value::text), 0) + 160 as bytes
       from treesync.ops where tree = $1 order by seq`,
    [tree],
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    bytes: r.bytes,
    op: r.type === 'move'
      ? { seq: Number(r.seq), ts: r.ts, type: 'move', node: r.node, parent: r.parent, pos: r.pos }
      : { seq: Number(r.seq), ts: r.ts, type: 'set', node: r.node, key: r.key, value: r.value },
  }));
}

function expected(all: Stored[], req: PageRequest) {
  const treeSeq = all.at(-1)!.seq;
  const end = Math.min(treeSeq, req.upTo ?? treeSeq);
  const page: Stored[] = [];
  let bytes = 0;
  for (const s of all.filter((s) => s.seq > req.after && s.seq <= end).slice(0, req.limit)) {
    bytes += s.bytes;
    if (page.length > 0 && bytes > req.maxBytes) break;
    page.push(s);
  }
  return { ops: page.map((s) => s.op), more: (page.at(-1)?.seq ?? req.after) < end };
}

test('several readers, overlapping and not, each get the page of their own request', async () => {
  await db.query('select treesync.create_tree($1)', ['pages']);
  const at = (i: number) => formatTs(1_700_000_000_000 + i, 0, 'w');
  const ops: Op[] = [];
  for (let i = 0; i < 60; i++) {
    ops.push({ ts: at(2 * i), type: 'move', node: `n${i}`, parent: i % 7 ? `n${i - 1}` : 'ROOT', pos: 'a' });
    // values of all sizes, with characters of several bytes and what JSON escapes
    if (i % 3 === 0) ops.push({ ts: at(2 * i + 1), type: 'set', node: `n${i}`, key: 'title', value: { 'k"\\': 'x', text: 'é😀"'.repeat(i * 5), n: i, list: [null, true, 1.5] } });
  }
  await db.query('select treesync.apply_ops($1, $2::jsonb)', ['pages', JSON.stringify(ops)]);
  const all = await stored('pages');
  expect(all.length).toBe(80);

  const reqs: PageRequest[] = [
    { after: 0, limit: 1000, maxBytes: 1_000_000 },
    { after: 0, upTo: 30, limit: 1000, maxBytes: 1_000_000 },
    { after: 10, upTo: 40, limit: 7, maxBytes: 1_000_000 },
    { after: 12, upTo: 80, limit: 1000, maxBytes: 2_000 }, // cut by size
    { after: 45, limit: 1000, maxBytes: 10 }, // one op, whatever its size
    { after: 70, upTo: 70, limit: 1, maxBytes: 1_000 }, // nothing to send
    { after: 79, limit: 5, maxBytes: 1_000 },
    { after: 80, limit: 5, maxBytes: 1_000 },
  ];
  const pages = await readPages(db.pool, 'pages', reqs);
  pages.forEach((page, i) => {
    const ops = page.ops.map((o) => JSON.parse(o.json.toString('utf8')) as unknown);
    expect({ ops, more: page.more }, JSON.stringify(reqs[i])).toEqual(expected(all, reqs[i]!));
    ops.forEach((op) => storedOpSchema.parse(op));
    expect(page.ops.map((o) => o.seq)).toEqual(ops.map((o) => (o as { seq: number }).seq));
    expect(page).toMatchObject({ treeSeq: 80, keptSeq: 0, frontier: null });
  });
  // the cases above are what they say
  expect(pages.map((p) => [p.ops.length, p.more])).toEqual([[80, false], [30, false], [7, true], [pages[3]!.ops.length, true], [1, true], [0, false], [1, false], [0, false]]);
  expect(pages[3]!.ops.length).toBeLessThan(68);

  await expect(readPages(db.pool, 'nowhere', reqs)).rejects.toMatchObject({ code: 'tree_not_found' });
});
