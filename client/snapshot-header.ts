/**
 * The snapshot header's JSON, checked: a reader trusts nothing it has not validated, because the
 * counts decide whether the stream it read was complete. Unknown keys are ignored (a later
 * version-1 server may add facts a reader can skip).
 */
import { SnapshotError } from './snapshot-error.ts';
import { TIMESTAMP } from '../protocol/ops.ts';
import type { SnapshotHeader } from '../protocol/snapshot-format.ts';

export function parseHeader(json: Uint8Array): SnapshotHeader {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (err) {
    throw new SnapshotError('snapshot_invalid', `the header is not UTF-8 JSON (${(err as Error).message})`);
  }
  const h = asObject(value, 'the header');
  if (typeof h.tree !== 'string') throw invalid('the header has no tree id');
  const seq = count(h.seq, 'seq');
  const counts = asObject(h.counts, 'the header counts');
  // The frontier came later to version 1: absent in older streams, null when the tree has none.
  if (h.frontier !== undefined && h.frontier !== null && !isTimestamp(h.frontier)) {
    throw invalid('the header\'s frontier is not a timestamp');
  }
  return {
    tree: h.tree,
    seq,
    counts: {
      nodes: count(counts.nodes, 'counts.nodes'),
      fields: count(counts.fields, 'counts.fields'),
      moves: count(counts.moves, 'counts.moves'),
    },
    ...(h.frontier === undefined ? {} : { frontier: h.frontier }),
  };
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`the header's ${what} is not a non-negative integer`);
  }
  return value;
}

function invalid(message: string): SnapshotError {
  return new SnapshotError('snapshot_invalid', message);
}

function isTimestamp(value: unknown): value is string {
  return typeof value === 'string' && TIMESTAMP.test(value);
}
