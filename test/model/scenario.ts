/**
 * Prints a (shrunk) counterexample as a scenario a person can read and turn into a unit test.
 *
 * How failures print, in two places:
 * - Histories and delivery plans from arbitraries.ts carry a (non-enumerable)
 *   `fc.toStringMethod`, so fast-check's "Counterexample:" line lists one op per line instead of
 *   a wall of JSON (`withScenarioString`, `withPlanString`).
 * - A property body wrapped in `withScenario(ops, batches, () => …)` appends the full scenario
 *   (ops in delivery batches, the reference model's verdict on each op, the resulting tree, and
 *   a snippet to paste into a test) to the message of the error it throws. The error itself is
 *   kept (its type, its expected/actual diff), only its message grows, so vitest still shows
 *   the diff. fast-check shows that message under "Got error:" for the shrunk case.
 */
import fc from 'fast-check';
import { compareBytes, type Op } from '../../protocol/ops.ts';
import { canonicalJson, distinctOps, fieldKey, renderTree, replayState, toSnapshot, type MoveOutcome } from './reference.ts';

/** One op as a line: `ts  move n1 -> ROOT @"a0"` or `ts  set n1.text = "Buy milk"`. */
export function formatOp(op: Op, tsWidth = op.ts.length): string {
  const body =
    op.type === 'move'
      ? `move ${op.node} -> ${op.parent} @${JSON.stringify(op.pos)}`
      : `set ${op.node}.${op.key} = ${JSON.stringify(op.value)}`;
  return `${op.ts.padEnd(tsWidth)}  ${body}`;
}

const VERDICT: Record<Exclude<MoveOutcome, 'applied'>, (op: Op & { type: 'move' }) => string> = {
  'no-parent': (op) => `skipped: ${op.parent} does not exist at this ts`,
  self: () => 'skipped: a node cannot be its own parent',
  cycle: (op) => `skipped: ${op.node} is an ancestor of ${op.parent} (cycle)`,
};

interface Verdicts {
  of(op: Op): string;
  tree: string;
}

/** What the reference model did with each op, and the tree it ends with. */
function verdicts(ops: readonly Op[]): Verdicts {
  try {
    const { state, outcomes } = replayState(ops);
    const winners = new Map<string, string>();
    for (const f of state.fields.values()) winners.set(fieldKey(f.node, f.key), f.ts);
    return {
      of(op) {
        if (op.type === 'move') {
          const outcome = outcomes.get(op.ts);
          return outcome === undefined || outcome === 'applied' ? '' : VERDICT[outcome](op);
        }
        const winner = winners.get(fieldKey(op.node, op.key));
        if (winner !== op.ts) return `loses to ${winner}`;
        return op.value === null ? 'removes the field' : '';
      },
      tree: renderTree(toSnapshot(state)),
    };
  } catch (err) {
    const message = `(the reference model refused these ops: ${(err as Error).message})`;
    return { of: () => '', tree: message };
  }
}

function line(op: Op, width: number, note: string): string {
  const text = formatOp(op, width);
  return note === '' ? text : `${text.padEnd(width + 40)}  # ${note}`;
}

/** The ops one per line, in ts order (the order that matters), for counterexample lines. */
export function formatOps(ops: readonly Op[]): string {
  const sorted = [...ops].sort((a, b) => compareBytes(a.ts, b.ts));
  const width = Math.max(0, ...sorted.map((op) => op.ts.length));
  return sorted.map((op) => formatOp(op, width)).join('\n');
}

function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The ops as code for a unit test, with the constructors of test/merge/ops.ts. */
function asCode(ops: readonly Op[], batches?: readonly (readonly Op[])[]): string {
  const index = new Map(ops.map((op, i) => [op.ts, i]));
  const lines = ['const ops: Op[] = ['];
  for (const op of ops) {
    lines.push(
      op.type === 'move'
        ? `  move(${quote(op.ts)}, ${quote(op.node)}, ${quote(op.parent)}, ${quote(op.pos)}),`
        : `  set(${quote(op.ts)}, ${quote(op.node)}, ${quote(op.key)}, ${JSON.stringify(op.value)}),`,
    );
  }
  lines.push('];');
  if (batches) {
    const b = batches.map((batch) => `[${batch.map((op) => `ops[${index.get(op.ts)}]!`).join(', ')}]`);
    lines.push(`const batches: Op[][] = [\n  ${b.join(',\n  ')},\n];`);
  }
  return lines.join('\n');
}

/** A readable scenario: the ops (grouped by delivery batch when given, duplicates marked), the
 * reference model's verdict on each (skipped moves and why, sets that lost), the tree the
 * model ends with, and the same ops as code to paste into a unit test. Never throws. */
export function formatScenario(ops: readonly Op[], batches?: readonly (readonly Op[])[]): string {
  const all = [...ops, ...(batches ?? []).flat()];
  let distinct: Op[];
  try {
    distinct = distinctOps(all);
  } catch {
    // Two ops share a ts: list every distinct content, so the clash shows.
    distinct = [...new Map(all.map((op) => [canonicalJson(op), op])).values()].sort((a, b) => compareBytes(a.ts, b.ts));
  }
  const v = verdicts(all);
  const width = Math.max(0, ...distinct.map((op) => op.ts.length));
  const out: string[] = [];
  if (batches) {
    const count = batches.reduce((n, b) => n + b.length, 0);
    out.push(`Scenario: ${distinct.length} ops delivered as ${count} in ${batches.length} batches (# notes: the reference model's verdict)`);
    const seen = new Set<string>();
    batches.forEach((batch, i) => {
      out.push(`  batch ${i + 1}/${batches.length}:`);
      for (const op of batch) {
        const notes = [seen.has(op.ts) ? 'duplicate' : '', v.of(op)].filter((n) => n !== '');
        seen.add(op.ts);
        out.push(`    ${line(op, width, notes.join('; '))}`);
      }
    });
  } else {
    out.push(`Scenario: ${distinct.length} ops in ts order (# notes: the reference model's verdict)`);
    for (const op of distinct) out.push(`  ${line(op, width, v.of(op))}`);
  }
  out.push('Tree by the reference model:');
  out.push(...v.tree.split('\n').map((l) => `  ${l}`));
  out.push('Reproduce (constructors from test/merge/ops.ts; compare with replay() from test/model/reference.ts):');
  out.push(...asCode(distinct, batches).split('\n').map((l) => `  ${l}`));
  return out.join('\n');
}

/** Marks a history so fast-check prints it one op per line. Returns the same array. */
export function withScenarioString<T extends Op[]>(ops: T): T {
  Object.defineProperty(ops, fc.toStringMethod, {
    value: () => (ops.length === 0 ? '[] (no ops)' : `[\n${formatOps(ops)}\n]`),
    enumerable: false,
  });
  return ops;
}

/** Marks a delivery plan so fast-check prints it as batches of ts. Returns the same array. */
export function withPlanString<T extends Op[][]>(batches: T): T {
  Object.defineProperty(batches, fc.toStringMethod, {
    value: () => `batches [${batches.map((b) => `[${b.map((op) => op.ts).join(' ')}]`).join(', ')}]`,
    enumerable: false,
  });
  return batches;
}

function annotate(err: unknown, ops: readonly Op[], batches?: readonly (readonly Op[])[]): unknown {
  const scenario = formatScenario(ops, batches);
  if (err instanceof Error) {
    err.message = `${err.message}\n\n${scenario}`;
    return err;
  }
  return new Error(`${String(err)}\n\n${scenario}`, { cause: err });
}

/** Runs a property body; when it fails, the error's message ends with the scenario. Works for
 * synchronous and asynchronous bodies. */
export function withScenario<T>(ops: readonly Op[], batches: readonly (readonly Op[])[] | undefined, body: () => T): T {
  let result: T;
  try {
    result = body();
  } catch (err) {
    throw annotate(err, ops, batches);
  }
  if (result instanceof Promise) {
    return result.catch((err: unknown) => {
      throw annotate(err, ops, batches);
    }) as T;
  }
  return result;
}
