// A move is skipped when its parent does not exist at that point in timestamp order.
import { move, ts } from '../merge/ops.ts';
import { batches, type Scenario } from './scenario.ts';

export const existenceScenarios: Scenario[] = [
  {
    name: 'a move under a parent that is created only later (in ts order) is skipped',
    // B's move is older than A's creation: at B's timestamp, A does not exist.
    plans: [batches([move(ts(2), 'A', 'ROOT'), move(ts(1), 'B', 'A')])],
    expect: { nodeIds: ['A', 'ROOT', 'TRASH'] },
  },
  {
    name: 'the same, delivered the other way round and in separate batches',
    plans: [batches([move(ts(1), 'B', 'A')], [move(ts(2), 'A', 'ROOT')])],
    expect: { nodeIds: ['A', 'ROOT', 'TRASH'] },
  },
  {
    name: 'a node under a node that was never placed does not exist; it appears once its parent does',
    plans: [
      [
        { apply: [move(ts(1), 'child', 'ghost')] },
        // The parent is created before the child's move in ts order, arriving late: the
        // child's move is redone and now applies.
        { apply: [move(ts(0), 'ghost', 'ROOT')], result: { undone: 1 } },
      ],
    ],
    expect: { contains: [{ id: 'child', parent: 'ghost', pos: '' }] },
  },
  {
    name: 'a node under a node that was never placed: nothing but ROOT and TRASH',
    plans: [batches([move(ts(1), 'child', 'ghost')])],
    expect: { nodeIds: ['ROOT', 'TRASH'] },
  },
  {
    name: 'existence only grows in ts order: a node stays in place under the trash',
    plans: [batches([move(ts(1), 'A', 'ROOT'), move(ts(2), 'A', 'TRASH'), move(ts(3), 'B', 'A')])],
    // Deleted nodes still exist (inside the trash), so B can be placed under A.
    expect: { contains: [{ id: 'B', parent: 'A', pos: '' }] },
  },
];
