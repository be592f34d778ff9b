/**
 * A tree as an app sees it, for comparing clients with the server: every node reachable from
 * ROOT and from TRASH, depth first in sibling order, with its parent, order key and live fields.
 * From a client it is read with `children` only (what an app reads); from the server, built
 * from GET /state the same way (siblings by (pos, id) bytewise).
 */
import type { TreeClient } from '../../client/index.ts';

export interface ViewRow {
  id: string;
  parent: string;
  pos: string;
  fields: Record<string, unknown>;
}

export async function clientView(client: Pick<TreeClient, 'children'>): Promise<ViewRow[]> {
  const rows: ViewRow[] = [];
  const walk = async (parent: string) => {
    for (const child of await client.children(parent)) {
      rows.push({ id: child.id, parent, pos: child.pos, fields: child.fields });
      await walk(child.id);
    }
  };
  await walk('ROOT');
  await walk('TRASH');
  return rows;
}

interface State {
  nodes: Array<{ id: string; parent: string | null; pos: string }>;
  values: Array<{ node: string; key: string; value: unknown }>;
}

const bytewise = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function stateView(state: State): ViewRow[] {
  const kids = new Map<string, Array<{ id: string; pos: string }>>();
  for (const n of state.nodes) {
    if (n.parent === null) continue;
    const list = kids.get(n.parent) ?? [];
    list.push({ id: n.id, pos: n.pos });
    kids.set(n.parent, list);
  }
  const fields = new Map<string, Record<string, unknown>>();
  for (const v of [...state.values].sort((a, b) => bytewise(a.key, b.key))) {
    const f = fields.get(v.node) ?? {};
    f[v.key] = v.value;
    fields.set(v.node, f);
  }
  const rows: ViewRow[] = [];
  const walk = (parent: string) => {
    const list = (kids.get(parent) ?? []).sort((a, b) => bytewise(a.pos, b.pos) || bytewise(a.id, b.id));
    for (const c of list) {
      rows.push({ id: c.id, parent, pos: c.pos, fields: fields.get(c.id) ?? {} });
      walk(c.id);
    }
  };
  walk('ROOT');
  walk('TRASH');
  return rows;
}
