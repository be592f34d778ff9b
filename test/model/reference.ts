/**
 * The reference model: the normative semantics of design.md, written as plainly as possible.
 * It is the oracle the Postgres merge and the SQLite merge are checked against, so it favours
 * obviously-correct over fast: it replays the whole history from scratch, in ts order, every
 * time. No recursion anywhere (a 10,000-deep chain must not blow the stack).
 *
 * Contract
 * - The state is a function of the *set* of ops: input order and duplicates never matter.
 * - Moves are applied in ts order (bytewise) from a tree holding only ROOT and TRASH. A move is
 *   skipped when its parent does not exist at that point, when node === parent, or when node
 *   is an ancestor of parent. Otherwise the node (created by its first applied move) gets
 *   parent and pos.
 * - Sets are last-writer-wins per (node, key), independent of the tree: a set applies whether
 *   or not its node exists (now or ever), exactly like the SQL. A null value is a tombstone:
 *   it wins over older sets but is not part of the snapshot.
 */
import { compareBytes, ROOT, TRASH, type Json, type MoveOp, type Op, type SetOp } from '../../protocol/ops.ts';

export interface TreeNode {
  parent: string | null;
  pos: string;
}

export interface FieldValue {
  value: Json;
  /** The ts of the set that wrote it. */
  ts: string;
}

/** A replica's full state. Fields are keyed by `fieldKey(node, key)` and include tombstones. */
export interface TreeState {
  nodes: Map<string, TreeNode>;
  fields: Map<string, FieldValue & { node: string; key: string }>;
}

/** The canonical form replicas are compared in: nodes sorted by id, fields by (node, key),
 * bytewise; removed (null) fields left out; fields of nodes that do not exist kept. */
export interface Snapshot {
  nodes: Array<{ id: string; parent: string | null; pos: string }>;
  fields: Array<{ node: string; key: string; value: Json }>;
}

/** Why a move changed nothing, or that it applied. */
export type MoveOutcome = 'applied' | 'no-parent' | 'self' | 'cycle';

export function fieldKey(node: string, key: string): string {
  return `${node}\u0000${key}`;
}

export function emptyState(): TreeState {
  return {
    nodes: new Map([
      [ROOT, { parent: null, pos: '' }],
      [TRASH, { parent: null, pos: '' }],
    ]),
    fields: new Map(),
  };
}

/** JSON with object keys sorted, so two values that are equal as JSON print the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => compareBytes(a, b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** True when two ops have the same content (and so, with the same ts, are the same op). */
export function sameOp(a: Op, b: Op): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** The distinct ops sorted by ts (bytewise). The same ts twice is one op; the same ts with
 * other content is a caller's bug (the SQL answers it with ts_conflict) and throws. */
export function distinctOps(ops: Iterable<Op>): Op[] {
  const byTs = new Map<string, Op>();
  for (const op of ops) {
    const seen = byTs.get(op.ts);
    if (seen === undefined) byTs.set(op.ts, op);
    else if (!sameOp(seen, op)) {
      throw new Error(`ts ${op.ts} used by two different ops: ${canonicalJson(seen)} and ${canonicalJson(op)}`);
    }
  }
  return [...byTs.values()].sort((a, b) => compareBytes(a.ts, b.ts));
}

/** True when `ancestor` is `node` or lies on the path from `node` up to its root. */
export function isAncestorOrSelf(state: TreeState, ancestor: string, node: string): boolean {
  const seen = new Set<string>();
  let at: string | null | undefined = node;
  while (at != null) {
    if (at === ancestor) return true;
    // The model keeps the tree acyclic by construction; a cycle here is a bug in the model.
    if (seen.has(at)) throw new Error(`model bug: cycle through ${at}`);
    seen.add(at);
    at = state.nodes.get(at)?.parent;
  }
  return false;
}

/** Applies one move to the state as the next move in ts order. */
export function applyMove(state: TreeState, op: MoveOp): MoveOutcome {
  if (op.node === ROOT || op.node === TRASH) {
    throw new Error(`${op.node} can never be moved (op ${op.ts}); such an op is invalid`);
  }
  if (!state.nodes.has(op.parent)) return 'no-parent';
  if (op.node === op.parent) return 'self';
  if (isAncestorOrSelf(state, op.node, op.parent)) return 'cycle';
  state.nodes.set(op.node, { parent: op.parent, pos: op.pos });
  return 'applied';
}

/** Applies one set; order-independent. True when it is (so far) the winner of its field. */
export function applySet(state: TreeState, op: SetOp): boolean {
  const k = fieldKey(op.node, op.key);
  const current = state.fields.get(k);
  if (current !== undefined && compareBytes(current.ts, op.ts) >= 0) return current.ts === op.ts;
  state.fields.set(k, { node: op.node, key: op.key, value: op.value, ts: op.ts });
  return true;
}

/** Replays a history from scratch. `outcomes` tells, per move ts, what the move did. */
export function replayState(ops: Iterable<Op>): { state: TreeState; outcomes: Map<string, MoveOutcome> } {
  const state = emptyState();
  const outcomes = new Map<string, MoveOutcome>();
  for (const op of distinctOps(ops)) {
    if (op.type === 'move') outcomes.set(op.ts, applyMove(state, op));
    else applySet(state, op);
  }
  return { state, outcomes };
}

export function toSnapshot(state: TreeState): Snapshot {
  const nodes = [...state.nodes].map(([id, n]) => ({ id, parent: n.parent, pos: n.pos }));
  nodes.sort((a, b) => compareBytes(a.id, b.id));
  const fields = [...state.fields.values()]
    .filter((f) => f.value !== null)
    .map((f) => ({ node: f.node, key: f.key, value: f.value }));
  fields.sort((a, b) => compareBytes(a.node, b.node) || compareBytes(a.key, b.key));
  return { nodes, fields };
}

/** The tree a replica holding exactly these ops holds, in canonical form. */
export function replay(ops: Iterable<Op>): Snapshot {
  return toSnapshot(replayState(ops).state);
}

/** Children ids of every parent, each list sorted by (pos, id) bytewise. */
export function childrenIndex(snapshot: Snapshot): Map<string, string[]> {
  const sorted = [...snapshot.nodes].sort((a, b) => compareBytes(a.pos, b.pos) || compareBytes(a.id, b.id));
  const index = new Map<string, string[]>();
  for (const n of sorted) {
    if (n.parent === null) continue;
    const list = index.get(n.parent);
    if (list) list.push(n.id);
    else index.set(n.parent, [n.id]);
  }
  return index;
}

/** The ids of `parentId`'s children in sibling order: (pos, id) bytewise. */
export function children(snapshot: Snapshot, parentId: string): string[] {
  return childrenIndex(snapshot).get(parentId) ?? [];
}

/** Problems with a snapshot's shape, as sentences; empty when sound. Checks: ROOT and TRASH
 * exist without a parent, no other node lacks one, every parent exists, every node reaches
 * ROOT or TRASH (no cycle). Linear: every node found sound marks its whole path sound. */
export function checkInvariants(snapshot: Snapshot): string[] {
  const problems: string[] = [];
  const parent = new Map<string, string | null>();
  for (const n of snapshot.nodes) {
    if (parent.has(n.id)) problems.push(`node ${n.id} is listed twice`);
    parent.set(n.id, n.parent);
  }
  for (const root of [ROOT, TRASH]) {
    if (!parent.has(root)) problems.push(`${root} is missing`);
    else if (parent.get(root) !== null) problems.push(`${root} has parent ${parent.get(root)}`);
  }
  const sound = new Set([ROOT, TRASH]);
  const broken = new Set<string>();
  for (const { id } of snapshot.nodes) {
    const path: string[] = [];
    const onPath = new Set<string>();
    let at: string = id;
    let problem: string | undefined;
    while (!sound.has(at) && !broken.has(at)) {
      if (onPath.has(at)) {
        problem = `${id} does not reach ROOT or TRASH: a cycle through ${at}`;
        break;
      }
      path.push(at);
      onPath.add(at);
      const up = parent.get(at);
      if (up == null) {
        problem = `${at} has no parent`;
        break;
      }
      if (!parent.has(up)) {
        problem = `${at} has parent ${up}, which does not exist`;
        break;
      }
      at = up;
    }
    if (problem !== undefined) problems.push(problem);
    const ok = problem === undefined && sound.has(at);
    for (const p of path) (ok ? sound : broken).add(p);
  }
  return problems;
}

const MAX_INDENT = 32;

function formatFields(fields: Snapshot['fields']): string {
  return fields.map((f) => `${f.key}=${JSON.stringify(f.value)}`).join(' ');
}

/** An indented drawing of the tree for failure messages: ROOT's subtree, then TRASH's, then
 * anything that reaches neither (a broken snapshot), then fields of nodes not in the tree.
 * Each line: id, @"pos", fields. Depth past 32 is written as a number, not as indentation. */
export function renderTree(snapshot: Snapshot): string {
  const index = childrenIndex(snapshot);
  const fieldsOf = new Map<string, Snapshot['fields']>();
  for (const f of snapshot.fields) {
    const list = fieldsOf.get(f.node);
    if (list) list.push(f);
    else fieldsOf.set(f.node, [f]);
  }
  const pos = new Map(snapshot.nodes.map((n) => [n.id, n.pos]));
  const lines: string[] = [];
  const drawn = new Set<string>();
  const draw = (top: string) => {
    // Depth-first with an explicit stack; children pushed in reverse so they pop in order.
    const stack: Array<{ id: string; depth: number }> = [{ id: top, depth: 0 }];
    while (stack.length > 0) {
      const { id, depth } = stack.pop()!;
      if (drawn.has(id)) {
        lines.push(`${'  '.repeat(Math.min(depth, MAX_INDENT))}${id} (again: a cycle)`);
        continue;
      }
      drawn.add(id);
      const indent = depth > MAX_INDENT ? `${'  '.repeat(MAX_INDENT)}[depth ${depth}] ` : '  '.repeat(depth);
      const at = depth === 0 ? '' : ` @${JSON.stringify(pos.get(id) ?? '')}`;
      const fields = fieldsOf.get(id);
      lines.push(`${indent}${id}${at}${fields ? `  ${formatFields(fields)}` : ''}`);
      const kids = index.get(id) ?? [];
      for (let i = kids.length - 1; i >= 0; i--) stack.push({ id: kids[i]!, depth: depth + 1 });
    }
  };
  draw(ROOT);
  draw(TRASH);
  const stray = snapshot.nodes.filter((n) => !drawn.has(n.id));
  if (stray.length > 0) {
    lines.push('not reaching ROOT or TRASH:');
    for (const n of stray) lines.push(`  ${n.id} -> ${n.parent} @${JSON.stringify(n.pos)}`);
  }
  const orphans = [...fieldsOf].filter(([node]) => !pos.has(node));
  if (orphans.length > 0) {
    lines.push('fields of nodes not in the tree:');
    for (const [node, fields] of orphans) lines.push(`  ${node}  ${formatFields(fields)}`);
  }
  return lines.join('\n');
}
