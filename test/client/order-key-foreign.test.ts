// Order keys next to keys written by others (client/worker/order-key.ts): any printable ASCII is
// a valid pos, so a list may hold keys like `p123`, `~` or fractional-indexing's. Appending after
// such a key, prepending before it or inserting between two of them again and again must not
// grow the keys: after a step or two they are in the module's form (after a prefix of the
// foreign key when nothing of the form sorts right) and stay a few bytes long.
import { fc, test as prop } from '@fast-check/vitest';
import { generateKeyBetween } from 'fractional-indexing';
import { describe, expect, test } from 'vitest';
import { ORDER_KEY } from '../../protocol/ops.ts';
import { formatKey, keyBetween, MAX_KEY_BYTES, parseKey } from '../../client/worker/order-key.ts';
import { fcRuns } from '../model/fc-runs.ts';

const N = 10_000;

/** fractional-indexing's keys: its first, one after it, and two between (with a fraction). */
const fiFirst = generateKeyBetween(null, null);
const fiNext = generateKeyBetween(fiFirst, null);
const fiMiddle = generateKeyBetween(fiFirst, fiNext);
const fiMiddle2 = generateKeyBetween(fiMiddle, fiNext);

/** Foreign keys, and the longest key allowed in 10,000 appends after / prepends before each. */
const foreign: Array<[string, string, number, number]> = [
  // [name, key, longest after appends, longest after prepends]
  ['p123', 'p123', 5, 4],
  ['a0', 'a0', 4, 4],
  ['zzzz', 'zzzz', 5, 4],
  ['~ (the last printable byte)', '~', 5, 4],
  ['! (the first but one)', '!', 4, 5],
  ['100 bytes of x', 'x'.repeat(100), 5, 4],
  ['100 bytes ending low, nothing of the form above it', `${'~'.repeat(99)}!`, 104, 4],
  ['a 100-byte key of this form', formatKey(Array.from({ length: 50 }, () => 7)), 4, 4],
  [`fractional-indexing's first (${fiFirst})`, fiFirst, 4, 4],
  [`fractional-indexing's key with a fraction (${fiMiddle})`, fiMiddle, 4, 4],
  [`fractional-indexing's key with a longer fraction (${fiMiddle2})`, fiMiddle2, 4, 4],
];

/** The longest key, after checking that the list is strictly increasing and every key valid. */
function checkedLongest(keys: readonly string[]): number {
  keys.forEach((key, i) => {
    if (!ORDER_KEY.test(key)) throw new Error(`key ${i} is not an order key: ${JSON.stringify(key)}`);
    if (i > 0 && !(keys[i - 1]! < key)) throw new Error(`keys ${i - 1} and ${i} out of order: ${JSON.stringify(keys[i - 1])} ${JSON.stringify(key)}`);
  });
  return Math.max(0, ...keys.map((key) => key.length));
}

function appendAll(start: string, n: number): string[] {
  const keys = [start];
  for (let i = 0; i < n; i++) keys.push(keyBetween(keys.at(-1)!, null));
  return keys;
}

function prependAll(start: string, n: number): string[] {
  const keys = [start];
  for (let i = 0; i < n; i++) keys.unshift(keyBetween(null, keys[0]!));
  return keys;
}

/** `n` inserts between `lo` and `hi`, each after the one inserted last (typed in order) or
 * before it (at one spot, right after `lo`); the whole list in order. */
function insertAll(lo: string, hi: string, n: number, where: 'typed' | 'spot'): string[] {
  const made: string[] = [];
  let a = lo;
  let b = hi;
  for (let i = 0; i < n; i++) {
    const key = keyBetween(a, b);
    made.push(key);
    if (where === 'typed') a = key;
    else b = key;
  }
  return [lo, ...(where === 'typed' ? made : made.reverse()), hi];
}

describe('appending after a foreign key', () => {
  test.each(foreign)('10,000 appends after %s', (_name, key, longest) => {
    const keys = appendAll(key, N);
    expect(checkedLongest(keys.slice(1))).toBeLessThanOrEqual(longest);
  });

  test('the first key after is of this form and short when one sorts above it', () => {
    for (const key of ['!', 'A', '0', 'Z', fiFirst, fiMiddle, fiMiddle2]) {
      const next = keyBetween(key, null);
      expect(parseKey(next), `${key} -> ${next}`).toBeDefined();
      expect(next.length, `${key} -> ${next}`).toBeLessThanOrEqual(3);
    }
    // Nothing of this form sorts above p123 or ~: a short prefix, then the form.
    expect(keyBetween('p123', null)).toBe('pa0');
    expect(keyBetween('zzzz', null)).toBe('{a0');
    expect(keyBetween('~', null)).toBe('~a0');
  });
});

describe('prepending before a foreign key', () => {
  test.each(foreign)('10,000 prepends before %s', (_name, key, _appends, longest) => {
    const keys = prependAll(key, N);
    expect(checkedLongest(keys.slice(0, -1))).toBeLessThanOrEqual(longest);
  });

  test('the first key before is of this form when one sorts below it', () => {
    expect(keyBetween(null, 'p123')).toBe('a0');
    expect(keyBetween(null, fiMiddle)).toBe('a0');
    // Nothing of this form sorts below ! (every key of it starts with a letter): a space first.
    expect(keyBetween(null, '!')).toBe(' a0');
  });
});

describe('inserting between two foreign keys', () => {
  /** Pairs of foreign keys with the room between them, and the bytes allowed beyond the longer. */
  const pairs: Array<[string, string, number]> = [
    ['p123', 'p124', 5],
    ['!', '"', 5],
    ['A', 'Z', 5],
    ['Y', 'Z', 6],
    ['zzzz', '~', 5],
    ['m', 'n', 5],
    ['x'.repeat(100), 'y', 5],
    [`${'~'.repeat(99)}!`, `${'~'.repeat(99)}"`, 5],
    [fiFirst, fiMiddle, 5], // one bound of this form, one not
    [fiMiddle, fiMiddle2, 5],
  ];

  test.each(pairs)('10,000 inserts typed in order between %j and %j', (lo, hi, extra) => {
    const keys = insertAll(lo, hi, N, 'typed');
    expect(checkedLongest(keys.slice(1, -1))).toBeLessThanOrEqual(Math.max(lo.length, hi.length) + extra);
  });

  test.each(pairs)('10,000 inserts at one spot between %j and %j', (lo, hi, extra) => {
    const keys = insertAll(lo, hi, N, 'spot');
    expect(checkedLongest(keys.slice(1, -1))).toBeLessThanOrEqual(Math.max(lo.length, hi.length) + extra);
  });

  test('examples', () => {
    expect(keyBetween('a', 'b')).toBe('a0');
    expect(keyBetween('m', 'n')).toBe('ma0');
    expect(keyBetween('p123', 'p124')).toBe('p123a0');
    expect(keyBetween('p123a0', 'p124')).toBe('p123aG'); // then the usual steps after the prefix
    expect(keyBetween('a ', 'a!')).toBe('a a0');
  });
});

test('a key never leaves its neighbour followed by spaces alone above it (no key fits between those)', () => {
  for (const [lo, hi] of [['!', 'a0 '], ['!', 'a0   '], [null, 'a0 '], ['A', 'b0 ']] as const) {
    let a: string | null = lo;
    for (let i = 0; i < 200; i++) {
      const key = keyBetween(a, hi);
      expect(a === null || a < key).toBe(true);
      expect(key < hi).toBe(true);
      a = key;
    }
  }
});

describe('a list mixing foreign keys and keys of this form', () => {
  /** Printable keys of up to 100 bytes, biased toward this module's alphabet and the range's ends. */
  const arbForeign = fc.string({
    unit: fc.oneof(
      fc.constantFrom('a', 'h', 'S', 'Z', '0', 'z', ' ', '!', '~'),
      fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    ),
    minLength: 1,
    maxLength: 100,
  // Only the empty key sorts below a key of spaces alone: nothing to prepend before it.
  }).filter((key) => !/^ *$/.test(key));
  const arbOwn = fc
    .array(fc.integer({ min: -1_000_000, max: 1_000_000 }), { minLength: 1, maxLength: 6 })
    .map((list) => formatKey(list));
  const arbList = fc
    .array(fc.oneof(arbForeign, arbOwn), { minLength: 2, maxLength: 12 })
    .map((keys) => [...new Set(keys)].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)))
    .filter((keys) => keys.length >= 2);
  const APPENDS = 1_000;
  /** A key can need this much beyond the foreign key it follows (a prefix of it, a byte, then
   * an integer of this form that 1,000 appends take to at most 3 bytes). */
  const EXTRA = 5;

  prop.prop([arbList, fc.nat()], {
    numRuns: fcRuns(100),
    // Found at high run counts: the first key between `!` and `a0 ` was "a0", and nothing
    // sorts between "a0" and "a0 " (a key followed by spaces alone), so the next insert after
    // it had no room; appends after `YzPa0` (below).
    examples: [
      [['!', 'a0 '], 114959583],
      [['S ', 'YzPa0'], 0],
    ],
  })(
    '1,000 appends, prepends and inserts between neighbours: in order, printable, at most 128 bytes, and short',
    (start, pick) => {
      const first = start[0]!;
      const last = start.at(-1)!;
      const appended = appendAll(last, APPENDS).slice(1);
      const prepended = prependAll(first, APPENDS).slice(0, -1);
      const at = pick % (start.length - 1);
      const lo = start[at]!;
      const hi = start[at + 1]!;
      const between = insertAll(lo, hi, APPENDS, pick % 2 ? 'typed' : 'spot').slice(1, -1);
      const whole = [...prepended, ...start.slice(0, at + 1), ...between, ...start.slice(at + 1), ...appended];
      expect(checkedLongest(whole)).toBeLessThanOrEqual(MAX_KEY_BYTES);
      expect(checkedLongest(appended)).toBeLessThanOrEqual(last.length + EXTRA);
      expect(checkedLongest(prepended)).toBeLessThanOrEqual(first.length + EXTRA);
      expect(checkedLongest(between)).toBeLessThanOrEqual(Math.max(lo.length, hi.length) + EXTRA);
      // And it settles: the last half of the appends are at most 2 bytes longer than the 10th.
      // An append steps its integer by 16, and the 990 after the 10th can carry it through two
      // widths (a 1-digit negative, then 2 and 3 digits: found by a CI run from `YzPa0`), never
      // more; a key that crept would grow by hundreds of bytes.
      expect(checkedLongest(appended.slice(APPENDS / 2))).toBeLessThanOrEqual(appended[9]!.length + 2);
    },
  );
});
