/**
 * Merge scenarios as data: the operations to deliver and what a user must then see. One list,
 * run by every merge: Postgres's apply_ops (test/merge/*.pg.test.ts) and the client's replica
 * in wa-sqlite (test/client/scenarios.test.ts). A runner only says how to make an empty tree,
 * apply a batch, and read the tree back (MergeTarget); `runScenario` does the rest.
 */
import { expect } from 'vitest';
import type { ErrorCode } from '../../protocol/errors.ts';
import { compareBytes, type Json, type Op } from '../../protocol/ops.ts';
import { checkInvariants, replay, type Snapshot } from '../model/reference.ts';

/** The counts every merge answers (Postgres adds seq, first_seq and redone). */
export interface ApplyCounts {
  accepted: number;
  duplicates: number;
  undone: number;
  skipped: number;
}

export interface TargetError {
  /** The protocol code (Postgres's SQLSTATE mapped by protocol/errors.ts). */
  code: string;
  message: string;
  /** The detail's facts: `index`, `ts`, … */
  details: Record<string, unknown>;
}

/** One empty tree of one merge. */
export interface TreeUnderTest {
  apply(ops: unknown): Promise<object>;
  /** Applies `ops` and returns the error; fails the test when there was none. */
  applyError(ops: unknown): Promise<TargetError>;
  /** Nodes by id, live fields by (node, key): the reference model's canonical form. */
  read(): Promise<Snapshot>;
  /** Everything the tree holds (nodes, fields with tombstones, the log…), to prove that a
   * rejected batch changed nothing. */
  everything(): Promise<unknown>;
}

export interface MergeTarget {
  /** Which merge: 'postgres' or 'replica'. */
  name: string;
  /** The keys of an apply's answer this merge has, when not all that scenarios check (the
   * replica has no seq): expected results are compared on these keys only. */
  answers?: readonly string[];
  freshTree(): Promise<TreeUnderTest>;
}

export type Step =
  /** Apply a batch; `result` (partial) must match the answer; `unchanged`: the tree too. */
  | { apply: unknown; result?: Partial<ApplyCounts> & Record<string, unknown>; unchanged?: boolean }
  /** A batch that must be refused with this error, leaving the tree as it was. */
  | { reject: unknown; error: { code: ErrorCode; message: RegExp; details?: Record<string, unknown> } };

export interface Expectation {
  /** The tree the reference model makes of these ops (nodes and live fields, exactly). */
  model?: Op[];
  /** Exactly these node ids (sorted bytewise). */
  nodeIds?: string[];
  /** These nodes, among others. */
  contains?: Array<{ id: string; parent: string | null; pos: string }>;
  /** The parent of each node (undefined: the node does not exist). */
  parents?: Record<string, string | null | undefined>;
  /** Exactly these live fields. */
  fields?: Array<{ node: string; key: string; value: Json }>;
  /** A parent's children in sibling order, (pos, id) bytewise: how many, the first and last ids. */
  children?: { parent: string; count: number; first: string[]; last: string[] };
  /** Every plan gives the same tree. */
  samePlans?: boolean;
}

export interface Scenario {
  name: string;
  /** Each plan is delivered to a new tree, and each must meet `expect`. */
  plans: Step[][];
  expect?: Expectation;
  /** For the large ones (ms). */
  timeout?: number;
}

/** A plan that applies each batch in turn. */
export const batches = (...list: unknown[]): Step[] => list.map((apply) => ({ apply }));

/** The ids of `parent`'s children in sibling order. */
function childrenOf(snapshot: Snapshot, parent: string): string[] {
  return snapshot.nodes
    .filter((n) => n.parent === parent)
    .sort((a, b) => compareBytes(a.pos, b.pos) || compareBytes(a.id, b.id))
    .map((n) => n.id);
}

async function runStep(target: MergeTarget, tree: TreeUnderTest, step: Step, where: string): Promise<void> {
  if ('reject' in step) {
    const before = await tree.everything();
    const err = await tree.applyError(step.reject);
    expect(err.code, where).toBe(step.error.code);
    expect(err.message, where).toMatch(step.error.message);
    if (step.error.details) expect(err.details, where).toEqual(step.error.details);
    expect(await tree.everything(), `${where}: a refused batch changes nothing`).toEqual(before);
    return;
  }
  const before = step.unchanged ? await tree.everything() : undefined;
  const result = await tree.apply(step.apply);
  if (step.result) {
    const expected = Object.fromEntries(
      Object.entries(step.result).filter(([key]) => target.answers === undefined || target.answers.includes(key)),
    );
    expect(result, where).toMatchObject(expected);
  }
  if (before !== undefined) expect(await tree.everything(), `${where}: nothing changes`).toEqual(before);
}

function check(state: Snapshot, e: Expectation, where: string): void {
  expect(checkInvariants(state), `${where}: a sound tree`).toEqual([]);
  if (e.model) expect(state, where).toEqual(replay(e.model));
  if (e.nodeIds) expect(state.nodes.map((n) => n.id), where).toEqual(e.nodeIds);
  for (const node of e.contains ?? []) expect(state.nodes, where).toContainEqual(node);
  for (const [id, parent] of Object.entries(e.parents ?? {})) {
    expect(state.nodes.find((n) => n.id === id)?.parent, `${where}: the parent of ${id}`).toBe(parent);
  }
  if (e.fields) expect(state.fields, where).toEqual(e.fields);
  if (e.children) {
    const ids = childrenOf(state, e.children.parent);
    expect(ids.length, where).toBe(e.children.count);
    expect(ids.slice(0, e.children.first.length), where).toEqual(e.children.first);
    expect(ids.slice(ids.length - e.children.last.length), where).toEqual(e.children.last);
  }
}

/** Delivers every plan of a scenario to a new tree of `target` and checks what it must show. */
export async function runScenario(target: MergeTarget, scenario: Scenario): Promise<void> {
  const states: Snapshot[] = [];
  for (const [p, plan] of scenario.plans.entries()) {
    const tree = await target.freshTree();
    for (const [s, step] of plan.entries()) {
      await runStep(target, tree, step, `${target.name}, plan ${p + 1}, step ${s + 1}`);
    }
    const state = await tree.read();
    check(state, scenario.expect ?? {}, `${target.name}, plan ${p + 1}`);
    states.push(state);
  }
  if (scenario.expect?.samePlans) for (const state of states.slice(1)) expect(state).toEqual(states[0]);
}
