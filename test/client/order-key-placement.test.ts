// The placement (client/worker/order-key-placement.ts): a key for a spot, plus a small re-keying
// plan when keys there have grown long — so that no sequence of edits, however hostile, makes a
// key longer than 128 bytes, and the siblings keep exactly the order the edits asked for.
import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { ORDER_KEY } from '../../protocol/ops.ts';
import { compareSiblings, keyBetween, keysBetween, MAX_KEY_BYTES } from '../../client/worker/order-key.ts';
import { placeBetween, type Placement, type Sibling } from '../../client/worker/order-key-placement.ts';
import { fcRuns } from '../model/fc-runs.ts';

const runs = fcRuns();
const invalidRequest = expect.objectContaining({ name: 'TreesyncError', code: 'invalid_request' });

/**
 * One parent's children as the local-edit layer would hold them: in sibling order. Inserts go
 * through `placeBetween` with a window of `window` siblings each side, and with the whole list
 * when the window is too tight, as the worker will do; re-keying moves are applied as moves.
 */
class SiblingList {
  readonly items: Sibling[] = [];
  rekeyed = 0;
  plans = 0;
  widened = 0;
  #next = 0;

  constructor(readonly window: number) {}

  /** Inserts a new node so that it ends up at `index`; returns it. */
  insertAt(index: number, id = `n${this.#next++}`): Sibling {
    const placement = this.place(index, this.window) ?? this.#widen(index);
    this.apply(placement);
    const node = { id, pos: placement.pos };
    this.items.splice(index, 0, node);
    return node;
  }

  /** The placement for `index` with `window` siblings each side (Infinity: the whole list). */
  place(index: number, window: number): Placement | null {
    const from = Math.max(0, index - window);
    const to = Math.min(this.items.length, index + window);
    return placeBetween({
      lower: from > 0 ? this.items[from - 1]!.pos : null,
      before: this.items.slice(from, index),
      after: this.items.slice(index, to),
      upper: to < this.items.length ? this.items[to]!.pos : null,
    });
  }

  /** The worker's policy when a window is too tight: four times as wide, up to the whole list. */
  #widen(index: number): Placement {
    for (let window = Math.max(1, this.window) * 4; ; window *= 4) {
      this.widened++;
      const whole = window >= this.items.length;
      const placement = this.place(index, whole ? Number.POSITIVE_INFINITY : window);
      if (placement !== null) return placement;
      if (whole) throw new Error('the whole list must always get a placement');
    }
  }

  apply(placement: Placement): void {
    if (placement.rekey.length > 0) this.plans++;
    for (const { id, pos } of placement.rekey) {
      const sibling = this.items.find((s) => s.id === id);
      if (!sibling) throw new Error(`re-keyed ${id} is not a sibling`);
      sibling.pos = pos;
      this.rekeyed++;
    }
  }

  removeAt(index: number): void {
    this.items.splice(index, 1);
  }

  /** Every key valid, and sorting by (pos, id) gives exactly the order the edits asked for. */
  check(): number {
    for (const s of this.items) expect(s.pos).toMatch(ORDER_KEY);
    const sorted = [...this.items].sort(compareSiblings).map((s) => s.id);
    expect(sorted).toEqual(this.items.map((s) => s.id));
    return Math.max(0, ...this.items.map((s) => s.pos.length));
  }
}

describe('the common cases need no re-keying', () => {
  test('first child, append, prepend, between neighbours', () => {
    expect(placeBetween({ before: [], after: [] })).toEqual({ pos: 'a0', rekey: [] });
    const a = { id: 'a', pos: 'a0' };
    const b = { id: 'b', pos: 'aG' };
    expect(placeBetween({ before: [a, b], after: [] })).toEqual({ pos: 'aW', rekey: [] });
    expect(placeBetween({ before: [], after: [a, b] })).toEqual({ pos: 'Zk', rekey: [] });
    expect(placeBetween({ before: [a], after: [b] })).toEqual({ pos: 'a8', rekey: [] });
  });

  test.each([
    ['appends', (_i: number, n: number) => n],
    ['inserts at the front', () => 0],
    ['inserts at the same spot', () => 1],
    ['inserts typed in order in the middle', (i: number) => 1 + i],
    ['alternating front and back', (i: number, n: number) => (i % 2 ? n : 0)],
    ['alternating at both ends of one gap', (i: number, n: number) => (i % 2 ? n - 1 : 1)],
  ] as const)('10,000 %s: short keys, no re-keying', (_name, at) => {
    const list = new SiblingList(16);
    list.insertAt(0);
    list.insertAt(1);
    for (let i = 0; i < 10_000; i++) list.insertAt(at(i, list.items.length));
    expect(list.check()).toBeLessThanOrEqual(8);
    expect(list.rekeyed).toBe(0);
  });
});

describe('re-keying keeps every key within 128 bytes', () => {
  test('10,000 zig-zag inserts, each into the gap just made: a few re-keyed neighbours now and then', () => {
    const list = new SiblingList(16);
    list.insertAt(0);
    list.insertAt(1);
    let spot = 1;
    let longest = 0;
    for (let i = 0; i < 10_000; i++) {
      list.insertAt(spot);
      // The next insert goes into the gap just made: before the new node, then after it.
      if (i % 2 === 1) spot += 1;
      longest = Math.max(longest, ...list.items.slice(Math.max(0, spot - 2), spot + 2).map((s) => s.pos.length));
    }
    expect(list.check()).toBeLessThanOrEqual(MAX_KEY_BYTES);
    expect(longest).toBeLessThanOrEqual(MAX_KEY_BYTES);
    // Re-keying happens for fewer than one insert in ten, and moves a few siblings per insert on
    // average (about 2.2 in the run this was written with; bench:order-keys prints the figures).
    expect(list.plans).toBeGreaterThan(0);
    expect(list.plans / 10_000).toBeLessThan(0.1);
    expect(list.rekeyed / 10_000).toBeLessThan(3);
  });

  test('every insert at the smallest gap of a long list, with a window of 4', () => {
    const list = new SiblingList(4);
    for (let i = 0; i < 50; i++) list.insertAt(i);
    for (let i = 0; i < 3_000; i++) {
      // Find the adjacent pair with the longest keys (the tightest spot) and insert there.
      let spot = 1;
      let worst = -1;
      list.items.forEach((s, j) => {
        if (j > 0 && s.pos.length + list.items[j - 1]!.pos.length > worst) {
          worst = s.pos.length + list.items[j - 1]!.pos.length;
          spot = j;
        }
      });
      list.insertAt(spot);
    }
    expect(list.check()).toBeLessThanOrEqual(MAX_KEY_BYTES);
  });

  test('two replicas inserted at the same spot at once: equal keys, ordered by id, and a spot between them', () => {
    const list = new SiblingList(16);
    list.insertAt(0, 'first');
    list.insertAt(1, 'last');
    const pos = keyBetween(list.items[0]!.pos, list.items[1]!.pos);
    // Both replicas chose the same key; the ids order the two nodes.
    list.items.splice(1, 0, { id: 'alice', pos }, { id: 'bob', pos });
    expect(list.check()).toBeLessThan(10);
    const placement = list.place(2, 16)!;
    expect(placement.rekey.length).toBeGreaterThan(0);
    list.insertAt(2, 'carol');
    expect(list.items.map((s) => s.id)).toEqual(['first', 'alice', 'carol', 'bob', 'last']);
    list.check();
  });

  test('a window whose bounds leave no room asks for a wider one, and the whole list always answers', () => {
    const tight = { id: 'x', pos: 'a0' };
    const twin = { id: 'y', pos: 'a0' };
    // The siblings outside the window tie with the ones inside: nothing fits between the bounds.
    expect(placeBetween({ lower: 'a0', before: [tight], after: [twin], upper: 'a0' })).toBeNull();
    const whole = placeBetween({ before: [tight], after: [twin] })!;
    expect(whole.pos > 'a0' || whole.rekey.length > 0).toBe(true);
  });

  test('new keys stay strictly inside lower and upper, which are never moved', () => {
    const lower = 'a0';
    const upper = 'a0' + 'a0'.repeat(40) + 'a1';
    const inside = keysBetween(lower, upper, 2);
    const before = [{ id: 'p', pos: inside[0]! }];
    const after = [{ id: 'q', pos: inside[1]! }];
    const placement = placeBetween({ lower, before, after, upper });
    expect(placement).not.toBeNull();
    for (const key of [placement!.pos, ...placement!.rekey.map((r) => r.pos)]) {
      expect(lower < key && key < upper).toBe(true);
      expect(key.length).toBeLessThanOrEqual(MAX_KEY_BYTES);
    }
  });
});

test('a whole list of 100,000 equal keys is re-keyed in one plan', () => {
  const items = Array.from({ length: 100_000 }, (_, i) => ({ id: `n${String(i).padStart(6, '0')}`, pos: 'a0' }));
  const placement = placeBetween({ before: items.slice(0, 50_000), after: items.slice(50_000) })!;
  const moved = new Map(placement.rekey.map((r) => [r.id, r.pos]));
  const after = items.map((s) => ({ id: s.id, pos: moved.get(s.id) ?? s.pos }));
  after.splice(50_000, 0, { id: 'new', pos: placement.pos });
  const sorted = [...after].sort(compareSiblings);
  expect(sorted.map((s) => s.id)).toEqual(after.map((s) => s.id));
  expect(Math.max(...after.slice(0, 1000).map((s) => s.pos.length))).toBeLessThanOrEqual(8);
});

describe('bad input', () => {
  test('is refused with invalid_request', () => {
    const a = { id: 'a', pos: 'a0' };
    const b = { id: 'b', pos: 'aG' };
    expect(() => placeBetween({ before: [b], after: [a] })).toThrow(/\(pos, id\) order/);
    expect(() => placeBetween({ before: [a, a], after: [] })).toThrow(invalidRequest);
    expect(() => placeBetween({ before: [{ id: 'a', pos: 'a\n' }], after: [] })).toThrow(/sibling 0/);
    expect(() => placeBetween({ lower: 'b', before: [a], after: [] })).toThrow(/lower/);
    expect(() => placeBetween({ before: [], after: [a], upper: 'Z' })).toThrow(/upper/);
    expect(() => placeBetween({ lower: 'b', before: [], after: [], upper: 'a' })).toThrow(/lower sorts after upper/);
    expect(() => placeBetween({ before: [], after: [] }, { rekeyAbove: 200 })).toThrow(/rekeyAbove/);
    expect(() => placeBetween({ before: null, after: [] } as never)).toThrow(invalidRequest);
    expect(() => placeBetween(null as never)).toThrow(invalidRequest);
  });
});

// ---- the property -------------------------------------------------------------------------

type Edit =
  | { kind: 'insert'; at: number }
  | { kind: 'move'; from: number; to: number }
  | { kind: 'delete'; at: number }
  | { kind: 'concurrent'; at: number }
  | { kind: 'burst'; at: number; count: number; zigzag: boolean };

const arbEdit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('move' as const), from: fc.nat(), to: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('concurrent' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('burst' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 400 }), zigzag: fc.boolean() }),
  },
);

prop.prop([fc.array(arbEdit, { maxLength: 60 }), fc.constantFrom(0, 1, 2, 4, 16)], { numRuns: runs })(
  'any sequence of inserts, moves, deletes, concurrent inserts and bursts at one spot: siblings in exactly the ' +
    'order asked for, printable keys of at most 128 bytes',
  (edits, window) => {
    const list = new SiblingList(window);
    let concurrent = 0;
    for (const edit of edits) {
      const n = list.items.length;
      switch (edit.kind) {
        case 'insert':
          list.insertAt(edit.at % (n + 1));
          break;
        case 'move': {
          if (n === 0) break;
          const [node] = list.items.splice(edit.from % n, 1);
          list.insertAt(edit.to % n, node!.id);
          break;
        }
        case 'delete':
          if (n > 0) list.removeAt(edit.at % n);
          break;
        case 'concurrent': {
          // Two replicas insert at the same spot with the same key; ids decide their order.
          const at = edit.at % (n + 1);
          const p = list.place(at, Number.POSITIVE_INFINITY)!;
          list.apply(p);
          const ids = [`c${concurrent}a`, `c${concurrent}b`];
          concurrent++;
          list.items.splice(at, 0, ...ids.map((id) => ({ id, pos: p.pos })));
          break;
        }
        case 'burst': {
          let spot = edit.at % (n + 1);
          for (let i = 0; i < edit.count; i++) {
            list.insertAt(spot);
            if (!edit.zigzag || i % 2 === 1) spot += 1;
          }
          break;
        }
      }
      expect(list.check()).toBeLessThanOrEqual(MAX_KEY_BYTES);
    }
  },
);
