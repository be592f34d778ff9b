/**
 * A parent's children in sibling order, (pos, id) bytewise, with their live fields: one index
 * range of `nodes_by_parent` and a probe of `fields` per child.
 */
import type { Db } from './sqlite-db.ts';

export async function childrenOf(db: Db, parent: string): Promise<Array<{ id: string; pos: string; fields: Record<string, unknown> }>> {
  const kids = await db.all('select id, pos from nodes where parent = ? order by pos, id', [parent]);
  const out: Array<{ id: string; pos: string; fields: Record<string, unknown> }> = [];
  for (const [id, pos] of kids) {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of await db.all('select key, value from fields where node = ? and value is not null order by key', [id as string])) {
      fields[key as string] = JSON.parse(value as string);
    }
    out.push({ id: id as string, pos: pos as string, fields });
  }
  return out;
}
