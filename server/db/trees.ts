/** Trees: create, describe, read seqs. `seq` is a bigint in Postgres and a number here: it
 * counts operations, far below 2^53. */
import type pg from 'pg';
import { TreesyncError } from '../../protocol/errors.ts';
import type { DeletesOption } from '../../protocol/tree.ts';

export function treeNotFound(tree: string): TreesyncError {
  return new TreesyncError('tree_not_found', `tree ${tree} does not exist`);
}

/** Creates the tree (with ROOT and TRASH, and its options) unless it exists; answers the
 * options it has (those it was created with). */
export async function createTree(
  pool: pg.Pool,
  tree: string,
  options: { deletes?: DeletesOption } = {},
): Promise<{ created: boolean; seq: number; deletes: DeletesOption }> {
  const { rows } = await pool.query<{ created: boolean }>('select treesync.create_tree($1, $2::jsonb) as created', [
    tree,
    JSON.stringify(options),
  ]);
  // Read after the call, in a statement of its own: a tree created concurrently by another
  // request is visible only once create_tree has waited for that request's commit.
  const { seq, deletes } = await treeInfo(pool, tree);
  return { created: rows[0]!.created, seq: rows[0]!.created ? 0 : seq, deletes };
}

/** The tree's seq; 404 when there is no such tree. */
export async function treeSeq(pool: pg.Pool, tree: string): Promise<number> {
  const { rows } = await pool.query<{ seq: string }>('select seq from treesync.trees where id = $1', [tree]);
  if (rows.length === 0) throw treeNotFound(tree);
  return Number(rows[0]!.seq);
}

/** The seq of each of `trees` that exists. */
export async function treeSeqs(pool: pg.Pool, trees: string[]): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: string; seq: string }>(
    'select id, seq from treesync.trees where id = any($1)',
    [trees],
  );
  return new Map(rows.map((r) => [r.id, Number(r.seq)]));
}

/** The tree's seq, how many nodes it has (ROOT and TRASH included) and its `deletes` option,
 * from one snapshot. */
export async function treeInfo(
  pool: pg.Pool,
  tree: string,
): Promise<{ seq: number; nodes: number; deletes: DeletesOption }> {
  const { rows } = await pool.query<{ seq: string; nodes: string; deletes: DeletesOption }>(
    `select t.seq, t.deletes, (select count(*) from treesync.nodes n where n.tree = t.id) as nodes
       from treesync.trees t where t.id = $1`,
    [tree],
  );
  if (rows.length === 0) throw treeNotFound(tree);
  return { seq: Number(rows[0]!.seq), nodes: Number(rows[0]!.nodes), deletes: rows[0]!.deletes };
}
