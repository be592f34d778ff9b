/**
 * The trash as the replica knows it (docs/deletes.md, "The trash and undelete"): the tops of
 * deleted subtrees (children of TRASH), newest delete first, and where undelete puts a node
 * back. Everything comes from the replica itself, no request: the delete that put a top in
 * the trash is its latest applied move in the replica's move log (the log from the stability
 * frontier F on) or, once that row has dropped below F, what the replica kept of it
 * (`trash_origins`, frontier.ts). A replica that bootstrapped after F passed a delete never
 * had its row: such a top is listed last, without when, by whom or where from, and undelete
 * puts it at the end of ROOT.
 */
import { ROOT, TRASH } from '../../protocol/ops.ts';
import type { TrashItem } from '../worker-api.ts';
import type { Db } from './sqlite-db.ts';

/** A timestamp's replica: what follows `wall.counter.` (protocol/ops.ts, formatTs). */
const replicaOfTs = (ts: string) => ts.slice(20);

/**
 * At most `limit` tops of the trash, newest delete first, then those whose delete is older
 * than the log (by id). One range of `nodes_by_parent` for the tops and one pass over the
 * move log (which truncation at F keeps short) for their latest applied moves.
 */
export async function listTrash(db: Db, limit: number): Promise<TrashItem[]> {
  const rows = await db.all(
    `with logged as (
       -- SQLite takes the other columns from the row holding max(ts)
       select node, max(ts) as ts, parent, old_parent, old_pos
         from moves
        where applied and node in (select id from nodes where parent = ?1)
        group by node
     ), origin as (
       select n.id, coalesce(l.ts, o.ts) as ts,
              case when l.ts is null then o.old_parent else l.old_parent end as old_parent,
              case when l.ts is null then o.old_pos else l.old_pos end as old_pos
         from nodes n
         left join logged l on l.node = n.id and l.parent = ?1
         left join trash_origins o on o.node = n.id
        where n.parent = ?1
     )
     select id, ts, old_parent, old_pos, exists (select 1 from nodes p where p.id = old_parent)
       from origin
      order by ts is null, ts desc, id
      limit ?2`,
    [TRASH, limit],
  );
  const out: TrashItem[] = [];
  for (const [node, ts, parent, pos, parentExists] of rows) {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of await db.all('select key, value from fields where node = ? and value is not null order by key', [node as string])) {
      fields[key as string] = JSON.parse(value as string);
    }
    out.push({
      node: node as string,
      ts: (ts as string | null) ?? null,
      replica: ts === null ? null : replicaOfTs(ts as string),
      parent: (parent as string | null) ?? null,
      pos: (pos as string | null) ?? null,
      parentExists: Number(parentExists) === 1,
      fields,
    });
  }
  return out;
}

/** Whether `id` is TRASH or inside it, or not in the tree at all (undefined). */
async function inTrash(db: Db, id: string): Promise<boolean | undefined> {
  const top = await db.get(
    `with recursive up(id, parent, depth) as (
       select id, parent, 0 from nodes where id = ?1
       union all select n.id, n.parent, up.depth + 1 from nodes n join up on n.id = up.parent
        where up.depth < 1000000)
     select id from up order by depth desc limit 1`,
    [id],
  );
  return top === undefined ? undefined : top[0] === TRASH;
}

/**
 * Where undelete puts `id` (a node inside the trash): the parent and order key the move that
 * put it where it is took it from (from the log, else trash_origins), when that parent exists
 * outside the trash; else the end of ROOT (`pos` null: after the last child).
 */
export async function undeleteTarget(db: Db, id: string): Promise<{ parent: string; pos: string | null } | 'not_in_trash' | 'unknown'> {
  if (id === TRASH) return 'not_in_trash';
  const where = await inTrash(db, id);
  if (where === undefined) return 'unknown';
  if (!where) return 'not_in_trash';
  const last =
    (await db.get('select old_parent, old_pos from moves where node = ?1 and applied order by ts desc limit 1', [id])) ??
    (await db.get('select old_parent, old_pos from trash_origins where node = ?1', [id]));
  const parent = last?.[0] as string | null | undefined;
  if (typeof parent === 'string' && parent !== TRASH && (await inTrash(db, parent)) === false) {
    return { parent, pos: last![1] as string };
  }
  return { parent: ROOT, pos: null };
}

