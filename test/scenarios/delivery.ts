// The tree is a function of the set of operations: order and batching never change it.
import type { Op } from '../../protocol/ops.ts';
import { move, set, ts } from '../merge/ops.ts';
import { batches, type Scenario } from './scenario.ts';

/** A small history from three replicas with conflicts: moves into each other, deletes, edits. */
export const history: Op[] = [
  move(ts(1, 'alice'), 'A', 'ROOT', 'a'),
  move(ts(1, 'bob'), 'B', 'ROOT', 'b'),
  move(ts(2, 'alice'), 'C', 'A', 'a'),
  move(ts(3, 'bob'), 'A', 'B', 'a'),
  move(ts(3, 'carol'), 'B', 'C', 'a'),
  move(ts(4, 'alice'), 'C', 'TRASH'),
  move(ts(5, 'carol'), 'D', 'C', 'z'),
  move(ts(6, 'bob'), 'C', 'ROOT', 'c'),
  set(ts(2, 'bob'), 'A', 'title', 'from bob'),
  set(ts(2, 'carol'), 'A', 'title', 'from carol'),
  set(ts(7, 'alice'), 'D', 'done', true),
  set(ts(8, 'alice'), 'D', 'done', null),
];

function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Bytewise 'Zed' < 'amy' (uppercase first); a locale collation puts 'amy' first. */
export const tie = [move(ts(1, 'amy'), 'X', 'ROOT', 'from-amy'), move(ts(1, 'Zed'), 'X', 'ROOT', 'from-zed')];

/** Online: 300 moves building and rearranging a tree, newer than everything offline. */
const online: Op[] = [];
for (let i = 0; i < 300; i++) {
  const parent = i < 10 ? 'ROOT' : `on${(i * 7) % i}`;
  online.push(move(ts(10_000 + i, 'online'), `on${i}`, parent, `p${i % 10}`));
}
for (let i = 0; i < 50; i++) online.push(move(ts(20_000 + i, 'online'), `on${(i * 13) % 300}`, `on${(i * 29) % 300}`));
/** Offline, older: 200 moves on shared and own nodes, some of which conflict. */
const offline: Op[] = [];
for (let i = 0; i < 200; i++) {
  const node = i % 4 === 0 ? `on${(i * 3) % 300}` : `off${i}`;
  const parent = i % 5 === 0 ? 'TRASH' : i % 3 === 0 ? `on${(i * 11) % 300}` : i > 0 ? `off${i - 1}` : 'ROOT';
  offline.push(move(ts(5_000 + i, 'offline'), node, parent, `q${i % 7}`));
}

export const deliveryScenarios: Scenario[] = [
  {
    name: 'in order, reversed, shuffled, one by one, and in uneven batches: the same tree',
    plans: [
      batches(history),
      batches([...history].reverse()),
      batches(...history.map((op) => [op])),
      batches(...[...history].reverse().map((op) => [op])),
      batches(shuffled(history, 1)),
      batches(history.slice(0, 5), history.slice(5)),
      batches(history.slice(7), history.slice(2, 7), history.slice(0, 2)),
      batches(...shuffled(history, 7).map((op) => [op])),
    ],
    expect: { samePlans: true, model: history },
  },
  {
    name: 'ties on wall time and counter are broken by replica id, bytewise',
    plans: [[tie], [[...tie].reverse()], [[tie[0]!], [tie[1]!]], [[tie[1]!], [tie[0]!]]].map((plan) => batches(...plan)),
    // The greater ts (bytewise) is amy's, applied last: it wins.
    expect: { contains: [{ id: 'X', parent: 'ROOT', pos: 'from-amy' }] },
  },
  {
    name: 'a long offline branch merged late lands as if it had arrived in time',
    plans: [
      batches(online, offline),
      batches([...online, ...offline]),
      batches(offline.slice(0, 100), online, offline.slice(100)),
    ],
    expect: { samePlans: true, model: [...online, ...offline] },
  },
];
