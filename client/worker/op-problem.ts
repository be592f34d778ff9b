/**
 * What is wrong with one operation, as the sentence `treesync.op_problem` (the SQL merge's
 * validation) gives, or undefined when it is valid. The checks and their order are the SQL's,
 * so a bad batch fails here with the same message and index as in Postgres.
 *
 * Ops reach the worker as structured clones, not JSON text: a property whose value is
 * `undefined` counts as absent (as JSON.stringify would drop it), and a `set` value that JSON
 * cannot carry (a function, NaN, a Date, …) is refused.
 */
import { FIELD_KEY, NODE_ID, ORDER_KEY, ROOT, TIMESTAMP, TRASH } from '../../protocol/ops.ts';
import { jsonbTextBytes, valueDepth } from './json-value.ts';

/** Rule shared by every implementation: a value nests at most this many arrays/objects. */
export const MAX_VALUE_DEPTH = 64;

const MOVE_FIELDS = new Set(['ts', 'type', 'node', 'parent', 'pos']);
const SET_FIELDS = new Set(['ts', 'type', 'node', 'key', 'value']);

/** A string as jsonb prints it (quoted, escaped): the SQL messages quote ids this way. */
const quoted = (value: string): string => JSON.stringify(value);

/** A JSON value as jsonb prints it, for messages about a field of the wrong type. */
function printed(value: unknown): string {
  return typeof value === 'string' ? quoted(value) : String(JSON.stringify(value));
}

/** `seen` may come with any operation (what its author had seen; sql/000005), checked first. */
function hasOnly(op: Record<string, unknown>, allowed: Set<string>): boolean {
  return Object.keys(op).every((k) => allowed.has(k) || k === 'seen' || op[k] === undefined);
}

function seenProblem(o: Record<string, unknown>): string | undefined {
  if (!('seen' in o)) return undefined;
  const seen = o.seen;
  const ok = typeof seen === 'number' && Number.isSafeInteger(seen) && seen >= 0 && /^[0-9]{1,15}$/.test(String(seen));
  return ok ? undefined : 'seen must be a non-negative integer';
}

export function opProblem(op: unknown, maxValueBytes: number): string | undefined {
  if (typeof op !== 'object' || op === null || Array.isArray(op)) return 'an operation must be a JSON object';
  const o = op as Record<string, unknown>;
  const seen = seenProblem(o);
  if (seen !== undefined) return seen;
  if (typeof o.ts !== 'string') return 'ts must be a string';
  if (!TIMESTAMP.test(o.ts)) return `ts ${printed(o.ts)} is not a timestamp of the form WWWWWWWWWWWWW.CCCCC.replica`;
  if (typeof o.node !== 'string') return 'node must be a string';
  if (!NODE_ID.test(o.node)) return `node ${printed(o.node)} is not a node id ([A-Za-z0-9_-]{1,64})`;
  if (o.type === 'move') {
    if (o.node === ROOT || o.node === TRASH) return `${o.node} can never be moved`;
    if (typeof o.parent !== 'string') return 'parent must be a string';
    if (!NODE_ID.test(o.parent)) return `parent ${printed(o.parent)} is not a node id ([A-Za-z0-9_-]{1,64})`;
    if (typeof o.pos !== 'string') return 'pos must be a string';
    if (!ORDER_KEY.test(o.pos)) return 'pos must be printable ASCII of at most 128 bytes';
    if (!hasOnly(o, MOVE_FIELDS)) return 'a move has only the fields ts, type, node, parent, pos';
    return undefined;
  }
  if (o.type === 'set') {
    if (typeof o.key !== 'string') return 'key must be a string';
    if (!FIELD_KEY.test(o.key)) return `key ${printed(o.key)} is not a field key ([A-Za-z0-9_.-]{1,64})`;
    if (o.value === undefined) return 'a set needs a value (null removes the field)';
    const bytes = jsonbTextBytes(o.value);
    if (bytes === undefined) return 'value must be JSON';
    if (bytes > maxValueBytes) return `value is larger than ${maxValueBytes} bytes`;
    if (valueDepth(o.value) > MAX_VALUE_DEPTH) return `value nests deeper than ${MAX_VALUE_DEPTH} levels`;
    if (!hasOnly(o, SET_FIELDS)) return 'a set has only the fields ts, type, node, key, value';
    return undefined;
  }
  return 'type must be "move" or "set"';
}
