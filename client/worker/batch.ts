/**
 * A batch of operations from validation to the list of new ones: the checks apply_ops makes
 * before it writes anything (sql/000002-merge.sql, steps 2 and 3), in the same order and with
 * the same messages, codes and indexes.
 */
import { TreesyncError } from '../../protocol/errors.ts';
import type { MoveOp, Op } from '../../protocol/ops.ts';
import { jsonbText } from './json-value.ts';
import { opProblem } from './op-problem.ts';
import type { Db } from './sqlite-db.ts';

/** A valid op with its set value as jsonb text (what the replica stores and compares). */
export type StoredMove = MoveOp & { index: number };
export interface StoredSet {
  index: number;
  ts: string;
  type: 'set';
  node: string;
  key: string;
  /** The value's jsonb text. */
  value: string;
}
export type BatchOp = StoredMove | StoredSet;

/** The content of an op without its ts: equal strings mean the same op. */
function content(op: BatchOp): string {
  return op.type === 'move'
    ? `move\u0000${op.node}\u0000${op.parent}\u0000${op.pos}`
    : `set\u0000${op.node}\u0000${op.key}\u0000${op.value}`;
}

/** Validates every op; throws invalid_op naming the first bad one. */
export function validateBatch(ops: unknown, maxValueBytes: number): BatchOp[] {
  if (!Array.isArray(ops)) throw new TreesyncError('invalid_op', 'operations must be a JSON array');
  return ops.map((op: unknown, index): BatchOp => {
    const problem = opProblem(op, maxValueBytes);
    if (problem !== undefined) throw new TreesyncError('invalid_op', `operation ${index}: ${problem}`, { index });
    const o = op as Op;
    return o.type === 'move'
      ? { index, ts: o.ts, type: 'move', node: o.node, parent: o.parent, pos: o.pos }
      : { index, ts: o.ts, type: 'set', node: o.node, key: o.key, value: jsonbText(o.value) };
  });
}

function conflict(op: BatchOp, why: string): TreesyncError {
  return new TreesyncError('ts_conflict', `operation ${op.index}: ts ${op.ts} ${why}`, { index: op.index, ts: op.ts });
}

/** The content stored under a ts, or undefined when the ts is new. */
async function storedContent(db: Db, ts: string): Promise<string | undefined> {
  const row = await db.get(
    `select 'move', node, parent, pos from moves where ts = ?1
     union all select 'set', node, key, value from sets where ts = ?1`,
    [ts],
  );
  return row === undefined ? undefined : row.join('\u0000');
}

/**
 * The ops never seen before, each once (the first of repeats in the batch), in batch order.
 * A ts repeated with other content, in the batch or against what is stored, is ts_conflict
 * (the lowest index; repeats in the batch are looked for first, as in SQL).
 */
export async function newOps(db: Db, batch: BatchOp[]): Promise<BatchOp[]> {
  // A batch whose ts only grow (as the server sends them) repeats none: no map of them needed.
  let ascending = true;
  for (let i = 1; i < batch.length && ascending; i++) ascending = batch[i - 1]!.ts < batch[i]!.ts;
  let first: Map<string, BatchOp> | undefined;
  if (!ascending) {
    first = new Map();
    for (const op of batch) {
      const seen = first.get(op.ts);
      if (seen === undefined) first.set(op.ts, op);
      else if (content(seen) !== content(op)) throw conflict(op, 'is repeated in the batch with other content');
    }
  }
  // Nothing stored is newer than the newest stored ts (both tables are keyed by ts, so this is
  // two index probes): an op newer than it needs no lookup. Batches arriving in order, the
  // usual case, look nothing up.
  const newestRow = await db.get(
    `select max(coalesce((select max(ts) from moves), ''), coalesce((select max(ts) from sets), ''))`,
  );
  const newest = (newestRow?.[0] as string | null) ?? '';
  const fresh: BatchOp[] = [];
  for (const op of batch) {
    const isFirst = first === undefined || first.get(op.ts) === op;
    const had = isFirst && op.ts <= newest ? await storedContent(db, op.ts) : undefined;
    if (had === undefined) {
      if (isFirst) fresh.push(op);
    } else if (had !== content(op)) throw conflict(op, 'is already stored with other content');
  }
  return fresh;
}
