// Moves that would make a cycle are skipped, whatever order they arrive in.
import { move, ts } from '../merge/ops.ts';
import { batches, type Scenario } from './scenario.ts';

const twoSetup = [move(ts(1), 'A', 'ROOT'), move(ts(2), 'B', 'ROOT')];
const alice = move(ts(10, 'alice'), 'A', 'B');
const bob = move(ts(11, 'bob'), 'B', 'A');

const threeSetup = ['A', 'B', 'C'].map((id, i) => move(ts(i), id, 'ROOT'));
const three = [move(ts(10, 'r1'), 'A', 'B'), move(ts(11, 'r2'), 'B', 'C'), move(ts(12, 'r3'), 'C', 'A')];

const DEPTH = 10_000;
const chain = Array.from({ length: DEPTH }, (_, i) => move(ts(i), `c${i}`, i === 0 ? 'ROOT' : `c${i - 1}`));

export const cycleScenarios: Scenario[] = [
  {
    name: 'two replicas move A under B and B under A: the later move is skipped',
    plans: [[alice, bob], [bob, alice]].map((order) => batches(twoSetup, ...order.map((op) => [op]))),
    expect: { parents: { A: 'B', B: 'ROOT' } },
  },
  {
    name: 'three replicas close a 3-cycle A→B→C→A: the newest move is skipped',
    plans: [three, [...three].reverse(), [three[1]!, three[2]!, three[0]!]].map((order) =>
      batches(threeSetup, ...order.map((op) => [op])),
    ),
    expect: { parents: { A: 'B', B: 'C', C: 'ROOT' } },
  },
  {
    name: 'a move under its own descendant is skipped, and under itself too',
    plans: [
      [
        { apply: [move(ts(1), 'A', 'ROOT'), move(ts(2), 'B', 'A'), move(ts(3), 'C', 'B')] },
        { apply: [move(ts(4), 'A', 'C'), move(ts(5), 'A', 'A')], result: { skipped: 2 } },
      ],
    ],
    expect: { parents: { A: 'ROOT' } },
  },
  {
    name: 'a 10,000-deep chain: moving its top under its bottom is skipped, the reverse is not',
    plans: [
      [
        { apply: chain },
        { apply: [move(ts(DEPTH + 1), 'c0', `c${DEPTH - 1}`)], result: { skipped: 1 } },
        { apply: [move(ts(DEPTH + 2), `c${DEPTH - 1}`, 'ROOT')], result: { skipped: 0 } },
      ],
    ],
    expect: { parents: { c0: 'ROOT', [`c${DEPTH - 1}`]: 'ROOT' } },
    timeout: 120_000,
  },
  {
    name: 'a cycle through the trash is skipped like any other',
    plans: [batches([move(ts(1), 'A', 'TRASH'), move(ts(2), 'B', 'A')], [move(ts(3), 'A', 'B')])],
    expect: { parents: { A: 'TRASH' } },
  },
];
