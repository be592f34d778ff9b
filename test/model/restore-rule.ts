/**
 * The restore rule (docs/deletes.md) as an oracle, written plainly: given every stored op with
 * its seq and the seq its author had seen, which edits are lost in the final tree although no
 * op that had seen them put them in the trash.
 *
 * Definitions (the same as sql/000005-restore.sql):
 * - `a` had seen `b` when seen(a) >= seq(b), or both are of one replica and b's ts is older.
 * - An edit is a set, or a move that applied (replaying every move in ts order) whose parent is
 *   not TRASH.
 * - A node's latest applied move put it where it is; it counts as a delete when it moved an
 *   existing node from elsewhere than TRASH itself (not a creation, not a shuffle of the trash's
 *   tops). Its old parent may be in the trash too: then that parent's own delete is judged in
 *   turn, as the path goes up. A delete whose old parent is gone, or is now inside the node's
 *   own subtree, cannot be undone (the move back would be skipped) and is not counted.
 * - The pair is judged when it meets: in the tree the merge that brought the later of the two
 *   made, before its restores. The server owes a restore only when E's node was in the trash
 *   through that same delete then, and the delete could be undone then (docs/deletes.md). An
 *   edit whose node a third operation moved into the deleted subtree later, or a delete that
 *   could not be undone when they met, is left alone. Without the merges' ends this cannot be
 *   told, and only the final tree is looked at.
 * - An edit E is lost wrongly when E's node ends inside the trash and some node on its path up
 *   to TRASH (E's node included) was put there by a move M, other than E, such that neither of
 *   M and E had seen the other. The server must leave no such edit behind.
 */
import { compareBytes, ROOT, TRASH, tsReplica, type MoveOp, type Op } from '../../protocol/ops.ts';
import { applyMove, applySet, distinctOps, emptyState, type TreeState } from './reference.ts';

export interface KnownOp {
  op: Op;
  seq: number;
  /** The seq its author had applied when it made it. */
  seen: number;
}

export function hadSeen(a: KnownOp, b: KnownOp): boolean {
  return a.seen >= b.seq || (tsReplica(a.op.ts) === tsReplica(b.op.ts) && compareBytes(b.op.ts, a.op.ts) < 0);
}

/** The final state and, per node, its latest applied move and whether that move created it. */
export function replayWithLatest(ops: Op[]): {
  state: TreeState;
  latest: Map<string, { move: MoveOp; oldParent: string | null }>;
  applied: Set<string>;
} {
  const state = emptyState();
  const latest = new Map<string, { move: MoveOp; oldParent: string | null }>();
  const applied = new Set<string>();
  for (const op of distinctOps(ops)) {
    if (op.type === 'set') {
      applySet(state, op);
      continue;
    }
    const oldParent = state.nodes.get(op.node)?.parent ?? null;
    if (applyMove(state, op) === 'applied') {
      latest.set(op.node, { move: op, oldParent });
      applied.add(op.ts);
    }
  }
  return { state, latest, applied };
}

/** The path from a node up to its root (ROOT, TRASH, or a node that does not exist). */
export function pathUp(state: TreeState, node: string): string[] {
  const path = [node];
  let at = state.nodes.get(node)?.parent;
  while (at != null) {
    path.push(at);
    at = state.nodes.get(at)?.parent;
  }
  return path;
}

/** Whether `node`'s latest move, from `oldParent`, can be undone: its old parent exists and is not inside its subtree. */
function undoable(state: TreeState, node: string, oldParent: string): boolean {
  const up = pathUp(state, oldParent);
  return (up.at(-1) === ROOT || up.at(-1) === TRASH) && !up.includes(node);
}

/**
 * Sentences naming every edit lost against the rule; empty when the tree keeps the rule.
 * `mergeEnds`: the tree's seq at the end of each merge, restores included, ascending.
 */
export function wronglyLostEdits(known: KnownOp[], mergeEnds?: number[]): string[] {
  const byTs = new Map(known.map((k) => [k.op.ts, k]));
  const { state, latest, applied } = replayWithLatest(known.map((k) => k.op));
  const atMeet = new Map<number, ReturnType<typeof replayWithLatest>>();
  /** The tree made by the merge that brought seq `seq`, before that merge's restores. */
  const mergedBy = (seq: number) => {
    const end = mergeEnds!.find((e) => e >= seq) ?? Infinity;
    const start = mergeEnds!.findLast((e) => e < seq) ?? 0;
    if (!atMeet.has(end)) {
      const before = known.filter((k) => k.seq <= start || (k.seq <= end && tsReplica(k.op.ts) !== 'server'));
      atMeet.set(end, replayWithLatest(before.map((k) => k.op)));
    }
    return atMeet.get(end)!;
  };
  /** Whether, in `at`, `e`'s node was in the trash through `node`, put there by `move`, which could be undone. */
  const buriedBy = (at: ReturnType<typeof replayWithLatest>, e: KnownOp, node: string, move: string) => {
    if (e.op.type === 'move' && !at.applied.has(e.op.ts)) return false;
    const path = pathUp(at.state, e.op.node);
    const then = at.latest.get(node);
    return path.at(-1) === TRASH && path.includes(node) && then?.move.ts === move && then.oldParent !== null &&
      undoable(at.state, node, then.oldParent);
  };
  const problems: string[] = [];
  for (const e of known) {
    if (e.op.type === 'move' && (e.op.parent === TRASH || !applied.has(e.op.ts))) continue;
    const path = pathUp(state, e.op.node);
    if (path.at(-1) !== TRASH) continue;
    for (const node of path.slice(0, -1)) {
      const l = latest.get(node);
      if (!l || l.oldParent === null || l.oldParent === TRASH || l.move.ts === e.op.ts) continue;
      // A delete that cannot be undone: its old parent is gone or now inside the node's subtree.
      if (!undoable(state, node, l.oldParent)) continue;
      const m = byTs.get(l.move.ts)!;
      if (!hadSeen(m, e) && !hadSeen(e, m)) {
        // Judged when they met: was the edit buried by this delete then?
        if (mergeEnds && !buriedBy(mergedBy(Math.max(m.seq, e.seq)), e, node, m.op.ts)) continue;
        problems.push(`edit ${e.op.ts} (seq ${e.seq}, seen ${e.seen}) on ${e.op.node} is in the trash: ` +
          `${node} was put there by ${m.op.ts} (seq ${m.seq}, seen ${m.seen}), concurrent with it`);
      }
    }
  }
  return problems;
}
