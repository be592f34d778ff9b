// The tree is a function of the set of operations: order, batching and the collation of the
// database never change it.
import { describe, expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { createTestDb, useTestDb } from '../pg/db.ts';
import { applyOps, createTree, readTree, treeProblems, type Queryable } from './pg-tree.ts';
import { move, set, ts } from './ops.ts';

const db = useTestDb();
let n = 0;

/** A small history from three replicas with conflicts: moves into each other, deletes, edits. */
const history: Op[] = [
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

async function deliver(target: Queryable, batches: Op[][]) {
  const tree = `delivery-${++n}`;
  await createTree(target, tree);
  for (const batch of batches) await applyOps(target, tree, batch);
  return { tree, state: await readTree(target, tree), problems: await treeProblems(target, tree) };
}

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

describe('delivery', () => {
  test('in order, reversed, shuffled, one by one, and in uneven batches: the same tree', async () => {
    const inOrder = await deliver(db, [history]);
    expect(inOrder.problems).toEqual([]);
    const plans: Op[][][] = [
      [[...history].reverse()],
      history.map((op) => [op]),
      [...history].reverse().map((op) => [op]),
      [shuffled(history, 1)],
      [history.slice(0, 5), history.slice(5)],
      [history.slice(7), history.slice(2, 7), history.slice(0, 2)],
      shuffled(history, 7).map((op) => [op]),
    ];
    for (const plan of plans) {
      const other = await deliver(db, plan);
      expect(other.state).toEqual(inOrder.state);
      expect(other.problems).toEqual([]);
    }
  });

  test('ties on wall time and counter are broken by replica id, bytewise, in any collation', async () => {
    // Bytewise 'Zed' < 'amy' (uppercase first); a locale collation puts 'amy' first.
    const tie = [move(ts(1, 'amy'), 'X', 'ROOT', 'from-amy'), move(ts(1, 'Zed'), 'X', 'ROOT', 'from-zed')];
    const icu = await createTestDb({ collation: 'icu' });
    const c = await createTestDb({ collation: 'c' });
    try {
      const { rows } = await icu.query<{ lt: boolean }>(`select 'amy' < 'Zed' as lt`);
      expect(rows[0]!.lt).toBe(true); // the ICU database really sorts by locale
      for (const target of [icu, c]) {
        for (const plan of [[tie], [[...tie].reverse()], [[tie[0]!], [tie[1]!]], [[tie[1]!], [tie[0]!]]]) {
          const { state } = await deliver(target, plan);
          // The greater ts (bytewise) is amy's, applied last: it wins.
          expect(state.nodes).toContainEqual({ id: 'X', parent: 'ROOT', pos: 'from-amy' });
        }
      }
    } finally {
      await icu.drop();
      await c.drop();
    }
  });

  test('a long offline branch merged late lands as if it had arrived in time', async () => {
    // Online: 300 moves building and rearranging a tree, newer than everything offline.
    const online: Op[] = [];
    for (let i = 0; i < 300; i++) {
      const parent = i < 10 ? 'ROOT' : `on${(i * 7) % i}`;
      online.push(move(ts(10_000 + i, 'online'), `on${i}`, parent, `p${i % 10}`));
    }
    for (let i = 0; i < 50; i++) online.push(move(ts(20_000 + i, 'online'), `on${(i * 13) % 300}`, `on${(i * 29) % 300}`));
    // Offline, older: 200 moves on shared and own nodes, some of which conflict.
    const offline: Op[] = [];
    for (let i = 0; i < 200; i++) {
      const node = i % 4 === 0 ? `on${(i * 3) % 300}` : `off${i}`;
      const parent = i % 5 === 0 ? 'TRASH' : i % 3 === 0 ? `on${(i * 11) % 300}` : i > 0 ? `off${i - 1}` : 'ROOT';
      offline.push(move(ts(5_000 + i, 'offline'), node, parent, `q${i % 7}`));
    }
    const late = await deliver(db, [online, offline]);
    const timely = await deliver(db, [[...online, ...offline]]);
    const interleaved = await deliver(db, [offline.slice(0, 100), online, offline.slice(100)]);
    expect(late.state).toEqual(timely.state);
    expect(interleaved.state).toEqual(timely.state);
    expect(late.problems).toEqual([]);
  });
});
