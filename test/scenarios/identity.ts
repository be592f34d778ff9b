// A timestamp is an operation's identity: repeats are duplicates, other content is a conflict.
import { move, set, ts } from '../merge/ops.ts';
import type { Scenario } from './scenario.ts';

const a = move(ts(1), 'A', 'ROOT', 'a0');
const s = set(ts(2), 'A', 'text', { b: 1, a: [1, 2] });
const batch = [move(ts(1), 'A', 'ROOT'), move(ts(2), 'B', 'A'), set(ts(3), 'B', 'k', 'v')];

export const identityScenarios: Scenario[] = [
  {
    name: 'duplicates within a batch are stored once and counted (equal JSON in any key order)',
    plans: [[{ apply: [a, s, a, { ...s, value: { a: [1, 2], b: 1 } }], result: { accepted: 2, duplicates: 2, seq: 2, first_seq: 1 } }]],
    expect: { fields: [{ node: 'A', key: 'text', value: { a: [1, 2], b: 1 } }] },
  },
  {
    name: 'duplicates across batches are stored once and change nothing',
    plans: [
      [
        { apply: batch },
        { apply: [...batch].reverse(), result: { accepted: 0, duplicates: 3, seq: 3, first_seq: null }, unchanged: true },
        { apply: [batch[0]!, move(ts(4), 'C', 'B')], result: { accepted: 1, duplicates: 1, seq: 4, first_seq: 4 } },
      ],
    ],
    expect: { parents: { C: 'B' } },
  },
  {
    name: 'the same ts with other content is a conflict, across batches and within one',
    plans: [
      [
        { apply: [move(ts(1), 'A', 'ROOT', 'a')] },
        {
          reject: [move(ts(2), 'B', 'ROOT'), move(ts(1), 'A', 'ROOT', 'b')],
          error: { code: 'ts_conflict', message: /^operation 1: ts .* is already stored with other content$/, details: { index: 1, ts: ts(1) } },
        },
        {
          reject: [set(ts(5), 'A', 'k', 1), set(ts(5), 'A', 'k', 2)],
          error: { code: 'ts_conflict', message: /^operation 1: ts .* is repeated in the batch with other content$/, details: { index: 1, ts: ts(5) } },
        },
        // Another kind of op under a stored move's ts.
        { reject: [set(ts(1), 'A', 'k', 1)], error: { code: 'ts_conflict', message: /already stored/, details: { index: 0, ts: ts(1) } } },
      ],
    ],
    expect: { contains: [{ id: 'A', parent: 'ROOT', pos: 'a' }] },
  },
];
