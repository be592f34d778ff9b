/**
 * A large tree written straight into the tables with `generate_series`, for tests and benchmarks
 * that need hundreds of thousands of nodes in seconds rather than the minutes `apply_ops` would
 * take. It bypasses the merge, so its shape is made valid by construction:
 *
 * - node i (1-based, id `n` + 7 digits) hangs under node floor(i / fanout), or ROOT for the
 *   first ones: every parent exists and is older, so there is no cycle;
 * - each node has one logged creation move (ts `WWWWWWWWWWWWW.00000.gen`, in id order, applied,
 *   no old parent) and `fieldsPerNode` text fields set at the same wall time (counter 1, 2, …);
 * - the tree's seq is the number of those operations. `treesync.ops` is left empty: nothing
 *   here reads it, and the merge only looks there for duplicates of new operations.
 */
import type pg from 'pg';

export interface SyntheticTreeOptions {
  nodes: number;
  /** Children per node (default 10). */
  fanout?: number;
  /** Fields per node (default 1). */
  fieldsPerNode?: number;
  /** Length of each field's string value (default 40 characters). */
  valueChars?: number;
}

const BASE_WALL = 1_700_000_000_000;

export async function insertSyntheticTree(db: { query: pg.Pool['query'] }, tree: string, opts: SyntheticTreeOptions): Promise<void> {
  const { nodes, fanout = 10, fieldsPerNode = 1, valueChars = 40 } = opts;
  const id = (expr: string) => `'n' || lpad((${expr})::text, 7, '0')`;
  const ts = (counter: string) =>
    `lpad((${BASE_WALL}::bigint + i)::text, 13, '0') || '.' || lpad((${counter})::text, 5, '0') || '.gen'`;
  const parent = `case when i / $2 = 0 then 'ROOT' else ${id('i / $2')} end`;
  await db.query('select treesync.create_tree($1)', [tree]);
  await db.query(
    `insert into treesync.nodes (tree, id, parent, pos)
     select $1, ${id('i')}, ${parent}, 'a' || to_hex(i) from generate_series(1, $3::int) i`,
    [tree, fanout, nodes],
  );
  await db.query(
    `insert into treesync.moves (tree, ts, node, parent, pos, old_parent, old_pos, applied)
     select $1, ${ts('0')}, ${id('i')}, ${parent}, 'a' || to_hex(i), null, null, true
     from generate_series(1, $3::int) i`,
    [tree, fanout, nodes],
  );
  if (fieldsPerNode > 0) {
    // md5 text repeated to the length asked: varied enough that gzip does not make it vanish.
    await db.query(
      `insert into treesync.fields (tree, node, key, value, ts)
       select $1, ${id('i')}, 'k' || k, to_jsonb(left(repeat(md5(i::text || '/' || k), ($3::int + 31) / 32), $3::int)), ${ts('k')}
       from generate_series(1, $2::int) i, generate_series(1, $4::int) k`,
      [tree, nodes, valueChars, fieldsPerNode],
    );
  }
  await db.query('update treesync.trees set seq = $2 where id = $1', [tree, nodes * (1 + fieldsPerNode)]);
  await db.query('analyze treesync.nodes, treesync.moves, treesync.fields');
}
