/**
 * The move merge of the replica: Kleppmann et al. (2021) with existence checked, the same
 * algorithm as `treesync.merge_moves` (sql/000002-merge.sql) and the reference model's loop.
 *
 * Apply all moves in ts order; a move is skipped when its parent does not exist at that point,
 * or when the node is its parent or an ancestor of it. New moves older than logged ones arrive
 * late: the logged moves after the oldest new one are undone (newest first, each node put back
 * where the log says it found it), and redone with the new ones in ts order. The log records,
 * for every move, the parent and position it really replaced (NULL when the node did not exist
 * yet) and whether it applied; a redone move whose outcome changed has its entry rewritten.
 *
 * The merge runs on a TreeView (tree-view.ts): the places of the batch's nodes (and the
 * window's) are read in chunks first, every outcome is decided in memory over SQLite's rows,
 * and at the end only the net difference is written, many rows per statement (bulk-write.ts).
 * The cycle check walks up the ancestors in memory where the merge changed them and in SQLite
 * (a recursive query per chain, no depth limit) where it did not. Held in memory: the batch
 * and, for a late batch, the logged moves after its oldest move (the window), never the tree.
 * Runs inside the caller's transaction.
 */
import type { MoveOp } from '../../protocol/ops.ts';
import { deleteRows, insertRows, updateRows } from './bulk-write.ts';
import type { Db, SqlValue } from './sqlite-db.ts';
import { TreeView, type Place } from './tree-view.ts';

interface LoggedMove extends MoveOp {
  oldParent: string | null;
  oldPos: string | null;
  applied: boolean;
}

type Outcome = Pick<LoggedMove, 'oldParent' | 'oldPos' | 'applied'>;

/**
 * Applies one move to the merge's tree as the next in ts order; returns what the log must say.
 * Synchronous unless the move needs a cycle check: most moves create a node or change
 * only their order key, and a promise per move would cost more than deciding it.
 */
function applyOne(tree: TreeView, op: MoveOp): Outcome | Promise<Outcome> {
  const here = tree.place(op.node);
  const oldParent = here === null ? null : here.parent;
  const oldPos = here === null ? null : here.pos;
  if (op.node === op.parent || tree.place(op.parent) === null) return { oldParent, oldPos, applied: false };
  // Creating a node (it has no descendants, so it cannot make a cycle), or staying under the
  // same parent (only the order key changes), needs no walk.
  if (here !== null && oldParent !== op.parent) {
    return tree.isAncestorOrSelf(op.node, op.parent).then((cycle): Outcome => {
      if (cycle) return { oldParent, oldPos, applied: false };
      tree.set(op.node, { parent: op.parent, pos: op.pos });
      return { oldParent, oldPos, applied: true };
    });
  }
  tree.set(op.node, { parent: op.parent, pos: op.pos });
  return { oldParent, oldPos, applied: true };
}

/** Undoes the window's applied moves in the merge's tree: each node goes back to where the
 * first of them found it (the same as undoing them one by one, newest first; a node that move
 * created did not exist before it). SQLite holds each where the last of them put it. */
function undo(tree: TreeView, window: LoggedMove[]): void {
  const first = new Map<string, LoggedMove>();
  const last = new Map<string, LoggedMove>();
  for (const m of window) {
    if (!m.applied) continue;
    if (!first.has(m.node)) first.set(m.node, m);
    last.set(m.node, m);
  }
  for (const [node, m] of first) {
    const stored = last.get(node)!;
    const before: Place | null = m.oldParent === null ? null : { parent: m.oldParent, pos: m.oldPos! };
    tree.start(node, { parent: stored.parent, pos: stored.pos }, before);
  }
}

/** Writes the merge's tree: the nodes whose place changed, many rows per statement. */
async function writeTree(db: Db, tree: TreeView): Promise<void> {
  const { inserted, updated, deleted } = tree.changes();
  // In the merge's order, not sorted by id: sorting 1,000 rows in JS cost more than the B-tree
  // saved by getting them in key order (measured, interleaved in one process: 2 to 4% less
  // CPU for the whole merge without the sort).
  await deleteRows(db, 'nodes', 'id', deleted.sort());
  await insertRows(db, 'nodes', ['id', 'parent', 'pos'], [...inserted, ...updated], 'on conflict (id) do update set parent = excluded.parent, pos = excluded.pos');
}

/** Merges new moves (never seen before, any order) into the tree and the log.
 * Returns how many logged moves were undone (and redone) and how many new moves skipped. */
export async function mergeMoves(db: Db, moves: MoveOp[]): Promise<{ undone: number; skipped: number }> {
  if (moves.length === 0) return { undone: 0, skipped: 0 };
  const fresh = [...moves].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  const oldest = fresh[0]!.ts;

  // 1. The window: logged moves newer than the oldest new one (none when the batch is in order).
  const window: LoggedMove[] = (
    await db.all('select ts, node, parent, pos, old_parent, old_pos, applied from moves where ts > ? order by ts', [oldest])
  ).map((r) => ({
    ts: r[0] as string,
    type: 'move',
    node: r[1] as string,
    parent: r[2] as string,
    pos: r[3] as string,
    oldParent: r[4] as string | null,
    oldPos: r[5] as string | null,
    applied: Number(r[6]) === 1,
  }));

  // 2. Undo them, then read every other node the merge looks at.
  const tree = new TreeView(db);
  undo(tree, window);
  const ids: string[] = [];
  for (const list of [fresh, window]) for (const op of list) ids.push(op.node, op.parent);
  await tree.load(ids);

  // 3. Apply the new moves and redo the undone ones, in ts order (a merge of two sorted lists).
  let skipped = 0;
  const added: SqlValue[][] = [];
  const changed: SqlValue[][] = [];
  let w = 0;
  let f = 0;
  while (w < window.length || f < fresh.length) {
    const takeNew = w === window.length || (f < fresh.length && fresh[f]!.ts < window[w]!.ts);
    if (takeNew) {
      const op = fresh[f++]!;
      let outcome = applyOne(tree, op);
      if (outcome instanceof Promise) outcome = await outcome;
      if (!outcome.applied) skipped++;
      added.push([op.ts, op.node, op.parent, op.pos, outcome.oldParent, outcome.oldPos, outcome.applied ? 1 : 0]);
    } else {
      const m = window[w++]!;
      let outcome = applyOne(tree, m);
      if (outcome instanceof Promise) outcome = await outcome;
      if (outcome.oldParent !== m.oldParent || outcome.oldPos !== m.oldPos || outcome.applied !== m.applied) {
        // A redone move whose outcome changed: the log must say what really happened.
        changed.push([m.ts, outcome.oldParent, outcome.oldPos, outcome.applied ? 1 : 0]);
      }
    }
  }

  // 4. The tree's net difference, the new log entries (in ts order: appended to the table's
  //    key order) and the redone ones whose outcome changed.
  await writeTree(db, tree);
  await insertRows(db, 'moves', ['ts', 'node', 'parent', 'pos', 'old_parent', 'old_pos', 'applied'], added);
  await updateRows(db, 'moves', 'ts', ['old_parent', 'old_pos', 'applied'], changed);
  return { undone: window.length, skipped };
}
