/**
 * Wire schemas of operations and of the ids they carry. They mirror the validation of
 * `treesync.op_problem` (sql/000002-merge.sql) with the patterns of ops.ts, so a bad operation
 * is refused before it reaches the database, with the same kind of sentence.
 *
 * Not checked here: the serialised size of a `set` value. Its limit is configurable and the
 * database measures it (`treesync.max_value_bytes`, jsonb text form); one place decides.
 */
import { z } from 'zod';
import { FIELD_KEY, NODE_ID, ORDER_KEY, REPLICA_ID, TIMESTAMP, TREE_ID, type Json, type Op, type StoredOp } from './ops.ts';

/** The message for a field of the wrong type: "is required" when it is missing. */
export const typeError = (field: string, expected: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? `${field} is required` : `${field} must be ${expected}`;

/** A string field named in its messages, matching `pattern`. */
export const stringField = (field: string, pattern: RegExp, what: string) =>
  z.string({ error: typeError(field, 'a string') }).regex(pattern, `${field} must be ${what}`);

/** A node id that is neither ROOT nor TRASH: the nodes that can be moved. */
const MOVABLE_NODE_ID = /^(?!(?:ROOT|TRASH)$)[A-Za-z0-9_-]{1,64}$/;

export const treeIdSchema = z.string().regex(TREE_ID, 'a tree id is [A-Za-z0-9_-]{1,64}');
export const replicaIdSchema = stringField('replica', REPLICA_ID, 'a replica id ([A-Za-z0-9_-]{1,32})');
/** A timestamp field, named in its messages. */
export const timestampField = (field: string) =>
  stringField(field, TIMESTAMP, 'a timestamp of the form WWWWWWWWWWWWW.CCCCC.replica');
/** A sequence number: a non-negative safe integer (Postgres bigint, far below 2^53). */
export const seqSchema = z.int({ error: 'a seq is a non-negative integer' }).min(0, 'a seq is a non-negative integer');

const ts = timestampField('ts');
/** What the op's author had applied when it made it (optional: else the push's `seen`). Not part
 * of the op's identity. Decides restores of concurrently deleted work (docs/deletes.md). */
const seen = z.int({ error: 'seen must be a non-negative integer' }).min(0, 'seen must be a non-negative integer').optional();
const nodeId = (field: string) => stringField(field, NODE_ID, 'a node id ([A-Za-z0-9_-]{1,64})');

/** Any JSON value (what JSON.parse can give), required: `null` is a value, missing is not. */
const jsonValue: z.ZodType<Json> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)], {
    error: (iss) => (iss.input === undefined ? 'a set needs a value (null removes the field)' : 'value must be JSON'),
  }),
);

export const moveOpSchema = z.strictObject(
  {
    ts,
    type: z.literal('move'),
    node: stringField('node', MOVABLE_NODE_ID, 'a node id ([A-Za-z0-9_-]{1,64}) other than ROOT and TRASH'),
    parent: nodeId('parent'),
    pos: stringField('pos', ORDER_KEY, 'printable ASCII of at most 128 bytes'),
    seen,
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? 'a move has only the fields ts, type, node, parent, pos, seen' : undefined) },
);

export const setOpSchema = z.strictObject(
  {
    ts,
    type: z.literal('set'),
    node: nodeId('node'),
    key: stringField('key', FIELD_KEY, 'a field key ([A-Za-z0-9_.-]{1,64})'),
    value: jsonValue,
    seen,
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? 'a set has only the fields ts, type, node, key, value, seen' : undefined) },
);

export const opSchema = z.discriminatedUnion('type', [moveOpSchema, setOpSchema], {
  error: (iss) =>
    isObject(iss.input) ? 'type must be "move" or "set"' : 'an operation must be a JSON object',
});

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An operation as the server stored it, with its `seq`. */
export const storedOpSchema = z.discriminatedUnion('type', [
  moveOpSchema.extend({ seq: seqSchema }),
  setOpSchema.extend({ seq: seqSchema }),
]);

// The schemas and the hand-written types of ops.ts must describe the same values.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const opTypesAgree: Same<z.infer<typeof opSchema>, Op> = true;
export const storedOpTypesAgree: Same<z.infer<typeof storedOpSchema>, StoredOp> = true;
