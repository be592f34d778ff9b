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
import type { MoveOp } from '../../protocol/ops.ts';
import type { Db, SqlValue } from './sqlite-db.ts';

interface LoggedMove extends MoveOp {
  oldParent: string | null;
  oldPos: string | null;
  applied: boolean;
}

interface NodeState {
  parent: string | null;
  pos: string;
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
async function applyOne(db: Db, op: MoveOp): Promise<Outcome> {
  // One probe: the node's place (no row: it does not exist; only ROOT and TRASH have no
  // parent, and they never move) and whether the new parent exists.
  const probe = (await db.get(
    `select n.parent, n.pos, ?2 in ('ROOT', 'TRASH') or exists (select 1 from nodes p where p.id = ?2)
       from (select 1) left join nodes n on n.id = ?1`,
    [op.node, op.parent],
  ))!;
  const oldParent = probe[0] as string | null;
  const oldPos = probe[1] as string | null;
  const logged = { oldParent, oldPos };
  if (op.node === op.parent || Number(probe[2]) !== 1) return { ...logged, applied: false };
  if (oldParent === null) {
    // Creating a node: it has no descendants, so it cannot make a cycle.
    await db.run('insert into nodes (id, parent, pos) values (?, ?, ?)', [op.node, op.parent, op.pos]);
  } else if (oldParent === op.parent) {
    // Staying under the same parent: only the order key changes.
    await db.run('update nodes set pos = ? where id = ?', [op.pos, op.node]);
  } else {
    if (await isAncestorOrSelf(db, op.node, op.parent)) return { ...logged, applied: false };
    await db.run('update nodes set parent = ?, pos = ? where id = ?', [op.parent, op.pos, op.node]);
  }
  return { ...logged, applied: true };
}

type Outcome = Pick<LoggedMove, 'oldParent' | 'oldPos' | 'applied'>;

/** Undoes the window's applied moves: each node goes back to where the first of them found it
 * (the same as undoing them one by one, newest first); a node that move created did not exist
 * before it. Two statements, whatever the window's size. */
async function undo(db: Db, window: LoggedMove[]): Promise<void> {
  const firstFound = new Map<string, LoggedMove>();
  for (const m of window) if (m.applied && !firstFound.has(m.node)) firstFound.set(m.node, m);
  const gone: string[] = [];
  const back: Array<[string, string, string | null]> = [];
  for (const m of firstFound.values()) {
    if (m.oldParent === null) gone.push(m.node);
    else back.push([m.node, m.oldParent, m.oldPos]);
  }
  if (gone.length > 0) await db.run('delete from nodes where id in (select value from json_each(?1))', [JSON.stringify(gone)]);
  if (back.length > 0) {
    await db.run(
      `update nodes set parent = j.value ->> 1, pos = j.value ->> 2
         from json_each(?1) j where nodes.id = j.value ->> 0`,
      [JSON.stringify(back)],
    );
  }
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

  // 2. Undo them.
  await undo(db, window);

  // 3. Apply the new moves and redo the undone ones, in ts order (a merge of two sorted lists).
  let skipped = 0;
  // Log writes wait for the end (nothing below reads the log): one statement each.
  const added: SqlValue[][] = [];
  const changed: SqlValue[][] = [];
  let w = 0;
  let f = 0;
  while (w < window.length || f < fresh.length) {
    const takeNew = w === window.length || (f < fresh.length && fresh[f]!.ts < window[w]!.ts);
    if (takeNew) {
      const op = fresh[f++]!;
      const outcome = await applyOne(db, op);
      if (!outcome.applied) skipped++;
      added.push([op.ts, op.node, op.parent, op.pos, outcome.oldParent, outcome.oldPos, outcome.applied ? 1 : 0]);
    } else {
      const m = window[w++]!;
      const outcome = await applyOne(db, m);
      if (outcome.oldParent !== m.oldParent || outcome.oldPos !== m.oldPos || outcome.applied !== m.applied) {
        // A redone move whose outcome changed: the log must say what really happened.
        changed.push([m.ts, outcome.oldParent, outcome.oldPos, outcome.applied ? 1 : 0]);
      }
    }
  }

  // 4. The log: the new entries (in ts order: appended to the table's key order), and the
  //    redone ones whose outcome changed. (A statement per row: short statements through the
  //    raw exports cost less than SQLite's JSON parsing of the batch in WebAssembly.)
  for (const row of added) {
    await db.run('insert into moves (ts, node, parent, pos, old_parent, old_pos, applied) values (?, ?, ?, ?, ?, ?, ?)', row);
  }
  for (const row of changed) {
    await db.run('update moves set old_parent = ?2, old_pos = ?3, applied = ?4 where ts = ?1', row);
  }
  return { undone: window.length, skipped };
}
