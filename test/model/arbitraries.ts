/**
 * fast-check generators of histories, biased toward conflicts: few nodes, few replicas whose
 * ids sort differently bytewise than under a locale, timestamps that tie on wall and counter
 * across replicas (so the replica id decides), moves into and out of the trash and under each
 * other, sibling order keys that collide (so the id decides), and sets racing on few fields.
 *
 * Every generated op is valid (protocol/ops.ts patterns) and every ts is unique in a history:
 * the ts is the op's identity. Generated histories and delivery plans print as readable
 * scenarios in fast-check's counterexample (see `withScenarioString` in scenario.ts).
 */
import fc from 'fast-check';
import { formatTs, ROOT, TRASH, type Json, type MoveOp, type Op, type SetOp } from '../../protocol/ops.ts';
import { replay } from './reference.ts';
import { withPlanString, withScenarioString } from './scenario.ts';

/** Wall clock of the first generated op (13 digits). */
export const BASE_WALL = 1_732_212_345_000;

/** Replica ids whose bytewise order ('A-x' < 'A_x' < 'B' < 'Z_1' < 'a' < 'b-2') differs from a
 * locale's (where 'a' < 'B' and punctuation is often ignored). */
export const REPLICAS = ['B', 'a', 'Z_1', 'b-2', 'A-x', 'A_x'] as const;

/** The usual node ids, few so that ops collide. */
export const NODES = ['a', 'b', 'c', 'd', 'e', 'f'] as const;
/** Occasional node ids that sort differently bytewise than under a locale. */
export const RARE_NODES = ['A', 'B', 'Z', 'a_', 'a-', 'x9'] as const;

/** Order keys from a tiny alphabet: '' and repeats, so siblings often tie on pos. */
export const ORDER_KEYS = ['', 'a', 'b', 'B', 'a0', 'a ', 'm', '~'] as const;

export const FIELD_KEYS = ['text', 'done', 'title', 'x.y', 'Z'] as const;

export interface HistoryOptions {
  /** Most ops in a history (default 60). */
  maxOps?: number;
  /** Fewest ops (default 0). */
  minOps?: number;
  /** Replica ids to draw from (default REPLICAS). */
  replicas?: readonly string[];
  /** Node ids to draw from most of the time (default NODES); RARE_NODES are mixed in rarely. */
  nodes?: readonly string[];
  /** Relative weight of sets against moves (default 2 sets : 3 moves). */
  setWeight?: number;
}

export const arbNodeId = (nodes: readonly string[] = NODES): fc.Arbitrary<string> =>
  fc.oneof({ arbitrary: fc.constantFrom(...nodes), weight: 9 }, { arbitrary: fc.constantFrom(...RARE_NODES), weight: 1 });

/** A move's parent: often ROOT or TRASH, mostly another small node. */
export const arbParent = (nodes: readonly string[] = NODES): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: fc.constant(ROOT), weight: 3 },
    { arbitrary: fc.constant(TRASH), weight: 2 },
    { arbitrary: arbNodeId(nodes), weight: 5 },
  );

export const arbPos = (): fc.Arbitrary<string> => fc.constantFrom(...ORDER_KEYS);

export const arbFieldKey = (): fc.Arbitrary<string> => fc.constantFrom(...FIELD_KEYS);

/** A JSON leaf that survives a round trip through jsonb and SQLite unchanged: no -0, no NaN, no
 * '\u0000' (jsonb rejects it), no huge or very precise numbers. */
const arbLeaf: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom('Buy milk', '', 'B', 'a', 'é ✓', 'line\nbreak'),
  fc.integer({ min: -1000, max: 1000 }),
  fc.constantFrom(0.5, -2.25, 1e6),
  fc.boolean(),
);
const arbObject = <T extends Json>(inner: fc.Arbitrary<T>): fc.Arbitrary<{ [key: string]: Json }> =>
  fc.dictionary(fc.constantFrom('a', 'b', 'k', 'Z', 'x.y'), inner, { maxKeys: 3, noNullPrototype: true });
const arbNested: fc.Arbitrary<Json> = fc.oneof(
  { arbitrary: arbLeaf, weight: 3 },
  { arbitrary: fc.constant(null), weight: 1 },
  { arbitrary: fc.array(arbLeaf, { maxLength: 3 }), weight: 1 },
);

/** A set's value: strings, numbers, booleans, nested objects and arrays (which may hold null),
 * and a top-level null (removal) about one time in five. */
export const arbValue = (): fc.Arbitrary<Json> =>
  fc.oneof(
    { arbitrary: fc.constant(null), weight: 2 },
    { arbitrary: arbLeaf, weight: 5 },
    { arbitrary: fc.array(arbNested, { maxLength: 3 }), weight: 1 },
    { arbitrary: arbObject(arbNested), weight: 2 },
  );

type Body = Omit<MoveOp, 'ts'> | Omit<SetOp, 'ts'>;

interface Draft {
  replica: string;
  wall: number;
  counter: number;
  body: Body;
}

/** Gives each draft a ts, bumping the counter until its (replica, wall, counter) is unused:
 * unique in the history, while walls and counters still tie across replicas. */
function stamp(drafts: Draft[]): Op[] {
  const used = new Set<string>();
  return drafts.map(({ replica, wall, counter, body }) => {
    let c = counter;
    while (used.has(formatTs(BASE_WALL + wall, c, replica))) c++;
    const ts = formatTs(BASE_WALL + wall, c, replica);
    used.add(ts);
    return { ts, ...body } as Op;
  });
}

/** A random history from several replicas (not causally consistent: a replica may move a node
 * it has never seen, under a parent that is created only later, which is what the merge must
 * handle). Ops come in generation order, which is no particular order. */
export function arbHistory(opts: HistoryOptions = {}): fc.Arbitrary<Op[]> {
  const { maxOps = 60, minOps = 0, replicas = REPLICAS, nodes = NODES, setWeight = 2 } = opts;
  // A node is drawn as an index into the first `hot` ids (2..all, per history, so some
  // histories crowd onto two or three nodes and make cycles), or rarely from RARE_NODES.
  const nodeRef = fc.oneof(
    { arbitrary: fc.nat(nodes.length - 1).map((i) => ({ rare: false, i })), weight: 9 },
    { arbitrary: fc.nat(RARE_NODES.length - 1).map((i) => ({ rare: true, i })), weight: 1 },
  );
  const parentRef = fc.oneof(
    { arbitrary: fc.constant(ROOT), weight: 3 },
    { arbitrary: fc.constant(TRASH), weight: 2 },
    { arbitrary: nodeRef, weight: 6 },
  );
  const move = fc.record({ type: fc.constant('move' as const), node: nodeRef, parent: parentRef, pos: arbPos() });
  const set = fc.record({ type: fc.constant('set' as const), node: nodeRef, key: arbFieldKey(), value: arbValue() });
  const draft = fc.record({
    replica: fc.constantFrom(...replicas),
    // Few walls and counters, so ts often tie up to the replica id.
    wall: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 4 }), weight: 4 }, { arbitrary: fc.integer({ min: 0, max: 60 }), weight: 1 }),
    counter: fc.integer({ min: 0, max: 2 }),
    body: fc.oneof({ arbitrary: move, weight: 3 }, { arbitrary: set, weight: setWeight }),
  });
  const hot = fc.integer({ min: Math.min(2, nodes.length), max: nodes.length });
  return fc
    .tuple(hot, fc.array(draft, { minLength: minOps, maxLength: maxOps, size: 'max' }))
    .map(([k, drafts]) => {
      const id = (ref: { rare: boolean; i: number }) => (ref.rare ? RARE_NODES[ref.i]! : nodes[ref.i % k]!);
      return drafts.map(({ body, ...d }): Draft => ({
        ...d,
        body:
          body.type === 'move'
            ? { ...body, node: id(body.node), parent: typeof body.parent === 'string' ? body.parent : id(body.parent) }
            : { ...body, node: id(body.node) },
      }));
    })
    .map((drafts) => withScenarioString(stamp(drafts)));
}

/** How to deliver a history: its ops in an order, with duplicates, split into batches. */
export type DeliveryPlan = Op[][];

/** The randomness of a delivery plan, independent of the ops it will be applied to, so a
 * shrinking history keeps its delivery order (see `planFrom`). */
export interface PlanGenes {
  /** Sort keys: op i is delivered in order of (keys[i] ?? 0, i). */
  keys: number[];
  /** Copies to insert: [index of the op, insertion point], both taken modulo the length. */
  duplicates: Array<[number, number]>;
  split: 'one batch' | 'singletons' | number[];
}

/** Random plan genes for histories of up to `maxOps` ops. */
export function arbPlanGenes(maxOps: number): fc.Arbitrary<PlanGenes> {
  return fc.record({
    keys: fc.array(fc.nat(maxOps), { minLength: maxOps, maxLength: maxOps }),
    duplicates: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: Math.ceil(maxOps / 3) }),
    split: fc.oneof(
      fc.constant('one batch' as const),
      fc.constant('singletons' as const),
      fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
    ),
  });
}

/** The delivery plan `genes` make of `ops`: reordered, with copies (equal in content) of some
 * ops inserted, split into batches. Every op of `ops` is delivered at least once. */
export function planFrom(ops: readonly Op[], genes: PlanGenes): DeliveryPlan {
  if (ops.length === 0) return withPlanString([]);
  const order = ops.map((op, i) => ({ op, key: genes.keys[i] ?? 0, i }));
  order.sort((x, y) => x.key - y.key || x.i - y.i);
  const stream = order.map((x) => x.op);
  for (const [from, at] of genes.duplicates) {
    stream.splice(at % (stream.length + 1), 0, structuredClone(ops[from % ops.length]!));
  }
  let batches: Op[][];
  if (genes.split === 'one batch') batches = [stream];
  else if (genes.split === 'singletons') batches = stream.map((op) => [op]);
  else {
    const cuts = [...new Set(genes.split.map((c) => 1 + (c % stream.length)))].sort((x, y) => x - y);
    batches = [];
    let start = 0;
    for (const cut of [...cuts, stream.length]) {
      if (cut > start) batches.push(stream.slice(start, cut));
      start = Math.max(start, cut);
    }
  }
  return withPlanString(batches);
}

/** A random delivery plan for `ops`: a permutation with random duplicates inserted, split as
 * one big batch, as batches of one, or at random cuts. */
export function arbDelivery(ops: readonly Op[]): fc.Arbitrary<DeliveryPlan> {
  return arbPlanGenes(ops.length).map((genes) => planFrom(ops, genes));
}

/** A history and `plans` delivery plans of it (default 3), for convergence properties. Built
 * without `chain`, so fast-check shrinks the history and the plans together: a shrunk
 * counterexample keeps the delivery order that made it fail. */
export function arbScenario(
  opts: HistoryOptions & { plans?: number } = {},
): fc.Arbitrary<{ ops: Op[]; plans: DeliveryPlan[] }> {
  const { plans = 3, ...history } = opts;
  const genes = fc.array(arbPlanGenes(history.maxOps ?? 60), { minLength: plans, maxLength: plans });
  return fc
    .tuple(arbHistory(history), genes)
    .map(([ops, gs]) => ({ ops, plans: gs.map((g) => planFrom(ops, g)) }));
}

export interface SessionOptions {
  /** Most steps (acts and syncs) in all (default 60). */
  maxSteps?: number;
  /** Replica ids to draw 2..4 from (default REPLICAS). */
  replicas?: readonly string[];
}

export interface Sessions {
  /** Every op any replica made, in the order they were made. */
  ops: Op[];
  /** The batches in the order the replicas pushed them to the server; the last ones are each
   * replica's still-unpushed ops. Together they hold every op exactly once. */
  pushes: Op[][];
}

interface Step {
  replica: number;
  sync: boolean;
  tick: number;
  kind: number;
  pick: number;
  pick2: number;
  value: Json;
}

/** Names of created nodes, mixed case so equal pos makes bytewise and locale orders differ. */
const CREATED = 'aBcDeFgHiJkLmNoPqRsTuVwXyZ'.split('');

/** Replicas that each edit their own view of the tree offline and sync now and then: each one
 * creates nodes, moves nodes it has seen (never under their own subtree in its view), deletes,
 * restores from the trash and edits fields, stamping ops with a hybrid logical clock (so an
 * op is later than every op its replica had seen), and syncs by pushing its new ops to a
 * server log and pulling everyone else's. Conflicts arise from the offline branches. */
export function arbReplicaSessions(opts: SessionOptions = {}): fc.Arbitrary<Sessions> {
  const { maxSteps = 60, replicas = REPLICAS } = opts;
  const step: fc.Arbitrary<Step> = fc.record({
    replica: fc.nat(3),
    // About one step in six is a sync: long enough offline branches to conflict.
    sync: fc.nat(5).map((r) => r === 0),
    tick: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 })),
    kind: fc.nat(9),
    pick: fc.nat(),
    pick2: fc.nat(),
    value: arbValue(),
  });
  const steps = fc.array(step, { maxLength: maxSteps, size: 'max' });
  const chosen = fc.uniqueArray(fc.constantFrom(...replicas), { minLength: Math.min(2, replicas.length), maxLength: 4 });
  return fc.tuple(chosen, steps).map(([ids, plan]) => runSessions(ids, plan));
}

interface Replica {
  id: string;
  wall: number;
  counter: number;
  known: Op[];
  unpushed: Op[];
  pulled: number;
}

function runSessions(ids: string[], steps: Step[]): Sessions {
  const server: Op[] = [];
  const pushes: Op[][] = [];
  const ops: Op[] = [];
  const replicas: Replica[] = ids.map((id) => ({ id, wall: 0, counter: 0, known: [], unpushed: [], pulled: 0 }));
  let now = BASE_WALL;
  let created = 0;

  const sync = (r: Replica) => {
    if (r.unpushed.length > 0) {
      pushes.push(r.unpushed);
      server.push(...r.unpushed);
      r.unpushed = [];
    }
    for (const op of server.slice(r.pulled)) {
      if (!r.known.some((k) => k.ts === op.ts)) r.known.push(op);
      // Hybrid logical clock, receive: never behind what was seen.
      const wall = Number(op.ts.slice(0, 13));
      const counter = Number(op.ts.slice(14, 19));
      if (wall > r.wall) [r.wall, r.counter] = [wall, counter];
      else if (wall === r.wall) r.counter = Math.max(r.counter, counter);
    }
    r.pulled = server.length;
  };

  const emit = (r: Replica, body: Body) => {
    // Hybrid logical clock, send: physical time if it moved on, else count up.
    if (now > r.wall) [r.wall, r.counter] = [now, 0];
    else r.counter++;
    const op = { ts: formatTs(r.wall, r.counter, r.id), ...body } as Op;
    r.known.push(op);
    r.unpushed.push(op);
    ops.push(op);
  };

  for (const s of steps) {
    now += s.tick;
    const r = replicas[s.replica % replicas.length]!;
    if (s.sync) {
      sync(r);
      continue;
    }
    const view = replay(r.known);
    const parentOf = new Map(view.nodes.map((n) => [n.id, n.parent]));
    const inTrash = (id: string) => {
      for (let at: string | null | undefined = id; at != null; at = parentOf.get(at)) if (at === TRASH) return true;
      return false;
    };
    const inside = (id: string, top: string) => {
      for (let at: string | null | undefined = id; at != null; at = parentOf.get(at)) if (at === top) return true;
      return false;
    };
    const movable = view.nodes.map((n) => n.id).filter((id) => id !== ROOT && id !== TRASH);
    const live = movable.filter((id) => !inTrash(id));
    const trashed = view.nodes.filter((n) => n.parent === TRASH).map((n) => n.id);
    const pos = ORDER_KEYS[s.pick2 % ORDER_KEYS.length]!;
    const pick = <T>(xs: readonly T[], k = s.pick) => xs[k % xs.length]!;

    if (s.kind <= 1 || movable.length === 0) {
      // Create a node under ROOT or a live node.
      const id = created < CREATED.length ? CREATED[created]! : `n${created}`;
      created++;
      emit(r, { type: 'move', node: id, parent: pick([ROOT, ROOT, ...live], s.pick2), pos });
    } else if (s.kind <= 4) {
      // Move a node somewhere outside its own subtree (in this replica's view); to ROOT only
      // when there is no other choice, since moves under other nodes are what race into cycles.
      const node = pick(movable);
      const targets = [ROOT, ...movable.filter((id) => !inside(id, node))];
      if (targets.length > 2) targets.shift();
      emit(r, { type: 'move', node, parent: pick(targets, s.pick2), pos });
    } else if (s.kind === 5 && live.length > 0) {
      emit(r, { type: 'move', node: pick(live), parent: TRASH, pos: '' });
    } else if (s.kind === 6 && trashed.length > 0) {
      emit(r, { type: 'move', node: pick(trashed), parent: ROOT, pos });
    } else {
      const node = pick(movable);
      emit(r, { type: 'set', node, key: pick(FIELD_KEYS, s.pick2), value: s.value });
    }
  }
  for (const r of replicas) {
    if (r.unpushed.length > 0) pushes.push(r.unpushed);
  }
  return { ops: withScenarioString(ops), pushes: withPlanString(pushes) };
}
