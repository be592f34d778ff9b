/**
 * A batch of plain operations as one string, for `apply`'s way into the worker.
 *
 * `Replica.apply(ops)` hands the worker an array of objects. Posted as they are, each object is
 * cloned field by field (the structured clone algorithm) on the app's thread and rebuilt on the
 * worker's: for a batch of 1,000 moves about 0.7 ms on one side and 1 ms on the other, a
 * twentieth of the whole apply. Packed as one string, the app's thread writes the fields one
 * after the other and the worker splits them again: about 0.4 ms and 0.25 ms.
 *
 * Only batches that arrive in the worker exactly as a clone would are packed: an array of plain
 * objects, each a move (`ts`, `type`, `node`, `parent`, `pos`, all strings) or a set (`ts`,
 * `type`, `node`, `key` strings and a `value` that is a string, a finite number other than -0,
 * a boolean or null), with no other property. Anything else (a `seen`, a nested value, a
 * property that is undefined, a field of the wrong type, a string holding the separator)
 * returns undefined and the caller sends the array as it is. The worker validates the unpacked
 * objects as it validates cloned ones, so a batch gets the same answer and the same error
 * either way.
 */
import type { Op } from '../protocol/ops.ts';

/** Between two fields; after the last field of every op too. */
const SEP = '\u0000';
/** Fields per op: kind, ts, node, and two more (a move's parent and pos, a set's key and value). */
const FIELDS = 5;

/** The op's kind, the first field: a move, a set of a string, a set of a JSON scalar. */
const MOVE = 'm';
const SET_STRING = 's';
const SET_SCALAR = 'j';

/** Counts the object's enumerable properties (own ones only, for a plain object). */
function countKeys(o: object): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

/** The batch as one string, or undefined when it is not a batch of plain ops (see above). */
export function packOps(ops: unknown): string | undefined {
  if (!Array.isArray(ops)) return undefined;
  let text = '';
  for (let i = 0; i < ops.length; i++) {
    const op: unknown = ops[i];
    if (typeof op !== 'object' || op === null) return undefined;
    const proto: unknown = Object.getPrototypeOf(op);
    if ((proto !== Object.prototype && proto !== null) || countKeys(op) !== FIELDS) return undefined;
    const o = op as Record<string, unknown>;
    const { ts, node } = o;
    if (typeof ts !== 'string' || typeof node !== 'string') return undefined;
    if (o.type === 'move') {
      const { parent, pos } = o;
      if (typeof parent !== 'string' || typeof pos !== 'string') return undefined;
      text += `${MOVE}${SEP}${ts}${SEP}${node}${SEP}${parent}${SEP}${pos}${SEP}`;
    } else if (o.type === 'set') {
      const { key, value } = o;
      if (typeof key !== 'string') return undefined;
      if (typeof value === 'string') text += `${SET_STRING}${SEP}${ts}${SEP}${node}${SEP}${key}${SEP}${value}${SEP}`;
      else if (value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0))) {
        text += `${SET_SCALAR}${SEP}${ts}${SEP}${node}${SEP}${key}${SEP}${JSON.stringify(value)}${SEP}`;
      } else return undefined;
    } else return undefined;
  }
  // A field holding the separator would split wrongly: then the text has more of them.
  let seps = 0;
  for (let at = text.indexOf(SEP); at >= 0; at = text.indexOf(SEP, at + 1)) seps++;
  return seps === ops.length * FIELDS ? text : undefined;
}

/** The ops a packed text holds, as plain objects (what a structured clone of them would be). */
export function unpackOps(text: string): Op[] {
  const f = text.split(SEP);
  const count = (f.length - 1) / FIELDS;
  if (!Number.isInteger(count)) throw new Error('a packed batch of operations is cut');
  const ops = new Array<Op>(count);
  for (let i = 0, k = 0; i < count; i++, k += FIELDS) {
    const kind = f[k];
    if (kind === MOVE) ops[i] = { ts: f[k + 1]!, type: 'move', node: f[k + 2]!, parent: f[k + 3]!, pos: f[k + 4]! };
    else if (kind === SET_STRING) ops[i] = { ts: f[k + 1]!, type: 'set', node: f[k + 2]!, key: f[k + 3]!, value: f[k + 4]! };
    else if (kind === SET_SCALAR) ops[i] = { ts: f[k + 1]!, type: 'set', node: f[k + 2]!, key: f[k + 3]!, value: JSON.parse(f[k + 4]!) as null | boolean | number };
    else throw new Error(`a packed batch of operations has an op of kind ${JSON.stringify(kind)}`);
  }
  return ops;
}
