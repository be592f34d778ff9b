/**
 * Pages of stored operations, in seq order, for pulls and for what a push answers.
 *
 * Never skipping an operation: seqs are handed out under the tree's row lock, held until
 * commit, so they become visible in seq order: a snapshot that sees seq N+1 sees N. One
 * statement reads the tree's seq and the page from one snapshot, so the page ends where the
 * seq it reports says.
 */
import type pg from 'pg';
import type { Json, StoredOp } from '../../protocol/ops.ts';
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

export interface Page {
  /** The tree's seq in the snapshot the page was read from. */
  treeSeq: number;
  /** Operations with a seq up to this may be gone (truncated or purged): a reader whose
   * position is below it must bootstrap again. From the same snapshot as the page. */
  keptSeq: number;
  /** The tree's stability frontier, or null when it has none. */
  frontier: string | null;
  ops: StoredOp[];
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
  value: Json;
}

/** Bytes an op takes on the wire beyond its value, roughly (its ids, ts, keys, punctuation). */
const OP_OVERHEAD_BYTES = 160;

export async function readOps(pool: pg.Pool, tree: string, req: PageRequest): Promise<Page> {
  const { rows } = await pool.query<Row>(
    `select t.seq as tree_seq, t.kept_seq, fr.frontier, p.seq, p.ts, p.type, p.node, p.parent, p.pos, p.key, p.value
       from treesync.trees t
       cross join lateral (select treesync.frontier(t.id) as frontier offset 0) fr
       left join lateral (
         select w.* from (
           select o.*,
                  row_number() over w as n,
                  sum(coalesce(octet_length(o.value::text), 0) + $5) over w as bytes
             from (select o.seq, o.ts, o.type, o.node, o.parent, o.pos, o.key, o.value
                     from treesync.ops o
                    where o.tree = t.id and o.seq > $2 and o.seq <= least(t.seq, $3)
                    order by o.seq
                    limit $4) o
           window w as (order by o.seq)
         ) w
         where w.n = 1 or w.bytes <= $6
       ) p on true
      where t.id = $1
      order by p.seq`,
    [tree, req.after, req.upTo ?? null, req.limit, OP_OVERHEAD_BYTES, req.maxBytes],
  );
  if (rows.length === 0) throw treeNotFound(tree);
  const treeSeq = Number(rows[0]!.tree_seq);
  const ops = rows.filter((r) => r.seq !== null).map(toStoredOp);
  const end = Math.min(treeSeq, req.upTo ?? treeSeq);
  const last = ops.at(-1)?.seq ?? req.after;
  return { treeSeq, keptSeq: Number(rows[0]!.kept_seq), frontier: rows[0]!.frontier, ops, more: last < end };
}

function toStoredOp(r: Row): StoredOp {
  const seq = Number(r.seq);
  return r.type === 'move'
    ? { seq, ts: r.ts, type: 'move', node: r.node, parent: r.parent!, pos: r.pos! }
    : { seq, ts: r.ts, type: 'set', node: r.node, key: r.key!, value: r.value };
}
