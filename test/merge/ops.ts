/** Terse constructors for operations in scenario tests. */
import { formatTs, type Json, type MoveOp, type SetOp } from '../../protocol/ops.ts';

const BASE = 1_732_212_345_000;

/** A timestamp `ms` milliseconds after a fixed base, with a counter and a replica id. */
export function ts(ms: number, replica = 'alice', counter = 0): string {
  return formatTs(BASE + ms, counter, replica);
}

export function move(at: string, node: string, parent: string, pos = ''): MoveOp {
  return { ts: at, type: 'move', node, parent, pos };
}

export function set(at: string, node: string, key: string, value: Json): SetOp {
  return { ts: at, type: 'set', node, key, value };
}
