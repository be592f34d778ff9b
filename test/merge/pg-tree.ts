/**
 * Test helpers for the merge in Postgres: create trees, apply batches, and read a tree back in
 * the canonical form the reference model produces, so the two compare with `toEqual`.
 */
import type pg from 'pg';
import type { Json, Op } from '../../protocol/ops.ts';

export interface Queryable {
  query: pg.Pool['query'];
}

export interface TreeSnapshot {
  nodes: Array<{ id: string; parent: string | null; pos: string }>;
  fields: Array<{ node: string; key: string; value: Json }>;
}

export interface ApplyResult {
  seq: number;
  accepted: number;
  duplicates: number;
  first_seq: number | null;
  undone: number;
  redone: number;
  skipped: number;
}

export async function createTree(db: Queryable, tree: string): Promise<boolean> {
  const { rows } = await db.query<{ created: boolean }>('select treesync.create_tree($1) as created', [tree]);
  return rows[0]!.created;
}

export async function applyOps(db: Queryable, tree: string, ops: unknown): Promise<ApplyResult> {
  const { rows } = await db.query<{ result: ApplyResult }>(
    'select treesync.apply_ops($1, $2::jsonb) as result',
    [tree, JSON.stringify(ops)],
  );
  return rows[0]!.result;
}

/** Applies `ops` and returns the error Postgres raised, failing the test if there was none. */
export async function applyOpsError(
  db: Queryable,
  tree: string,
  ops: unknown,
): Promise<{ code: string; message: string; detail?: Record<string, unknown> }> {
  try {
    await applyOps(db, tree, ops);
  } catch (err) {
    const e = err as { code: string; message: string; detail?: string };
    return { code: e.code, message: e.message, detail: e.detail ? JSON.parse(e.detail) : undefined };
  }
  throw new Error('expected apply_ops to fail, but it succeeded');
}

/** The tree in canonical form: nodes by id, present fields by (node, key), bytewise order. */
export async function readTree(db: Queryable, tree: string): Promise<TreeSnapshot> {
  const nodes = await db.query<{ id: string; parent: string | null; pos: string }>(
    `select id, parent, pos from treesync.nodes where tree = $1 order by id collate "C"`,
    [tree],
  );
  const fields = await db.query<{ node: string; key: string; value: Json }>(
    `select node, key, value from treesync.fields
      where tree = $1 and value <> 'null'::jsonb
      order by node collate "C", key collate "C"`,
    [tree],
  );
  return { nodes: nodes.rows, fields: fields.rows };
}

export async function treeSeq(db: Queryable, tree: string): Promise<number> {
  const { rows } = await db.query<{ seq: string }>('select seq from treesync.trees where id = $1', [tree]);
  return Number(rows[0]!.seq);
}

/** Everything a tree holds, for asserting that a rejected batch left no trace. */
export async function everything(db: Queryable, tree: string): Promise<unknown> {
  const q = async (sql: string) => (await db.query(sql, [tree])).rows;
  return {
    trees: await q('select id, seq from treesync.trees where id = $1'),
    nodes: await q('select * from treesync.nodes where tree = $1 order by id collate "C"'),
    ops: await q('select * from treesync.ops where tree = $1 order by seq'),
    moves: await q('select * from treesync.moves where tree = $1 order by ts collate "C"'),
    fields: await q('select * from treesync.fields where tree = $1 order by node collate "C", key collate "C"'),
  };
}

/** Problems with the tree's shape: a parent that does not exist, a node that does not reach
 * ROOT or TRASH (a cycle), ROOT or TRASH misplaced. Empty when the tree is sound. Computed in
 * memory, one pass with memoisation, so a 10,000-deep chain costs nothing. */
export async function treeProblems(db: Queryable, tree: string): Promise<string[]> {
  const { nodes } = await readTree(db, tree);
  const parent = new Map(nodes.map((n) => [n.id, n.parent]));
  const problems: string[] = [];
  for (const root of ['ROOT', 'TRASH']) {
    if (!parent.has(root) || parent.get(root) !== null) problems.push(`${root} is missing or has a parent`);
  }
  const sound = new Set(['ROOT', 'TRASH']);
  for (const { id } of nodes) {
    const path: string[] = [];
    const onPath = new Set<string>();
    let at: string | null | undefined = id;
    while (at != null && !sound.has(at)) {
      if (onPath.has(at)) {
        problems.push(`${id} does not reach ROOT or TRASH: a cycle through ${at}`);
        break;
      }
      if (!parent.has(at)) {
        problems.push(`${path.at(-1) ?? id} has parent ${at}, which does not exist`);
        break;
      }
      path.push(at);
      onPath.add(at);
      at = parent.get(at);
    }
    if (at != null && sound.has(at)) for (const p of path) sound.add(p);
    else if (at === null && !sound.has(path.at(-1) ?? id)) problems.push(`${path.at(-1) ?? id} has no parent`);
  }
  return problems;
}

/** A function that creates a new, empty tree with a unique name on each call: one tree per
 * test, so tests in a file never see each other's operations. */
export function treeFactory(db: Queryable, prefix: string): () => Promise<string> {
  let n = 0;
  return async () => {
    const tree = `${prefix}-${++n}`;
    await createTree(db, tree);
    return tree;
  };
}
