// Order keys (client/worker/order-key.ts): a key strictly between two, printable, bytewise, and
// short in the ways people edit lists — without any re-keying. The placement, which re-keys, is
// proven in order-key-placement.test.ts.
import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { ORDER_KEY } from '../../protocol/ops.ts';
import {
  compareSiblings,
  findBetween,
  formatKey,
  isOrderKey,
  keyBetween,
  keysBetween,
  MAX_KEY_BYTES,
  parseKey,
} from '../../client/worker/order-key.ts';
import { fcRuns } from '../model/fc-runs.ts';

const runs = fcRuns();
const invalidRequest = expect.objectContaining({ name: 'TreesyncError', code: 'invalid_request' });

/** Printable ASCII strings, biased toward this module's alphabet, spaces and the ends of the range. */
const arbKey = (maxLength = 40) =>
  fc.string({
    unit: fc.oneof(
      fc.constantFrom('a', 'b', 'h', 'S', 'Z', '0', 'z', ' ', '!', '~'),
      fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    ),
    maxLength,
  });
const arbOrderedPair = (maxLength = 40) =>
  fc
    .tuple(arbKey(maxLength), arbKey(maxLength))
    .filter(([a, b]) => a !== b)
    .map(([a, b]) => (a < b ? [a, b] : [b, a]) as [string, string]);

/** The longest key, after checking that the list is strictly increasing and every key valid. */
function checkedLongest(keys: readonly string[]): number {
  keys.forEach((key, i) => {
    expect(key).toMatch(ORDER_KEY);
    if (i > 0 && !(keys[i - 1]! < key)) throw new Error(`keys ${i - 1} and ${i} out of order: ${JSON.stringify(keys[i - 1])} ${JSON.stringify(key)}`);
  });
  return Math.max(0, ...keys.map((key) => key.length));
}

describe('the key format', () => {
  test('keys are a head letter and base-62 digits per integer', () => {
    expect(formatKey([0])).toBe('a0');
    expect(formatKey([61])).toBe('az');
    expect(formatKey([62])).toBe('b00');
    expect(formatKey([-1])).toBe('Zz');
    expect(formatKey([-62])).toBe('Z0');
    expect(formatKey([-63])).toBe('Yzz');
    expect(formatKey([5, -1, 100])).toBe('a5Zzb0c');
    expect(parseKey('a5Zzb0c')).toEqual([5, -1, 100]);
    expect(parseKey('')).toEqual([]);
    for (const other of ['a', 'b0', 'i00', 'a!', ' ', 'Hello']) expect(parseKey(other)).toBeUndefined();
  });

  const arbInts = fc.array(
    fc.oneof(fc.integer({ min: -300, max: 300 }), fc.integer({ min: -2e14, max: 2e14 })),
    { maxLength: 8 },
  );

  prop.prop([arbInts], { numRuns: runs })('parse undoes format', (list) => {
    expect(parseKey(formatKey(list))).toEqual(list);
  });

  prop.prop([arbInts, arbInts], { numRuns: runs })(
    'byte order of keys is the order of their integer lists (a list before its extensions)',
    (x, y) => {
      const byLists = compareLists(x, y);
      const [a, b] = [formatKey(x), formatKey(y)];
      expect(Math.sign(a < b ? -1 : a > b ? 1 : 0)).toBe(byLists);
    },
  );
});

describe('keyBetween', () => {
  test('the first key, after the last, before the first, between two', () => {
    expect(keyBetween(null, null)).toBe('a0');
    expect(keyBetween('a0', null)).toBe('aG');
    expect(keyBetween(null, 'a0')).toBe('Zk');
    expect(keyBetween('a0', 'aG')).toBe('a8');
    // Adjacent integers: one level deeper.
    expect(keyBetween('a0', 'a1')).toBe('a0a0');
    // The lower key is a prefix of the upper one.
    expect(keyBetween('a0', 'a0a0')).toBe('a0Zk');
    // The empty key sorts first of all: nothing goes before it.
    expect(keyBetween('', null)).toBe('a0');
    expect(keyBetween('', 'a0')).toBe('Zk');
  });

  test('keys written by others: anything printable, the form after a prefix, byte by byte when nothing else fits', () => {
    expect(keyBetween('a', 'b')).toBe('a0');
    expect(keyBetween('m', 'n')).toBe('ma0');
    expect(keyBetween('zzz', null)).toBe('{a0');
    expect(keyBetween('a ', 'a!')).toBe('a a0');
    expect(keyBetween('x', 'x  !')).toBe('x   a0');
    // No room for a0 after the prefix: the byte-wise choice.
    expect(keyBetween(`${'~'.repeat(127)}x`, null)).toBe(`${'~'.repeat(127)}{`);
    // More in order-key-foreign.test.ts.
  });

  test('bad input is refused with a clear message', () => {
    expect(() => keyBetween('b', 'a')).toThrow(/"b" is not below "a"/);
    expect(() => keyBetween('a', 'a')).toThrow(invalidRequest);
    expect(() => keyBetween('a\u0000', null)).toThrow(/a must be null or an order key/);
    expect(() => keyBetween(null, 'é')).toThrow(/b must be null or an order key/);
    expect(() => keyBetween('x'.repeat(129), null)).toThrow(invalidRequest);
    expect(() => keyBetween(7 as unknown as string, null)).toThrow(invalidRequest);
    expect(() => keysBetween(null, null, -1)).toThrow(invalidRequest);
    expect(() => keysBetween(null, null, 1.5)).toThrow(invalidRequest);
    expect(() => keysBetween(null, null, 2_000_000)).toThrow(invalidRequest);
  });

  test('where no printable key fits, it says so', () => {
    expect(() => keyBetween(null, '')).toThrow(/no room for a key/);
    expect(keyBetween(null, '  ')).toBe(''); // the empty key is the only one below spaces
    expect(() => keyBetween('a', 'a ')).toThrow(/re-key the neighbours/);
    expect(() => keyBetween('x'.repeat(127) + 'a', 'x'.repeat(127) + 'b')).toThrow(/no room/);
  });

  prop.prop([arbOrderedPair()], { numRuns: runs })(
    'between any two printable keys: a key strictly between, or none only when none exists',
    ([a, b]) => {
      const key = findBetween(a, b);
      // The only pairs with no printable key between them: b is a followed by spaces.
      const impossible = b.startsWith(a) && /^ +$/.test(b.slice(a.length));
      if (impossible) {
        expect(key).toBeNull();
      } else {
        expect(key).not.toBeNull();
        expect(key!).toMatch(ORDER_KEY);
        expect(a < key! && key! < b).toBe(true);
      }
    },
  );

  prop.prop([arbKey()], { numRuns: runs })('before and after any key', (a) => {
    const after = keyBetween(a, null);
    expect(after > a && isOrderKey(after)).toBe(true);
    if (a !== '') {
      const before = keyBetween(null, a);
      expect(before < a && isOrderKey(before)).toBe(true);
    }
  });

  prop.prop([fc.option(arbKey(), { nil: null }), fc.option(arbKey(), { nil: null }), fc.integer({ min: 0, max: 300 })], { numRuns: runs })(
    'keysBetween: n increasing keys strictly inside the bounds',
    (x, y, n) => {
      const [a, b] = x !== null && y !== null && y < x ? [y, x] : [x, y];
      // Leave out the bounds with (almost) nothing between them: b is a (or nothing) and spaces.
      fc.pre(b === null || ((a === null || a < b) && !(b.startsWith(a ?? '') && /^ *$/.test(b.slice((a ?? '').length)))));
      const keys = keysBetween(a, b, n);
      expect(keys).toHaveLength(n);
      checkedLongest(keys);
      if (n > 0) {
        if (a !== null) expect(keys[0]! > a).toBe(true);
        if (b !== null) expect(keys.at(-1)! < b).toBe(true);
      }
    },
  );

  test('keysBetween below a key that ends in spaces puts every key below its trimmed form', () => {
    // Found by the property above (seed -1407963155): the first key between null and 'Z0 ' is
    // 'Z0', above which nothing lies below 'Z0 '; the other key must go below 'Z0'.
    const keys = keysBetween(null, 'Z0 ', 2);
    expect(keys).toHaveLength(2);
    checkedLongest(keys);
    expect(keys.at(-1)! < 'Z0 ').toBe(true);
  });

  test('keysBetween spreads keys evenly, so inserts among them stay short', () => {
    expect(keysBetween(null, null, 4)).toEqual(['a0', 'aG', 'aW', 'am']);
    expect(keysBetween('a0', 'am', 2)).toEqual(['aG', 'aW']);
    expect(keysBetween('a0', 'a1', 3)).toEqual(['a0a0', 'a0aG', 'a0aW']);
  });
});

describe('editing patterns stay short without re-keying', () => {
  /** Runs `n` inserts, each at the index `at(i, list)` chooses, through keyBetween alone. */
  function insertAll(n: number, at: (i: number, length: number) => number, start: string[] = []): string[] {
    const keys = [...start];
    for (let i = 0; i < n; i++) {
      const index = at(i, keys.length);
      keys.splice(index, 0, keyBetween(keys[index - 1] ?? null, keys[index] ?? null));
    }
    return keys;
  }
  const N = 10_000;

  test.each([
    // [pattern, where insert i goes in a list of `length` keys, longest key allowed]
    ['10,000 appends', (_i: number, length: number) => length, 4],
    ['10,000 inserts at the front', () => 0, 4],
    ['10,000 inserts at the same spot (right after the first node, before the one inserted last)', () => 1, 6],
    ['10,000 inserts typed in order in the middle (each after the one inserted last)', (i: number) => 1 + i, 6],
    ['alternating front and back', (i: number, length: number) => (i % 2 ? length : 0), 4],
    ['alternating at both ends of one gap (after the first node, before the last)', (i: number, length: number) => (i % 2 ? length - 1 : 1), 6],
    ['alternating between two spots', (i: number, length: number) => (i % 2 ? 1 : length - 1), 6],
    ['a pseudo-random position each time', (i: number, length: number) => (i * 7919 + 13) % (length + 1), 12],
  ] as const)('%s', (_name, at, allowed) => {
    const start = keysBetween(null, null, 2);
    const keys = insertAll(N, at, start);
    expect(keys).toHaveLength(N + 2);
    expect(checkedLongest(keys)).toBeLessThanOrEqual(allowed);
  });

  test('the zig-zag (each insert into the gap just made) is the one pattern that needs re-keying', () => {
    let [lo, hi] = keysBetween(null, null, 2) as [string, string];
    let inserts = 0;
    for (;;) {
      const key = findBetween(lo, hi);
      if (key === null) break;
      expect(lo < key && key < hi).toBe(true);
      if (inserts % 2) lo = key;
      else hi = key;
      inserts++;
    }
    // About a byte every three inserts: hundreds of inserts, never 10,000.
    expect(inserts).toBeGreaterThan(300);
    expect(inserts).toBeLessThan(1000);
  });
});

describe('two replicas at the same spot at once', () => {
  test('get the same key; the ids order them, and later inserts go between them', () => {
    const [first, last] = keysBetween(null, null, 2) as [string, string];
    // Alice and Bob both insert between `first` and `last`, offline: the same key.
    const alice = { id: 'n-alice', pos: keyBetween(first, last) };
    const bob = { id: 'n-bob', pos: keyBetween(first, last) };
    expect(alice.pos).toBe(bob.pos);
    const siblings = [{ id: 'z-last', pos: last }, bob, alice, { id: 'a-first', pos: first }].sort(compareSiblings);
    expect(siblings.map((s) => s.id)).toEqual(['a-first', 'n-alice', 'n-bob', 'z-last']);
    // Between first and alice, and between bob and last, keys still exist; between alice and bob
    // no key does: the placement re-keys one of them (order-key-placement.test.ts).
    expect(findBetween(first, alice.pos)).not.toBeNull();
    expect(findBetween(bob.pos, last)).not.toBeNull();
    expect(findBetween(alice.pos, bob.pos)).toBeNull();
  });

  test('siblings compare by pos, then id, bytewise', () => {
    expect(compareSiblings({ pos: 'a0', id: 'b' }, { pos: 'a0', id: 'a' })).toBe(1);
    expect(compareSiblings({ pos: 'a0', id: 'B' }, { pos: 'a0', id: 'a' })).toBe(-1); // not a locale's order
    expect(compareSiblings({ pos: 'Zz', id: 'z' }, { pos: 'a0', id: 'a' })).toBe(-1);
    expect(compareSiblings({ pos: 'a0', id: 'a' }, { pos: 'a0', id: 'a' })).toBe(0);
  });
});

test('keys never pass 128 bytes: near the limit the byte-wise choice, else null', () => {
  const long = 'a0'.repeat(64); // 128 bytes
  expect(long).toHaveLength(MAX_KEY_BYTES);
  expect(findBetween(long, null)).toBe('aG');
  // Adjacent integers in 127-byte keys: a new level would take 129 bytes, one more byte fits.
  const p = 'a0'.repeat(62);
  expect(findBetween(p + 'b00', p + 'b01')).toBe(p + 'b00O');
  // Below a 128-byte key of this form: a shorter key of any form.
  expect(findBetween(long.slice(0, 126) + 'Zz', long)).toBe('a0'.repeat(63) + ']');
  expect(findBetween('x'.repeat(127) + 'a', 'x'.repeat(127) + 'b')).toBeNull();
});

prop.prop([fc.array(fc.integer({ min: -100, max: 100 }), { minLength: 1, maxLength: 64 }), fc.nat()], { numRuns: runs })(
  'between two keys of this form of up to 127 bytes, a key always fits',
  (list, cut) => {
    const a = formatKey(list).slice(0, 127);
    const parsed = parseKey(a);
    fc.pre(parsed !== undefined && parsed.length > 0);
    // The next key up at the last integer: as close to a as this form gets.
    const b = formatKey([...parsed!.slice(0, -1), parsed!.at(-1)! + 1 + (cut % 2)]);
    fc.pre(b.length <= 127 && a < b);
    const key = findBetween(a, b);
    expect(key).not.toBeNull();
    expect(a < key! && key! < b && key!.length <= MAX_KEY_BYTES).toBe(true);
  },
);

function compareLists(x: readonly number[], y: readonly number[]): number {
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  }
  return Math.sign(x.length - y.length);
}
