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
 * The tree stays in SQLite: each step reads the rows it needs by key, and the cycle check walks
 * up the ancestors in one recursive query (no depth limit). Held in memory: the batch and, for a
 * late batch, the logged moves after its oldest move (the window), never the tree.
 * Runs inside the caller's transaction.
 */
import { ROOT, TRASH, type MoveOp } from '../../protocol/ops.ts';
import type { Db } from './sqlite-db.ts';

interface LoggedMove extends MoveOp {
  oldParent: string | null;
  oldPos: string | null;
  applied: boolean;
}

interface NodeState {
  parent: string | null;
  pos: string;
}

async function nodeState(db: Db, id: string): Promise<NodeState | undefined> {
  const row = await db.get('select parent, pos from nodes where id = ?', [id]);
  return row === undefined ? undefined : { parent: row[0] as string | null, pos: row[1] as string };
}

async function exists(db: Db, id: string): Promise<boolean> {
  if (id === ROOT || id === TRASH) return true;
  return (await db.get('select 1 from nodes where id = ?', [id])) !== undefined;
}

/** True when `node` is `from` or one of its ancestors. The tree has no cycle, so the walk
 * ends at ROOT or TRASH. */
async function isAncestorOrSelf(db: Db, node: string, from: string): Promise<boolean> {
  const row = await db.get(
    `with recursive up(id) as (
       select ?1
       union all
       select n.parent from nodes n join up on n.id = up.id where n.parent is not null
     )
     select 1 from up where id = ?2 limit 1`,
    [from, node],
  );
  return row !== undefined;
}

/** Applies one move to the tree as the next in ts order; returns what the log must say. */
async function applyOne(db: Db, op: MoveOp): Promise<Pick<LoggedMove, 'oldParent' | 'oldPos' | 'applied'>> {
  const old = await nodeState(db, op.node);
  const logged = { oldParent: old ? old.parent : null, oldPos: old ? old.pos : null };
  if (op.node === op.parent || !(await exists(db, op.parent))) return { ...logged, applied: false };
  if (old === undefined) {
    // Creating a node: it has no descendants, so it cannot make a cycle.
    await db.run('insert into nodes (id, parent, pos) values (?, ?, ?)', [op.node, op.parent, op.pos]);
  } else if (old.parent === op.parent) {
    // Staying under the same parent: only the order key changes.
    await db.run('update nodes set pos = ? where id = ?', [op.pos, op.node]);
  } else {
    if (await isAncestorOrSelf(db, op.node, op.parent)) return { ...logged, applied: false };
    await db.run('update nodes set parent = ?, pos = ? where id = ?', [op.parent, op.pos, op.node]);
  }
  return { ...logged, applied: true };
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

  // 2. Undo them, newest first: each applied move puts its node back where it found it; a node
  //    that move created did not exist before it.
  for (let i = window.length - 1; i >= 0; i--) {
    const m = window[i]!;
    if (!m.applied) continue;
    if (m.oldParent === null) await db.run('delete from nodes where id = ?', [m.node]);
    else await db.run('update nodes set parent = ?, pos = ? where id = ?', [m.oldParent, m.oldPos, m.node]);
  }

  // 3. Apply the new moves and redo the undone ones, in ts order (a merge of two sorted lists).
  let skipped = 0;
  let w = 0;
  let f = 0;
  while (w < window.length || f < fresh.length) {
    const takeNew = w === window.length || (f < fresh.length && fresh[f]!.ts < window[w]!.ts);
    if (takeNew) {
      const op = fresh[f++]!;
      const outcome = await applyOne(db, op);
      if (!outcome.applied) skipped++;
      await db.run(
        'insert into moves (ts, node, parent, pos, old_parent, old_pos, applied) values (?, ?, ?, ?, ?, ?, ?)',
        [op.ts, op.node, op.parent, op.pos, outcome.oldParent, outcome.oldPos, outcome.applied ? 1 : 0],
      );
    } else {
      const m = window[w++]!;
      const outcome = await applyOne(db, m);
      if (outcome.oldParent !== m.oldParent || outcome.oldPos !== m.oldPos || outcome.applied !== m.applied) {
        // A redone move whose outcome changed: the log must say what really happened.
        await db.run('update moves set old_parent = ?, old_pos = ?, applied = ? where ts = ?', [
          outcome.oldParent,
          outcome.oldPos,
          outcome.applied ? 1 : 0,
          m.ts,
        ]);
      }
    }
  }
  return { undone: window.length, skipped };
}
