// Bad input gets a clear error naming the operation, and changes nothing.
import type { Json } from '../../protocol/ops.ts';
import { move, set, ts } from '../merge/ops.ts';
import type { Scenario } from './scenario.ts';

const good = move(ts(100), 'fine', 'ROOT');

/** A value `levels` deep (a scalar is depth 0, `[1]` depth 1), arrays and objects in turn. */
export function nested(levels: number): Json {
  let value: Json = 'leaf';
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { d: value };
  return value;
}

/** Each case: a bad operation (sent after a good one, so the index must be 1) and what the
 * message must say. */
export const badOps: Array<[string, unknown, RegExp]> = [
  ['a number', 42, /must be a JSON object/],
  ['null', null, /must be a JSON object/],
  ['an array', [], /must be a JSON object/],
  ['no ts', { type: 'move', node: 'a', parent: 'ROOT', pos: '' }, /ts must be a string/],
  ['ts a number', { ...move(ts(1), 'a', 'ROOT'), ts: 1732212345000 }, /ts must be a string/],
  ['ts without counter', { ...move(ts(1), 'a', 'ROOT'), ts: '1732212345000.alice' }, /not a timestamp/],
  ['ts with short wall', { ...move(ts(1), 'a', 'ROOT'), ts: '173221234500.00000.alice' }, /not a timestamp/],
  ['ts with long counter', { ...move(ts(1), 'a', 'ROOT'), ts: '1732212345000.000000.alice' }, /not a timestamp/],
  ['ts with empty replica', { ...move(ts(1), 'a', 'ROOT'), ts: '1732212345000.00000.' }, /not a timestamp/],
  ['ts with replica of 33', { ...move(ts(1), 'a', 'ROOT'), ts: `1732212345000.00000.${'r'.repeat(33)}` }, /not a timestamp/],
  ['ts with a space', { ...move(ts(1), 'a', 'ROOT'), ts: '1732212345000.00000.al ice' }, /not a timestamp/],
  ['ts with a newline at the end', { ...move(ts(1), 'a', 'ROOT'), ts: '1732212345000.00000.alice\n' }, /not a timestamp/],
  ['ts with non-ASCII digits', { ...move(ts(1), 'a', 'ROOT'), ts: '173221234500٠.00000.alice' }, /not a timestamp/],
  ['no type', { ts: ts(1), node: 'a', parent: 'ROOT', pos: '' }, /type must be "move" or "set"/],
  ['unknown type', { ts: ts(1), type: 'delete', node: 'a' }, /type must be "move" or "set"/],
  ['no node', { ts: ts(1), type: 'move', parent: 'ROOT', pos: '' }, /node must be a string/],
  ['empty node', move(ts(1), '', 'ROOT'), /not a node id/],
  ['node of 65', move(ts(1), 'n'.repeat(65), 'ROOT'), /not a node id/],
  ['node with a slash', move(ts(1), 'a/b', 'ROOT'), /not a node id/],
  ['node with an accent', move(ts(1), 'café', 'ROOT'), /not a node id/],
  ['moving ROOT', move(ts(1), 'ROOT', 'TRASH'), /ROOT can never be moved/],
  ['moving TRASH', move(ts(1), 'TRASH', 'ROOT'), /TRASH can never be moved/],
  ['no parent', { ts: ts(1), type: 'move', node: 'a', pos: '' }, /parent must be a string/],
  ['parent null', { ...move(ts(1), 'a', 'ROOT'), parent: null }, /parent must be a string/],
  ['bad parent', move(ts(1), 'a', 'no such'), /parent .* not a node id/],
  ['no pos', { ts: ts(1), type: 'move', node: 'a', parent: 'ROOT' }, /pos must be a string/],
  ['pos a number', { ...move(ts(1), 'a', 'ROOT'), pos: 1 }, /pos must be a string/],
  ['pos of 129', move(ts(1), 'a', 'ROOT', 'p'.repeat(129)), /printable ASCII of at most 128/],
  ['pos with a tab', move(ts(1), 'a', 'ROOT', 'a\tb'), /printable ASCII/],
  ['pos with non-ASCII', move(ts(1), 'a', 'ROOT', 'ä'), /printable ASCII/],
  ['move with a value', { ...move(ts(1), 'a', 'ROOT'), value: 1 }, /only the fields/],
  ['no key', { ts: ts(1), type: 'set', node: 'a', value: 1 }, /key must be a string/],
  ['empty key', set(ts(1), 'a', '', 1), /not a field key/],
  ['key with a space', set(ts(1), 'a', 'my key', 1), /not a field key/],
  ['key of 65', set(ts(1), 'a', 'k'.repeat(65), 1), /not a field key/],
  ['no value', { ts: ts(1), type: 'set', node: 'a', key: 'k' }, /needs a value/],
  ['value too large', set(ts(1), 'a', 'k', 'x'.repeat(70_000)), /larger than 65536 bytes/],
  ['value nested 65 levels', set(ts(1), 'a', 'k', nested(65)), /value nests deeper than 64 levels/],
  ['set with a parent', { ...set(ts(1), 'a', 'k', 1), parent: 'ROOT' }, /only the fields/],
];

/** Each bad op after a good one, into a tree that holds a node: invalid_op at index 1, the
 * message starting "operation 1: ", nothing stored. */
export const invalidOpScenarios: Scenario[] = badOps.map(([name, bad, message]) => ({
  name: `${name}: rejected as invalid_op at index 1, nothing stored`,
  plans: [
    [
      { apply: [move(ts(0), 'existing', 'ROOT')] },
      { reject: [good, bad], error: { code: 'invalid_op', message: new RegExp(`^operation 1: (?=.*${message.source})`), details: { index: 1 } } },
    ],
  ],
}));

export const invalidBatchScenarios: Scenario[] = [
  {
    name: 'the batch must be a JSON array',
    plans: [
      [{}, 'ops', 1, null].map((body) => ({ reject: body, error: { code: 'invalid_op' as const, message: /must be a JSON array/ } })),
    ],
  },
  {
    name: 'the first bad operation is the one named',
    plans: [[{ reject: [good, good, { bad: 1 }, 42], error: { code: 'invalid_op', message: /^operation 2: /, details: { index: 2 } } }]],
  },
];

/** The accepted side of the limits above: each case is stored as it came. */
export const limitScenarios: Scenario[] = [
  {
    name: 'a value nested 64 levels (the limit) is stored',
    plans: [[{ apply: [move(ts(0), 'a', 'ROOT'), set(ts(1), 'a', 'k', nested(64))] }]],
    expect: { fields: [{ node: 'a', key: 'k', value: nested(64) }] },
  },
];
