/** The trash listing (`GET /trash`): one statement, so the seq and the entries belong together. */
import type pg from 'pg';
import { tsReplica } from '../../protocol/ops.ts';
import type { TrashResponse } from '../../protocol/trash.ts';
import { treeNotFound } from './trees.ts';

interface Row {
  seq: string;
  node: string | null;
  ts: string | null;
  old_parent: string | null;
  old_pos: string | null;
  parent_exists: boolean | null;
}

/** The newest `limit` tops of deleted subtrees (treesync.trash, sql/000010-trash-origins.sql). */
export async function readTrash(pool: pg.Pool, tree: string, limit: number): Promise<TrashResponse> {
  const { rows } = await pool.query<Row>(
    `select t.seq, x.node, x.ts, x.old_parent, x.old_pos, x.parent_exists
       from treesync.trees t
       left join lateral treesync.trash(t.id, $2) x on true
      where t.id = $1`,
    [tree, limit + 1],
  );
  if (rows.length === 0) throw treeNotFound(tree);
  const entries = rows
    .filter((r) => r.node !== null)
    .map((r) => ({
      node: r.node!,
      ts: r.ts!,
      replica: tsReplica(r.ts!),
      parent: r.old_parent,
      pos: r.old_pos,
      parentExists: r.parent_exists === true,
    }));
  return { tree, seq: Number(rows[0]!.seq), entries: entries.slice(0, limit), more: entries.length > limit };
}
