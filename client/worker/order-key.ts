/**
 * Order keys: the `pos` of a move, which places a node among its siblings. Siblings sort by
 * (pos, id) byte by byte, so a key only has to compare right against its neighbours.
 *
 * Contract:
 * - `keyBetween(a, b)` returns a key strictly between `a` and `b` (null: no bound), printable
 *   ASCII of at most 128 bytes, or throws `TreesyncError` (`invalid_request`) when the input is
 *   not two valid keys with a < b, or when no key of at most 128 bytes lies between them (then
 *   the neighbours must be re-keyed: see order-key-placement.ts).
 * - It is deterministic: two replicas inserting between the same neighbours at once get the
 *   same key, and the node ids order the two new siblings.
 *
 * How keys are built. A key written by this module is a list of integers, each written as a
 * head letter and digits: `a`..`h` for 1 to 8 digits of a non-negative integer, `Z`..`S` for 1
 * to 8 digits of a negative one, digits in base 62 (`0-9A-Za-z`). Each integer says its own
 * length and the heads sort by value, so byte order of keys is the order of their integer lists
 * (a list sorts before its own extensions). Then:
 * - after the last sibling: its first integer plus 16 (`a0` → `aG`); before the first: minus 16.
 *   Appending or prepending n times costs about log62(16n) bytes (4 bytes for 10,000).
 * - between two keys: the middle integer where their integers differ by two or more; where they
 *   are adjacent, the lower key's prefix, its next integer and one more integer above that.
 *   Inserting again and again at one spot (after the new key or before it) thus counts up or down
 *   one level deeper: a few bytes for 10,000 inserts, where midpoints alone add a byte every
 *   few inserts.
 * The one order no key scheme survives, inserting each time into the gap just made (zig-zag),
 * costs a byte every three inserts here; the placement re-keys a few neighbours long before 128.
 *
 * Keys written by others (any printable ASCII) are accepted: when a bound is not in this form,
 * the key is one of this form after a prefix of a bound (`p123` → `pa0` → `paG` …, `!` → `a0`),
 * so appending after, prepending before or inserting next to foreign keys again and again stays
 * a few bytes longer than that prefix (mixedBetween). Only when nothing of that kind fits is the
 * key found byte by byte (midway through the printable range at the first byte with room).
 */
import { TreesyncError } from '../../protocol/errors.ts';
import { ORDER_KEY } from '../../protocol/ops.ts';

/** The longest order key the protocol accepts, in bytes. */
export const MAX_KEY_BYTES = 128;
/** The most keys `keysBetween` makes in one call. */
export const MAX_KEYS_AT_ONCE = 1_000_000;

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE = DIGITS.length;
const MAX_DIGITS = 8;
/** Head of a non-negative integer of L digits: POSITIVE_HEADS[L - 1]. */
const POSITIVE_HEADS = 'abcdefgh';
/** Head of a negative integer of L digits: NEGATIVE_HEADS[L - 1] (longer is smaller). */
const NEGATIVE_HEADS = 'ZYXWVUTS';

/** POWERS[L] = 62^L; FIRST[L] = the smallest non-negative integer written with L digits;
 * LAST_NEGATIVE[L] = minus the count of negative integers written with at most L digits. */
const POWERS: number[] = [1];
const FIRST: number[] = [0, 0];
const LAST_NEGATIVE: number[] = [0];
for (let l = 1; l <= MAX_DIGITS; l++) {
  POWERS[l] = POWERS[l - 1]! * BASE;
  FIRST[l + 1] = FIRST[l]! + POWERS[l]!;
  LAST_NEGATIVE[l] = LAST_NEGATIVE[l - 1]! - POWERS[l]!;
}
/** By byte: the digit's value, or -1. */
const DIGIT_VALUE: number[] = Array.from({ length: 128 }, (_, c) => DIGITS.indexOf(String.fromCharCode(c)));
/** By byte: the number of digits a head announces, negative for a negative integer; 0: no head. */
const HEAD_LENGTH: number[] = Array.from({ length: 128 }, (_, c) => {
  const ch = String.fromCharCode(c);
  return POSITIVE_HEADS.indexOf(ch) + 1 || -(NEGATIVE_HEADS.indexOf(ch) + 1);
});
/** The range of one integer: about ±2.2e14, well inside the exact doubles. */
const MAX_INT = FIRST[MAX_DIGITS + 1]! - 1;
const MIN_INT = LAST_NEGATIVE[MAX_DIGITS]!;

/** How far apart `above`/`below` step: room for a few inserts by halving before a key needs
 * another level (random inserts stay ~10 bytes for 10,000 nodes), while appending 10,000 times
 * still fits in 3 digits. */
const STEP = 16;
/** Lowest and highest printable ASCII byte. */
const LOW = 0x20;
const HIGH = 0x7e;

/** Whether `value` is a valid order key: printable ASCII of at most 128 bytes (may be empty). */
export function isOrderKey(value: unknown): value is string {
  return typeof value === 'string' && ORDER_KEY.test(value);
}

/** Siblings' order: by pos, then id, bytewise. */
export function compareSiblings(x: { pos: string; id: string }, y: { pos: string; id: string }): number {
  if (x.pos !== y.pos) return x.pos < y.pos ? -1 : 1;
  return x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
}

/** A key strictly between `a` and `b` (null: unbounded). Throws `invalid_request` when there is none. */
export function keyBetween(a: string | null, b: string | null): string {
  checkBounds(a, b);
  const key = findBetween(a, b);
  if (key === null) throw noRoom(a, b, 1);
  return key;
}

/**
 * `n` increasing keys strictly between `a` and `b`, spread out so that later inserts among them
 * stay short. Throws `invalid_request` when they do not fit in 128 bytes.
 */
export function keysBetween(a: string | null, b: string | null, n: number): string[] {
  checkBounds(a, b);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_KEYS_AT_ONCE) {
    throw new TreesyncError('invalid_request', `a key count is an integer in 0..${MAX_KEYS_AT_ONCE}, got ${n}`);
  }
  const keys = findKeysBetween(a, b, n);
  if (keys === null) throw noRoom(a, b, n);
  return keys;
}

/**
 * For callers that have checked their input (the placement): a key strictly between `a` and
 * `b`, or null when `a >= b` or no key of at most 128 bytes lies between them.
 */
export function findBetween(a: string | null, b: string | null): string | null {
  if (a !== null && b !== null && a >= b) return null;
  const la = a === null ? null : parseKey(a);
  const lb = b === null ? null : parseKey(b);
  let key: string | null = null;
  if (la !== undefined && lb !== undefined) {
    const list = listBetween(la, lb);
    key = list === null ? null : formatKey(list);
    // Near the length limit (or the integers' range) the byte-wise choice may still fit.
    if (key === null || key.length > MAX_KEY_BYTES) key = bytesBetween(a ?? '', b);
  } else {
    key = mixedBetween(a, b);
  }
  if (key === null && a === null && b !== null && b !== '') return ''; // only spaces below b
  return key !== null && key.length <= MAX_KEY_BYTES ? key : null;
}

/** Like `keysBetween`, for checked input: null when `a >= b` or the keys do not fit. */
export function findKeysBetween(a: string | null, b: string | null, n: number): string[] | null {
  if (a !== null && b !== null && a >= b) return null;
  if (n === 0) return [];
  const la = a === null ? null : parseKey(a);
  const lb = b === null ? null : parseKey(b);
  if (la !== undefined && lb !== undefined) {
    const lists = spreadLists(la, lb, n);
    if (lists !== null) {
      const keys = lists.map(formatKey);
      if (keys.every((k) => k.length <= MAX_KEY_BYTES)) return keys;
    }
  }
  return bisect(a, b, n);
}

// ---- integers and keys -------------------------------------------------------------------

/** The integer list of a key in this module's form, or undefined for any other key. */
export function parseKey(key: string): number[] | undefined {
  const list: number[] = [];
  let i = 0;
  while (i < key.length) {
    const head = HEAD_LENGTH[key.charCodeAt(i)] ?? 0;
    const length = Math.abs(head);
    if (length === 0 || i + 1 + length > key.length) return undefined;
    let digits = 0;
    for (let j = i + 1; j <= i + length; j++) {
      const d = DIGIT_VALUE[key.charCodeAt(j)] ?? -1;
      if (d < 0) return undefined;
      digits = digits * BASE + d;
    }
    list.push(head > 0 ? FIRST[length]! + digits : LAST_NEGATIVE[length]! + digits);
    i += 1 + length;
  }
  return list;
}

/** Writes an integer list as a key. */
export function formatKey(list: readonly number[]): string {
  return list.map(formatInt).join('');
}

function formatInt(n: number): string {
  let length = 1;
  let digits: number;
  if (n >= 0) {
    while (n >= FIRST[length + 1]!) length++;
    digits = n - FIRST[length]!;
  } else {
    while (n < LAST_NEGATIVE[length]!) length++;
    digits = n - LAST_NEGATIVE[length]!;
  }
  let text = '';
  for (let j = 0; j < length; j++) {
    text = DIGITS[digits % BASE]! + text;
    digits = Math.floor(digits / BASE);
  }
  return (n >= 0 ? POSITIVE_HEADS : NEGATIVE_HEADS)[length - 1]! + text;
}

// ---- between two integer lists -----------------------------------------------------------

/** A list strictly between `a` and `b` (null: unbounded), given a < b; null if out of range. */
function listBetween(a: readonly number[] | null, b: readonly number[] | null): number[] | null {
  if (a === null || a.length === 0) return b === null ? [0] : below(b);
  if (b === null) return above(a);
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  const prefix = a.slice(0, i);
  // a is a proper prefix of b: anything that extends a and sorts below the rest of b.
  if (i === a.length) return join(prefix, below(b.slice(i)));
  const x = a[i]!;
  const y = b[i]!;
  if (y - x >= 2) return [...prefix, x + Math.floor((y - x) / 2)];
  // Adjacent integers: keep a's integer and go one level deeper, above the rest of a.
  return join([...prefix, x], above(a.slice(i + 1)));
}

/** The shortest list above `a` that this scheme offers: its first integer plus one. */
function above(a: readonly number[]): number[] | null {
  if (a.length === 0) return [0];
  if (a[0]! <= MAX_INT - STEP) return [a[0]! + STEP];
  return join([a[0]!], above(a.slice(1)));
}

/** The shortest list below `b` (non-empty), above the empty list. */
function below(b: readonly number[]): number[] | null {
  if (b.length === 0) return null;
  if (b[0]! >= MIN_INT + STEP) return [b[0]! - STEP];
  return join([b[0]!], below(b.slice(1)));
}

function join(prefix: number[], rest: number[] | null): number[] | null {
  return rest === null ? null : [...prefix, ...rest];
}

/** Gap left between spread keys that have only one bound, as between appended keys. */
const SPREAD_STEP = STEP;

/** `n` increasing lists strictly between `a` and `b`, evenly spaced; null when out of range. */
function spreadLists(a: readonly number[] | null, b: readonly number[] | null, n: number): number[][] | null {
  if (b !== null && b.length === 0) return null; // nothing sorts below the empty key
  const run = (prefix: readonly number[], first: number, step: number) => {
    const last = first + (n - 1) * step;
    if (first < MIN_INT || last > MAX_INT) return null;
    return Array.from({ length: n }, (_, j) => [...prefix, first + j * step]);
  };
  if (a === null || a.length === 0) {
    if (b === null) return run([], 0, SPREAD_STEP);
    return run([], b[0]! - n * SPREAD_STEP, SPREAD_STEP) ?? deeper([b[0]!], null, b.slice(1));
  }
  if (b === null) return run([], a[0]! + SPREAD_STEP, SPREAD_STEP) ?? deeper([a[0]!], a.slice(1), null);
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  const prefix = a.slice(0, i);
  if (i === a.length) return deeper(prefix, null, b.slice(i));
  const x = a[i]!;
  const y = b[i]!;
  if (y - x - 1 >= n) {
    const step = Math.floor((y - x) / (n + 1));
    return run(prefix, x + step, step);
  }
  return deeper([...prefix, x], a.slice(i + 1), null);

  function deeper(p: readonly number[], lo: readonly number[] | null, hi: readonly number[] | null) {
    const rest = spreadLists(lo, hi, n);
    return rest === null ? null : rest.map((r) => [...p, ...r]);
  }
}

// ---- keys in any form ---------------------------------------------------------------------

/**
 * Between bounds of which at least one is not in this module's form (a key written by others).
 * The answer is a key of this form after a prefix of a bound: `p + s`, `p` a prefix of `a` or
 * of `b` (often empty) and `s` in this form. Once a bound ends in this form after some prefix,
 * the next key steps that tail as usual and keeps the prefix, so however often one appends
 * after, prepends before or inserts next to a foreign key, keys stay a few bytes longer than
 * the prefix. Candidates come in two rounds, each with its own ranking (the first in the
 * order below on a tie):
 * 1. the usual steps: above a tail of `a` in this form, below a tail of `b`, or between the
 *    tails of both after a shared prefix; the shortest prefix wins here, then the shortest key;
 * 2. only when none fits, ways in: `a0`, the integer just above the rest of `a` (or below the
 *    rest of `b`) after a prefix, or a prefix with its last byte one up (of `a`) or down (of
 *    `b`) then `a0`; the shortest key wins.
 * Preferring the steps matters: always taking the shortest key would walk the prefix up a byte
 * at a time (`pam` → `pan` → … → `qa0` → … `~`) and then grow again. When nothing fits, the
 * byte-wise choice.
 */
function mixedBetween(a: string | null, b: string | null): string | null {
  const lo = a ?? '';
  let best: string | null = null;
  let bestPrefix = Infinity;
  // Round 1 ranks by prefix, then length (round 2: by length): a step never lengthens the
  // prefix it keeps, so a run of edits at one spot cannot creep.
  let byPrefix = true;
  const offer = (prefix: string, list: readonly number[] | null): void => {
    if (list === null) return;
    const key = prefix + formatKey(list);
    if (key.length > MAX_KEY_BYTES || !(a === null || a < key) || !(b === null || key < b)) return;
    // Nothing fits between a key and itself followed by spaces: such a key would leave the next
    // insert below b nowhere to go. (A candidate ends in a byte of the form, never a space, so it
    // cannot be a followed by spaces.)
    if (b !== null && onlySpacesAfter(key, b)) return;
    const better =
      best === null ||
      (byPrefix && (prefix.length < bestPrefix || (prefix.length === bestPrefix && key.length < best.length))) ||
      (!byPrefix && key.length < best.length);
    if (better) {
      best = key;
      bestPrefix = prefix.length;
    }
  };
  // Whether a candidate with a prefix this long (and at least `extra` bytes after it) can win.
  const worthTrying = (prefixLength: number, extra = 2): boolean =>
    best === null || (byPrefix ? prefixLength <= bestPrefix : prefixLength + extra < best.length);

  // Round 1: the usual steps from tails in this form (non-empty: an empty tail is a way in).
  if (b !== null) {
    for (let j = 0; j <= lo.length && j < b.length && (j === 0 || lo[j - 1] === b[j - 1]) && worthTrying(j); j++) {
      const la = parseKey(lo.slice(j));
      const lb = la === undefined ? undefined : parseKey(b.slice(j));
      if (la !== undefined && lb !== undefined) offer(lo.slice(0, j), listBetween(la, lb));
    }
  }
  for (let i = 0; i < lo.length && worthTrying(i); i++) {
    const list = parseKey(lo.slice(i));
    if (list !== undefined) offer(lo.slice(0, i), above(list));
  }
  if (b !== null) {
    for (let i = 0; i < b.length && worthTrying(i); i++) {
      const list = parseKey(b.slice(i));
      if (list !== undefined) offer(b.slice(0, i), below(list));
    }
  }
  if (best !== null) return best;

  // Round 2: ways into the form.
  byPrefix = false;
  for (let i = 0; i <= lo.length && worthTrying(i); i++) {
    const rest = lo.slice(i);
    if (rest < ZERO_KEY) offer(lo.slice(0, i), [0]);
    offer(lo.slice(0, i), smallestAbove(rest));
  }
  if (b !== null) {
    for (let i = 0; i < b.length && worthTrying(i); i++) {
      const rest = b.slice(i);
      if (ZERO_KEY < rest) offer(b.slice(0, i), [0]);
      offer(b.slice(0, i), largestBelow(rest));
    }
  }
  for (let i = 0; i < lo.length && worthTrying(i, 3); i++) {
    const c = lo.charCodeAt(i);
    if (c < HIGH) offer(lo.slice(0, i) + String.fromCharCode(c + 1), [0]);
  }
  if (b !== null) {
    for (let i = 0; i < b.length && worthTrying(i, 3); i++) {
      const c = b.charCodeAt(i);
      if (c > LOW) offer(b.slice(0, i) + String.fromCharCode(c - 1), [0]);
    }
  }
  return best ?? bytesBetween(lo, b);
}

/** Whether `longer` is `key` followed by one or more spaces (then no key sorts between them). */
function onlySpacesAfter(key: string, longer: string): boolean {
  if (longer.length <= key.length || !longer.startsWith(key)) return false;
  for (let i = key.length; i < longer.length; i++) if (longer.charCodeAt(i) !== LOW) return false;
  return true;
}

/** The key of the integer 0, where appending and prepending start. */
const ZERO_KEY = 'a0';
const MAX_INT_KEY = formatInt(MAX_INT);
const MIN_INT_KEY = formatInt(MIN_INT);

/** The smallest integer whose key sorts above `text`, as a list; null when none does. */
function smallestAbove(text: string): number[] | null {
  if (MAX_INT_KEY <= text) return null;
  let low = MIN_INT; // invariant: the answer is in low..high
  let high = MAX_INT;
  while (low < high) {
    const mid = low + Math.floor((high - low) / 2);
    if (formatInt(mid) > text) high = mid;
    else low = mid + 1;
  }
  return [low];
}

/** The largest integer whose key sorts below `text`, as a list; null when none does. */
function largestBelow(text: string): number[] | null {
  if (MIN_INT_KEY >= text) return null;
  let low = MIN_INT;
  let high = MAX_INT;
  while (low < high) {
    const mid = high - Math.floor((high - low) / 2);
    if (formatInt(mid) < text) low = mid;
    else high = mid - 1;
  }
  return [low];
}

/**
 * A printable key strictly between `a` and `b` (null: unbounded), given a < b, chosen at the
 * first byte where there is room; null when none exists (`b` is `a` followed by spaces only).
 */
function bytesBetween(a: string, b: string | null): string | null {
  let out = '';
  let upperBound = b !== null;
  for (let i = 0; ; i++) {
    // LOW - 1 stands for "a has ended": any printable byte is above it.
    const lo = i < a.length ? a.charCodeAt(i) : LOW - 1;
    if (upperBound && i >= b!.length) return null;
    const hi = upperBound ? b!.charCodeAt(i) : HIGH + 1;
    if (hi - lo >= 2) {
      const mid = lo + Math.floor((hi - lo) / 2);
      // A lone space after the end of a would leave no room below it: add a middle byte.
      return out + String.fromCharCode(mid) + (mid === LOW ? String.fromCharCode((LOW + HIGH + 1) >> 1) : '');
    }
    if (hi === lo) {
      out += String.fromCharCode(lo);
    } else if (lo >= LOW) {
      // Adjacent bytes: take a's, and from here only a bounds the rest.
      out += String.fromCharCode(lo);
      upperBound = false;
    } else {
      // a has ended and b has a space here: follow b, staying below it.
      out += String.fromCharCode(hi);
    }
  }
}

/** `n` keys between `a` and `b` by halving: the middle key, then each half. */
function bisect(a: string | null, b: string | null, n: number): string[] | null {
  if (n === 0) return [];
  const mid = findBetween(a, b);
  if (mid === null) return null;
  // Half the rest on each side of mid, unless one side has no room at all (mid can be b
  // without its trailing spaces: nothing lies between them), then all of it on the other.
  const roomBelow = n === 1 || findBetween(a, mid) !== null;
  const roomAbove = n === 1 || findBetween(mid, b) !== null;
  const below = !roomAbove ? n - 1 : !roomBelow ? 0 : Math.floor((n - 1) / 2);
  const left = bisect(a, mid, below);
  const right = left === null ? null : bisect(mid, b, n - 1 - left.length);
  return left === null || right === null ? null : [...left, mid, ...right];
}

// ---- input ----------------------------------------------------------------------------------

function checkBounds(a: string | null, b: string | null): void {
  for (const [name, key] of [['a', a], ['b', b]] as const) {
    if (key !== null && !isOrderKey(key)) {
      throw new TreesyncError('invalid_request', `${name} must be null or an order key (printable ASCII of at most 128 bytes), got ${JSON.stringify(key)}`);
    }
  }
  if (a !== null && b !== null && a >= b) {
    throw new TreesyncError('invalid_request', `order keys must be given lower first: ${JSON.stringify(a)} is not below ${JSON.stringify(b)}`);
  }
}

function noRoom(a: string | null, b: string | null, n: number): TreesyncError {
  return new TreesyncError(
    'invalid_request',
    `no room for ${n === 1 ? 'a key' : `${n} keys`} of at most ${MAX_KEY_BYTES} bytes between ${JSON.stringify(a)} and ${JSON.stringify(b)}: re-key the neighbours`,
  );
}
