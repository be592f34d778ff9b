// The reference model itself, proven on hand-made scenarios and properties, before anything is
// checked against it. Pure: no database.
import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import {
  FIELD_KEY,
  NODE_ID,
  ORDER_KEY,
  TIMESTAMP,
  compareBytes,
  type Op,
} from '../../protocol/ops.ts';
import { move, set, ts } from '../merge/ops.ts';
import { arbHistory, arbReplicaSessions, arbScenario } from './arbitraries.ts';
import { fcRuns } from './fc-runs.ts';
import { checkInvariants, children, renderTree, replay, replayState, type Snapshot } from './reference.ts';
import { formatScenario, withScenario } from './scenario.ts';

const parentOf = (s: Snapshot, id: string) => s.nodes.find((n) => n.id === id)?.parent;
const fieldsOf = (s: Snapshot, node: string) =>
  Object.fromEntries(s.fields.filter((f) => f.node === node).map((f) => [f.key, f.value]));
const outcome = (ops: Op[], at: string) => replayState(ops).outcomes.get(at);

describe('moves', () => {
  test('an empty history is ROOT and TRASH', () => {
    expect(replay([])).toEqual({
      nodes: [
        { id: 'ROOT', parent: null, pos: '' },
        { id: 'TRASH', parent: null, pos: '' },
      ],
      fields: [],
    });
  });

  test('the first move creates a node, later moves place it', () => {
    const s = replay([move(ts(1), 'A', 'ROOT', 'a'), move(ts(2), 'B', 'A', 'x'), move(ts(3), 'B', 'ROOT', 'b')]);
    expect(s.nodes).toContainEqual({ id: 'B', parent: 'ROOT', pos: 'b' });
    expect(children(s, 'ROOT')).toEqual(['A', 'B']);
    expect(checkInvariants(s)).toEqual([]);
  });

  test('two concurrent moves into each other: the later one is skipped', () => {
    const ops = [
      move(ts(1, 'alice'), 'A', 'ROOT'),
      move(ts(1, 'bob'), 'B', 'ROOT'),
      move(ts(3, 'bob'), 'A', 'B'),
      move(ts(4, 'alice'), 'B', 'A'),
    ];
    const s = replay(ops);
    expect(parentOf(s, 'A')).toBe('B');
    expect(parentOf(s, 'B')).toBe('ROOT');
    expect(outcome(ops, ts(4, 'alice'))).toBe('cycle');
    // The same ops in any order: the same tree.
    expect(replay([...ops].reverse())).toEqual(s);
  });

  test('the other timestamps: the other move wins', () => {
    const s = replay([
      move(ts(1, 'alice'), 'A', 'ROOT'),
      move(ts(1, 'bob'), 'B', 'ROOT'),
      move(ts(4, 'bob'), 'A', 'B'),
      move(ts(3, 'alice'), 'B', 'A'),
    ]);
    expect(parentOf(s, 'B')).toBe('A');
    expect(parentOf(s, 'A')).toBe('ROOT');
  });

  test('a 3-cycle from three replicas: the last move is skipped', () => {
    const ops = [
      move(ts(1, 'alice'), 'A', 'ROOT'),
      move(ts(1, 'bob'), 'B', 'ROOT'),
      move(ts(1, 'carol'), 'C', 'ROOT'),
      move(ts(2, 'alice'), 'A', 'B'),
      move(ts(2, 'bob'), 'B', 'C'),
      move(ts(2, 'carol'), 'C', 'A'),
    ];
    const s = replay(ops);
    expect([parentOf(s, 'A'), parentOf(s, 'B'), parentOf(s, 'C')]).toEqual(['B', 'C', 'ROOT']);
    expect(outcome(ops, ts(2, 'carol'))).toBe('cycle');
    expect(checkInvariants(s)).toEqual([]);
  });

  test('a move under its own descendant is skipped', () => {
    const ops = [
      move(ts(1), 'A', 'ROOT'),
      move(ts(2), 'B', 'A'),
      move(ts(3), 'C', 'B'),
      move(ts(4), 'A', 'C', 'z'),
    ];
    expect(replay(ops)).toEqual(replay(ops.slice(0, 3)));
    expect(outcome(ops, ts(4))).toBe('cycle');
  });

  test('a move under itself is skipped', () => {
    const ops = [move(ts(1), 'A', 'ROOT', 'a'), move(ts(2), 'A', 'A', 'b')];
    expect(replay(ops).nodes).toContainEqual({ id: 'A', parent: 'ROOT', pos: 'a' });
    expect(outcome(ops, ts(2))).toBe('self');
  });

  test('a move under a parent that is created only later (in ts order) is skipped', () => {
    const ops = [move(ts(1), 'A', 'B'), move(ts(2), 'B', 'ROOT')];
    const s = replay(ops);
    expect(parentOf(s, 'A')).toBeUndefined();
    expect(outcome(ops, ts(1))).toBe('no-parent');
    // Once the parent exists, a later move of A under it applies.
    expect(parentOf(replay([...ops, move(ts(3), 'A', 'B')]), 'A')).toBe('B');
  });

  test('a late op with an early ts is applied in its place, and changes what the later ones do', () => {
    const early = [move(ts(1), 'A', 'ROOT'), move(ts(2), 'B', 'ROOT'), move(ts(4, 'bob'), 'A', 'B')];
    expect(parentOf(replay(early), 'A')).toBe('B');
    const late = move(ts(3, 'carol'), 'B', 'A');
    const all = [...early, late];
    // In ts order B goes under A first, so A under B would now be a cycle.
    expect(parentOf(replay(all), 'B')).toBe('A');
    expect(parentOf(replay(all), 'A')).toBe('ROOT');
    expect(outcome(all, ts(4, 'bob'))).toBe('cycle');
  });

  test('delete into the trash and restore: the subtree moves along, fields stay', () => {
    const ops: Op[] = [
      move(ts(1), 'A', 'ROOT', 'a'),
      move(ts(2), 'C', 'A', 'a'),
      set(ts(3), 'C', 'text', 'keep me'),
      move(ts(4), 'A', 'TRASH'),
    ];
    const deleted = replay(ops);
    expect(children(deleted, 'ROOT')).toEqual([]);
    expect(children(deleted, 'TRASH')).toEqual(['A']);
    expect(parentOf(deleted, 'C')).toBe('A');
    // A move under a node inside the trash is allowed: it lands in the trash.
    const into = replay([...ops, move(ts(5), 'D', 'C')]);
    expect(parentOf(into, 'D')).toBe('C');
    const restored = replay([...ops, move(ts(6), 'A', 'ROOT', 'b')]);
    expect(children(restored, 'ROOT')).toEqual(['A']);
    expect(children(restored, 'A')).toEqual(['C']);
    expect(fieldsOf(restored, 'C')).toEqual({ text: 'keep me' });
  });

  test('ROOT and TRASH can never be moved: such an op is refused', () => {
    expect(() => replay([move(ts(1), 'ROOT', 'TRASH')])).toThrow(/never be moved/);
    expect(() => replay([move(ts(1), 'TRASH', 'ROOT')])).toThrow(/never be moved/);
  });

  test('a 10,000-deep chain, and its top moved under its bottom: skipped, no stack overflow', () => {
    const depth = 10_000;
    const id = (i: number) => `n${i}`;
    // Everyone under ROOT first, then hooked up bottom-first: each hook walks only two steps.
    const ops: Op[] = [];
    for (let i = 0; i < depth; i++) ops.push(move(ts(0, 'a', i), id(i), 'ROOT'));
    for (let i = depth - 1; i >= 1; i--) ops.push(move(ts(1, 'a', depth - i), id(i), id(i - 1)));
    const top = move(ts(2), id(0), id(depth - 1));
    const { state, outcomes } = replayState([...ops, top]);
    expect(outcomes.get(top.ts)).toBe('cycle');
    expect(state.nodes.get(id(0))?.parent).toBe('ROOT');
    let d = 0;
    for (let at: string | null | undefined = id(depth - 1); at !== 'ROOT'; at = state.nodes.get(at!)?.parent) d++;
    expect(d).toBe(depth);
    const s = replay([...ops, top]);
    expect(checkInvariants(s)).toEqual([]);
    expect(renderTree(s).split('\n')).toHaveLength(depth + 2);
  });
});

describe('timestamps and identity', () => {
  test('the same op delivered again is one op', () => {
    const a = move(ts(1), 'A', 'ROOT');
    const b = set(ts(2), 'A', 'text', { nested: [1, 'x'] });
    expect(replay([a, b, a, { ...b }, a])).toEqual(replay([a, b]));
  });

  test('the same ts with other content is refused', () => {
    expect(() => replay([move(ts(1), 'A', 'ROOT'), move(ts(1), 'A', 'TRASH')])).toThrow(/two different ops/);
    expect(() => replay([move(ts(1), 'A', 'ROOT'), set(ts(1), 'A', 'k', 1)])).toThrow(/two different ops/);
  });

  test('equal wall and counter: the replica id decides, bytewise (B < a), not by locale', () => {
    const byB = move(ts(5, 'B'), 'X', 'P');
    const bya = move(ts(5, 'a'), 'X', 'Q');
    expect(compareBytes(byB.ts, bya.ts)).toBe(-1);
    // A locale puts them the other way round: that order would make P win.
    expect(new Intl.Collator('en').compare(byB.ts, bya.ts)).toBe(1);
    const base = [move(ts(1), 'P', 'ROOT'), move(ts(1, 'bob'), 'Q', 'ROOT')];
    expect(parentOf(replay([...base, bya, byB]), 'X')).toBe('Q');
    const fields = replay([set(ts(5, 'a'), 'X', 'k', 'from a'), set(ts(5, 'B'), 'X', 'k', 'from B')]).fields;
    expect(fields).toEqual([{ node: 'X', key: 'k', value: 'from a' }]);
  });

  test('siblings sort by (pos, id) bytewise: equal pos falls back to the id, B before a', () => {
    const s = replay([
      move(ts(1), 'a', 'ROOT', 'm'),
      move(ts(2), 'B', 'ROOT', 'm'),
      move(ts(3), 'c', 'ROOT', ''),
      move(ts(4), 'Z', 'ROOT', 'M'),
    ]);
    expect(children(s, 'ROOT')).toEqual(['c', 'Z', 'B', 'a']);
  });
});

describe('fields', () => {
  test('last writer wins per (node, key), whatever the delivery order', () => {
    const ops = [set(ts(1), 'A', 'text', 'one'), set(ts(3), 'A', 'text', 'three'), set(ts(2), 'A', 'text', 'two')];
    expect(fieldsOf(replay(ops), 'A')).toEqual({ text: 'three' });
    expect(fieldsOf(replay([...ops].reverse()), 'A')).toEqual({ text: 'three' });
  });

  test('null removes a field, and an older set arriving after the null stays lost', () => {
    const written = [set(ts(1), 'A', 'text', 'hello'), set(ts(1, 'bob'), 'A', 'done', true)];
    const removed = replay([...written, set(ts(3), 'A', 'text', null)]);
    expect(fieldsOf(removed, 'A')).toEqual({ done: true });
    const late = replay([...written, set(ts(3), 'A', 'text', null), set(ts(2), 'A', 'text', 'older')]);
    expect(late).toEqual(removed);
    const newer = replay([...written, set(ts(3), 'A', 'text', null), set(ts(4), 'A', 'text', 'back')]);
    expect(fieldsOf(newer, 'A')).toEqual({ text: 'back', done: true });
  });

  test('values are kept for nodes that do not exist, and independent of the tree', () => {
    const s = replay([set(ts(1), 'ghost', 'text', 'boo'), move(ts(2), 'A', 'B'), set(ts(3), 'A', 'n', [1, { x: null }])]);
    expect(s.nodes.map((n) => n.id)).toEqual(['ROOT', 'TRASH']);
    expect(s.fields).toEqual([
      { node: 'A', key: 'n', value: [1, { x: null }] },
      { node: 'ghost', key: 'text', value: 'boo' },
    ]);
  });

  test('fields sort by node, then key, bytewise', () => {
    const s = replay([set(ts(1), 'a', 'b', 1), set(ts(2), 'B', 'z', 2), set(ts(3), 'a', 'Z', 3), set(ts(4), 'a-', 'a', 4)]);
    expect(s.fields.map((f) => `${f.node}.${f.key}`)).toEqual(['B.z', 'a.Z', 'a.b', 'a-.a']);
  });
});

describe('checkInvariants', () => {
  const good = replay([move(ts(1), 'A', 'ROOT'), move(ts(2), 'B', 'A')]);
  const withNodes = (nodes: Snapshot['nodes']): Snapshot => ({ nodes, fields: [] });

  test('a sound tree has no problems', () => {
    expect(checkInvariants(good)).toEqual([]);
  });

  test('finds cycles, missing parents, parentless nodes and a missing ROOT', () => {
    const cycle = withNodes([...good.nodes, { id: 'X', parent: 'Y', pos: '' }, { id: 'Y', parent: 'X', pos: '' }]);
    expect(checkInvariants(cycle)).toEqual(['X does not reach ROOT or TRASH: a cycle through X']);
    const dangling = withNodes([...good.nodes, { id: 'X', parent: 'nowhere', pos: '' }]);
    expect(checkInvariants(dangling)).toEqual(['X has parent nowhere, which does not exist']);
    const loose = withNodes([...good.nodes, { id: 'X', parent: null, pos: '' }]);
    expect(checkInvariants(loose)).toEqual(['X has no parent']);
    const noRoot = withNodes(good.nodes.filter((n) => n.id !== 'ROOT'));
    expect(checkInvariants(noRoot)).toEqual(['ROOT is missing', 'A has parent ROOT, which does not exist']);
  });
});

describe('printing', () => {
  const ops: Op[] = [
    move(ts(1, 'B'), 'A', 'ROOT', 'a'),
    move(ts(1, 'a'), 'B', 'ROOT', 'b'),
    move(ts(2, 'B'), 'A', 'B'),
    move(ts(2, 'a'), 'B', 'A'),
    set(ts(3), 'A', 'text', 'Buy milk'),
    set(ts(3, 'bob'), 'ghost', 'n', 1),
    move(ts(4), 'C', 'TRASH', ''),
  ];

  test('renderTree draws ROOT, then TRASH, then fields of nodes not in the tree', () => {
    expect(renderTree(replay(ops))).toBe(
      [
        'ROOT',
        '  B @"b"',
        '    A @""  text="Buy milk"',
        'TRASH',
        '  C @""',
        'fields of nodes not in the tree:',
        '  ghost  n=1',
      ].join('\n'),
    );
  });

  test('formatScenario lists the ops by batch with the model verdict and code to reproduce', () => {
    const text = formatScenario(ops, [[ops[3]!, ops[0]!], [ops[1]!, ops[2]!, ops[0]!], ops.slice(4)]);
    expect(text).toContain('batch 1/3:');
    expect(text).toContain('1732212345002.00000.B      move A -> B @""');
    expect(text).toMatch(/move B -> A @"" +# skipped: B is an ancestor of A \(cycle\)/);
    expect(text).toMatch(/move A -> ROOT @"a" +# duplicate/);
    expect(text).toContain(`set('1732212345003.00000.alice', 'A', 'text', "Buy milk"),`);
    expect(text).toContain('[ops[1]!, ops[2]!, ops[0]!]');
  });

  test('withScenario appends the scenario to a failing assertion, keeping the error', () => {
    let caught: unknown;
    try {
      withScenario(ops, undefined, () => expect(1).toBe(2));
    } catch (err) {
      caught = err;
    }
    expect((caught as Error).message).toMatch(/expected 1 to be 2[\s\S]*Scenario: 7 ops in ts order/);
    expect(caught).toHaveProperty('expected', 2);
  });

  test('generated histories print one op per line in fast-check reports', () => {
    // One seeded sample on purpose: this checks the printer, not a property.
    const [history] = fc.sample(arbHistory({ minOps: 2, maxOps: 4 }), { numRuns: 1, seed: 42 });
    expect(fc.stringify(history).split('\n').length).toBeGreaterThanOrEqual(4);
  });
});

describe('properties', () => {
  const runs = fcRuns();

  prop.prop([arbScenario({ plans: 3 })], { numRuns: runs })(
    'replay is invariant under permutation, duplication and batching of delivery',
    ({ ops, plans }) => {
      const expected = replay(ops);
      for (const plan of plans) {
        withScenario(ops, plan, () => {
          // A replica that received the batches one after the other holds their union.
          const received: Op[] = [];
          for (const batch of plan) {
            received.push(...batch);
            expect(checkInvariants(replay(received))).toEqual([]);
          }
          expect(replay(received)).toEqual(expected);
        });
      }
    },
  );

  prop.prop([arbHistory()], { numRuns: runs })('invariants always hold', (ops) => {
    withScenario(ops, undefined, () => expect(checkInvariants(replay(ops))).toEqual([]));
  });

  prop.prop([arbReplicaSessions()], { numRuns: runs })(
    'replicas editing offline: invariants hold, pushes hold every op once, any order converges',
    ({ ops, pushes }) => {
      withScenario(ops, pushes, () => {
        expect(pushes.flat().map((op) => op.ts).sort()).toEqual(ops.map((op) => op.ts).sort());
        const s = replay(pushes.flat());
        expect(checkInvariants(s)).toEqual([]);
        expect(replay([...ops].reverse())).toEqual(s);
      });
    },
  );

  prop.prop([fc.oneof(arbHistory(), arbReplicaSessions().map((s) => s.ops))], { numRuns: runs })(
    'generated ops are valid and their timestamps unique',
    (ops) => {
      expect(new Set(ops.map((op) => op.ts)).size).toBe(ops.length);
      for (const op of ops) {
        expect(op.ts).toMatch(TIMESTAMP);
        expect(op.node).toMatch(NODE_ID);
        if (op.type === 'move') {
          expect(op.parent).toMatch(NODE_ID);
          expect(op.pos).toMatch(ORDER_KEY);
          expect(['ROOT', 'TRASH']).not.toContain(op.node);
        } else {
          expect(op.key).toMatch(FIELD_KEY);
          expect(JSON.parse(JSON.stringify(op.value))).toEqual(op.value);
        }
      }
    },
  );
});
