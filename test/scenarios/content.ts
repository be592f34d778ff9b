// Content: last writer wins per (node, key); null removes a field; the trash keeps subtrees;
// siblings sort by (pos, id) bytewise.
import { move, set, ts } from '../merge/ops.ts';
import { batches, type Scenario } from './scenario.ts';

const SIBLINGS = 100_000;
const siblings = Array.from({ length: SIBLINGS }, (_, i) =>
  move(ts(i), `s${i}`, 'ROOT', `k${String(SIBLINGS - i).padStart(6, '0')}`),
);
// Equal keys: the id decides, bytewise ('B' < 'a').
siblings.push(move(ts(SIBLINGS), 'a', 'ROOT', 'same'), move(ts(SIBLINGS + 1), 'B', 'ROOT', 'same'));

const trashSetup = [move(ts(1), 'folder', 'ROOT', 'a'), move(ts(2), 'doc', 'folder', 'a'), move(ts(3), 'other', 'ROOT', 'b')];

export const contentScenarios: Scenario[] = [
  {
    name: 'the greatest ts wins per field, whatever the arrival order',
    plans: [
      batches(
        [set(ts(3), 'n', 'text', 'newest'), set(ts(1), 'n', 'text', 'oldest')],
        [set(ts(2), 'n', 'text', 'middle'), set(ts(2, 'bob'), 'n', 'color', 'red')],
      ),
    ],
    expect: {
      fields: [
        { node: 'n', key: 'color', value: 'red' },
        { node: 'n', key: 'text', value: 'newest' },
      ],
    },
  },
  {
    name: 'null removes a field, and an older write arriving later does not bring it back',
    plans: [batches([set(ts(1), 'n', 'text', 'hello'), set(ts(5), 'n', 'text', null)], [set(ts(3), 'n', 'text', 'late')])],
    expect: { fields: [] },
  },
  {
    name: 'a removed field is written again by a newer set, with any JSON',
    plans: [
      batches(
        [set(ts(1), 'n', 'text', 'hello'), set(ts(5), 'n', 'text', null)],
        [set(ts(3), 'n', 'text', 'late')],
        [set(ts(6), 'n', 'text', { rich: ['text', 1, null, true] })],
      ),
    ],
    expect: { fields: [{ node: 'n', key: 'text', value: { rich: ['text', 1, null, true] } }] },
  },
  {
    name: 'delete is a move into the trash; the subtree goes along',
    plans: [batches(trashSetup, [move(ts(4), 'folder', 'TRASH')])],
    expect: {
      contains: [
        { id: 'folder', parent: 'TRASH', pos: '' },
        { id: 'doc', parent: 'folder', pos: 'a' },
      ],
    },
  },
  {
    name: 'moves inside the trash and back out work',
    plans: [
      batches(
        trashSetup,
        [move(ts(4), 'folder', 'TRASH')],
        [move(ts(5), 'other', 'doc', 'x')], // into the trash, deep
        [move(ts(6), 'doc', 'TRASH', 'y')], // within the trash
        [move(ts(7), 'folder', 'ROOT', 'c')], // undelete
      ),
    ],
    expect: {
      contains: [
        { id: 'folder', parent: 'ROOT', pos: 'c' },
        { id: 'doc', parent: 'TRASH', pos: 'y' },
        { id: 'other', parent: 'doc', pos: 'x' },
      ],
    },
  },
  {
    name: 'ROOT and TRASH can carry content, but never move',
    plans: [batches([set(ts(1), 'ROOT', 'title', 'My outline')])],
    expect: { fields: [{ node: 'ROOT', key: 'title', value: 'My outline' }] },
  },
  {
    name: '100,000 siblings keep their order keys; children sort by (pos, id) bytewise',
    plans: [batches(...Array.from({ length: Math.ceil(siblings.length / 10_000) }, (_, i) => siblings.slice(i * 10_000, (i + 1) * 10_000)))],
    expect: { children: { parent: 'ROOT', count: SIBLINGS + 2, first: [`s${SIBLINGS - 1}`], last: ['s0', 'B', 'a'] } },
    timeout: 180_000,
  },
];
