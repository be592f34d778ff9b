/**
 * Pages of stored operations, in seq order, for pulls and for what pushes answer.
 *
 * Never skipping an operation: seqs are handed out under the tree's row lock, held until
 * commit, so they become visible in seq order: a snapshot that sees seq N+1 sees N. One
 * statement reads the tree's seq and the pages from one snapshot, so a page ends where the
 * seq it reports says.
 *
 * Several pages in one statement: the pushes merged in one transaction (group-commit.ts) each
 * answer the ops after their own `seen`, mostly the same ones. They are read once, each op is
 * made into its JSON text (UTF-8) once, and every answer copies in the texts it needs
 * (http/json-with-ops.ts): no per-op objects, and no op parsed and serialised again per
 * answer. A value goes out as Postgres' text of its jsonb, never parsed in Node.
 */
import type pg from 'pg';
import { treeNotFound } from './trees.ts';

export interface PageRequest {
  /** Ops with a seq greater than this. */
  after: number;
  /** And at most this seq (default: the tree's seq). */
  upTo?: number;
  /** At most this many ops. */
  limit: number;
  /** Stop before the op that takes the page's approximate size past this many bytes; the
   * page always holds at least one op. */
  maxBytes: number;
}

/** A stored op (protocol `StoredOp`) as its JSON text in UTF-8, ready to be copied into an
 * answer (encoded once however many answers carry it). */
export interface OpJson {
  seq: number;
  json: Buffer;
}

export interface Page {
  /** The tree's seq in the snapshot the page was read from. */
  treeSeq: number;
  /** Operations with a seq up to this may be gone (truncated or purged): a reader whose
   * position is below it must bootstrap again. From the same snapshot as the page. */
  keptSeq: number;
  /** The tree's stability frontier, or null when it has none. */
  frontier: string | null;
  ops: OpJson[];
  /** Ops remain after the page (up to `upTo`, or the tree's seq). */
  more: boolean;
}

interface Row {
  tree_seq: string;
  kept_seq: string;
  frontier: string | null;
  seq: string | null;
  ts: string;
  type: 'move' | 'set';
  node: string;
  parent: string | null;
  pos: string | null;
  key: string | null;
  /** The jsonb value as Postgres prints it (valid JSON). */
  value: string | null;
}

/** Bytes an op takes on the wire beyond its value, roughly (its ids, ts, keys, punctuation). */
const OP_OVERHEAD_BYTES = 160;

export async function readOps(db: pg.Pool | pg.PoolClient, tree: string, req: PageRequest): Promise<Page> {
  return (await readPages(db, tree, [req]))[0]!;
}

/** One page per request, all from one snapshot. */
export async function readPages(db: pg.Pool | pg.PoolClient, tree: string, reqs: readonly PageRequest[]): Promise<Page[]> {
  // Above kept_seq every seq has its op (truncation and purges only remove a prefix), so a
  // page of at most `limit` ops lies within seqs `after+1 .. after+limit`: read the union of
  // those ranges, each seq once, one index probe per range.
  const ranges = mergeRanges(reqs.map((r) => [r.after, Math.min(r.upTo ?? Infinity, r.after + r.limit)] as const));
  const { rows } = await db.query<Row>(
    `select t.seq as tree_seq, t.kept_seq, fr.frontier, p.seq, p.ts, p.type, p.node, p.parent, p.pos, p.key, p.value
       from treesync.trees t
       cross join lateral (select treesync.frontier(t.id) as frontier offset 0) fr
       left join lateral (
         select o.seq, o.ts, o.type, o.node, o.parent, o.pos, o.key, o.value::text as value
           from unnest($2::bigint[], $3::bigint[]) as r(after, up_to)
           cross join lateral (select o.* from treesync.ops o
                                where o.tree = t.id and o.seq > r.after and o.seq <= least(t.seq, r.up_to)
                                offset 0) o
       ) p on true
      where t.id = $1
      order by p.seq`,
    [tree, ranges.map((r) => r[0]), ranges.map((r) => r[1])],
  );
  if (rows.length === 0) throw treeNotFound(tree);
  const head = rows[0]!;
  const treeSeq = Number(head.tree_seq);
  const ops = head.seq === null ? [] : rows.map(toOpJson);
  return reqs.map((req) => page(req, ops, treeSeq, Number(head.kept_seq), head.frontier));
}

/** The page of `req` out of the ops read for all requests (in seq order). */
function page(req: PageRequest, ops: readonly (OpJson & { bytes: number })[], treeSeq: number, keptSeq: number, frontier: string | null): Page {
  const end = Math.min(treeSeq, req.upTo ?? treeSeq);
  const taken: OpJson[] = [];
  let bytes = 0;
  for (let i = firstAfter(ops, req.after); i < ops.length && taken.length < req.limit; i++) {
    const op = ops[i]!;
    if (op.seq > end) break;
    bytes += op.bytes;
    if (taken.length > 0 && bytes > req.maxBytes) break;
    taken.push(op);
  }
  const last = taken.at(-1)?.seq ?? req.after;
  return { treeSeq, keptSeq, frontier, ops: taken, more: last < end };
}

/** The index of the first op with a seq above `after` (binary search). */
function firstAfter(ops: readonly OpJson[], after: number): number {
  let lo = 0;
  let hi = ops.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ops[mid]!.seq <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Ranges of seqs `after+1 .. upTo`, merged where they overlap or touch, in order (the query
 * bounds each by the tree's seq). */
function mergeRanges(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const merged: Array<[number, number]> = [];
  for (const [after, upTo] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (upTo <= after) continue;
    const last = merged.at(-1);
    if (last && after <= last[1]) last[1] = Math.max(last[1], upTo);
    else merged.push([after, upTo]);
  }
  return merged;
}

/** The op as the protocol's `StoredOp`, in its field order; its size as the page counts it
 * (the value's bytes as Postgres prints it, and the overhead). */
function toOpJson(r: Row): OpJson & { bytes: number } {
  const seq = Number(r.seq);
  const head = `{"seq":${seq},"ts":${JSON.stringify(r.ts)},"type":"${r.type}","node":${JSON.stringify(r.node)}`;
  const json =
    r.type === 'move'
      ? `${head},"parent":${JSON.stringify(r.parent)},"pos":${JSON.stringify(r.pos)}}`
      : `${head},"key":${JSON.stringify(r.key)},"value":${r.value}}`;
  return { seq, json: Buffer.from(json), bytes: (r.value === null ? 0 : Buffer.byteLength(r.value)) + OP_OVERHEAD_BYTES };
}
