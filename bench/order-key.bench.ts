/**
 * npm run bench:order-keys — order keys of client/worker/order-key.ts against the
 * `fractional-indexing` package (generateKeyBetween), on the editing patterns of issue 8:
 *
 *   (a) key lengths after 10,000 edits of each pattern, through keyBetween alone (no re-keying);
 *       the protocol refuses keys over 128 bytes
 *   (b) the zig-zag (each insert into the gap just made): inserts until a key passes 128 bytes,
 *       and what the placement's re-keying costs to keep 10,000 of them within 128
 *   (c) keys per second: appends, inserts between neighbours, and placements with a window
 *   (d) next to keys written by others (any printable ASCII, e.g. `p123`, `~`, fractional-
 *       indexing's): the longest key after 10,000 appends after one, prepends before one, and
 *       inserts between two; and appends per second after one
 *
 * Pure CPU, no database. Prints a table and writes it to bench/results/order-keys.md.
 * BENCH_SCALE=0.1 runs a tenth of it.
 */
import { performance } from 'node:perf_hooks';
import { generateKeyBetween } from 'fractional-indexing';
import { keyBetween, keysBetween, MAX_KEY_BYTES } from '../client/worker/order-key.ts';
import { placeBetween, type Placement, type Sibling } from '../client/worker/order-key-placement.ts';
import { machine, type ResultRow, writeResults } from './report.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const n = (count: number) => Math.max(1, Math.round(count * SCALE));
const EDITS = n(10_000);

type Between = (a: string | null, b: string | null) => string;
const ours: Between = keyBetween;
const theirs: Between = (a, b) => generateKeyBetween(a, b);

/** Where edit i goes in a list of `length` keys. */
type Pattern = (i: number, length: number) => number;

const PATTERNS: [string, Pattern][] = [
  ['appends', (_i, length) => length],
  ['inserts at the front', () => 0],
  ['inserts at one spot (after the first node)', () => 1],
  ['inserts typed in order in the middle', (i) => 1 + i],
  ['alternating front and back', (i, length) => (i % 2 ? length : 0)],
  ['alternating at both ends of one gap', (i, length) => (i % 2 ? length - 1 : 1)],
  ['a pseudo-random position each time', (i, length) => (i * 7919 + 13) % (length + 1)],
];

/** Runs the pattern from two keys; the longest and mean key length at the end. */
function lengths(between: Between, at: Pattern): { longest: number; mean: number; over: number } {
  const first = between(null, null);
  const keys = [first, between(first, null)];
  for (let i = 0; i < EDITS; i++) {
    const index = at(i, keys.length);
    keys.splice(index, 0, between(keys[index - 1] ?? null, keys[index] ?? null));
  }
  const total = keys.reduce((sum, key) => sum + key.length, 0);
  return {
    longest: Math.max(...keys.map((key) => key.length)),
    mean: total / keys.length,
    over: keys.filter((key) => key.length > MAX_KEY_BYTES).length,
  };
}

/** Zig-zag inserts until a key would pass 128 bytes (or `cap` inserts). */
function zigzagUntilFull(between: Between, cap: number): number {
  let lo = between(null, null);
  let hi = between(lo, null);
  for (let i = 0; i < cap; i++) {
    let key: string;
    try {
      key = between(lo, hi);
    } catch {
      return i;
    }
    if (key.length > MAX_KEY_BYTES) return i;
    if (i % 2) lo = key;
    else hi = key;
  }
  return cap;
}

/** 10,000 zig-zag inserts through the placement, as the worker would run them. */
function zigzagPlaced(window: number) {
  const items: Sibling[] = [];
  let moved = 0;
  let plans = 0;
  let largest = 0;
  let next = 0;
  const place = (index: number, w: number): Placement | null => {
    const from = Math.max(0, index - w);
    const to = Math.min(items.length, index + w);
    return placeBetween({
      lower: from > 0 ? items[from - 1]!.pos : null,
      before: items.slice(from, index),
      after: items.slice(index, to),
      upper: to < items.length ? items[to]!.pos : null,
    });
  };
  const insertAt = (index: number) => {
    let placement = place(index, window);
    for (let w = window * 4; placement === null; w *= 4) placement = place(index, w >= items.length ? Infinity : w);
    if (placement.rekey.length > 0) plans++;
    largest = Math.max(largest, placement.rekey.length);
    for (const { id, pos } of placement.rekey) {
      items.find((s) => s.id === id)!.pos = pos;
      moved++;
    }
    items.splice(index, 0, { id: `n${next++}`, pos: placement.pos });
  };
  insertAt(0);
  insertAt(1);
  let spot = 1;
  const start = performance.now();
  for (let i = 0; i < EDITS; i++) {
    insertAt(spot);
    if (i % 2 === 1) spot += 1;
  }
  const seconds = (performance.now() - start) / 1000;
  return { moved, plans, largest, longest: Math.max(...items.map((s) => s.pos.length)), seconds };
}

/** Keys written by others that bench (d) starts from. */
const FOREIGN = ['p123', 'zzzz', '~', '!', 'a0V', 'x'.repeat(100)];
const show = (key: string) => JSON.stringify(key.length > 12 ? `${key.slice(0, 3)}…` : key);

/** Our keys only (fractional-indexing refuses keys not of its form): the longest of `count`
 * keys made by `step` from `start`, each from the one before, checked to be in order. */
function foreignRun(start: string, count: number, step: (previous: string) => string, increasing: boolean): number {
  let previous = start;
  let longest = 0;
  for (let i = 0; i < count; i++) {
    const key = step(previous);
    if (increasing ? !(previous < key) : !(key < previous)) throw new Error(`out of order after ${JSON.stringify(previous)}`);
    longest = Math.max(longest, key.length);
    previous = key;
  }
  return longest;
}

/** Calls per second of `body`, over at least `minMs` of runs of `count` calls. */
function rate(count: number, body: () => void, minMs = 500): number {
  body(); // warm up
  let calls = 0;
  const start = performance.now();
  do {
    body();
    calls += count;
  } while (performance.now() - start < minMs);
  return calls / ((performance.now() - start) / 1000);
}

function appendRate(between: Between): number {
  const count = n(100_000);
  return rate(count, () => {
    let key: string | null = null;
    for (let i = 0; i < count; i++) key = between(key, null);
  });
}

function appendForeignRate(): number {
  const count = n(100_000);
  return rate(count, () => {
    let key = 'p123';
    for (let i = 0; i < count; i++) key = ours(key, null);
  });
}

/** Inserts between neighbours of a list built by random inserts (each pair once per run). */
function betweenRate(between: Between): number {
  const first = between(null, null);
  const keys = [first, between(first, null)];
  for (let i = 0; i < EDITS; i++) {
    const index = (i * 7919 + 13) % (keys.length + 1);
    keys.splice(index, 0, between(keys[index - 1] ?? null, keys[index] ?? null));
  }
  return rate(keys.length - 1, () => {
    for (let i = 0; i + 1 < keys.length; i++) between(keys[i]!, keys[i + 1]!);
  });
}

/** placeBetween with 16 siblings each side, at every spot of a 1,000-sibling list. */
function placeRate(): number {
  const items = keysBetween(null, null, 1_000).map((pos, i) => ({ id: `n${i}`, pos }));
  return rate(items.length, () => {
    for (let index = 0; index < items.length; index++) {
      const from = Math.max(0, index - 16);
      const to = Math.min(items.length, index + 16);
      placeBetween({
        lower: from > 0 ? items[from - 1]!.pos : null,
        before: items.slice(from, index),
        after: items.slice(index, to),
        upper: to < items.length ? items[to]!.pos : null,
      });
    }
  });
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

async function main() {
  const rows: ResultRow[] = [];
  for (const [name, at] of PATTERNS) {
    const a = lengths(ours, at);
    const b = lengths(theirs, at);
    rows.push({
      case: `${fmt(EDITS)} ${name}`,
      figure: `longest ${a.longest} B (fractional-indexing ${b.longest} B)`,
      detail: `mean ${a.mean.toFixed(1)} B vs ${b.mean.toFixed(1)} B; keys over 128 B: ${a.over} vs ${b.over}`,
    });
  }
  const cap = n(100_000);
  rows.push({
    case: 'zig-zag (each insert into the gap just made), keyBetween alone',
    figure: `${fmt(zigzagUntilFull(ours, cap))} inserts until a key would pass 128 B (fractional-indexing ${fmt(zigzagUntilFull(theirs, cap))})`,
    detail: 'no scheme survives this without re-keying',
  });
  for (const window of [4, 16]) {
    const z = zigzagPlaced(window);
    rows.push({
      case: `${fmt(EDITS)} zig-zag inserts through placeBetween, window ${window} each side`,
      figure: `longest ${z.longest} B; ${fmt(z.moved)} siblings re-keyed (${(z.moved / EDITS).toFixed(2)} per insert)`,
      detail: `${fmt(z.plans)} inserts re-keyed (${((100 * z.plans) / EDITS).toFixed(1)} %), largest plan ${fmt(z.largest)} siblings (windows widened ×4 when too tight); ${z.seconds.toFixed(2)} s in all`,
    });
  }
  for (const key of FOREIGN) {
    const appends = foreignRun(key, EDITS, (k) => ours(k, null), true);
    const prepends = foreignRun(key, EDITS, (k) => ours(null, k), false);
    rows.push({
      case: `${fmt(EDITS)} appends after / prepends before the foreign key ${show(key)} (${key.length} B)`,
      figure: `longest ${appends} B / ${prepends} B`,
      detail: `first key after: ${show(ours(key, null))}, before: ${show(ours(null, key))}`,
    });
  }
  for (const [lo, hi] of [['p123', 'p124'], ['a0V', 'a0l']] as const) {
    const typed = foreignRun(lo, EDITS, (k) => ours(k, hi), true);
    const spot = foreignRun(hi, EDITS, (k) => ours(lo, k), false);
    rows.push({
      case: `${fmt(EDITS)} inserts between the foreign keys ${lo} and ${hi}`,
      figure: `longest ${typed} B typed in order, ${spot} B at one spot`,
      detail: `first key: ${show(ours(lo, hi))}`,
    });
  }
  rows.push({
    case: 'appends',
    figure: `${fmt(appendRate(ours))} keys/s (fractional-indexing ${fmt(appendRate(theirs))})`,
    detail: `keyBetween(last, null), ${fmt(n(100_000))} in a row`,
  });
  rows.push({
    case: 'appends after a foreign key',
    figure: `${fmt(appendForeignRate())} keys/s`,
    detail: `keyBetween(last, null) from p123, ${fmt(n(100_000))} in a row (p + a key of this form each time)`,
  });
  rows.push({
    case: 'inserts between neighbours',
    figure: `${fmt(betweenRate(ours))} keys/s (fractional-indexing ${fmt(betweenRate(theirs))})`,
    detail: `keyBetween(a, b) over the adjacent pairs of a ${fmt(EDITS + 2)}-key list built by random inserts`,
  });
  rows.push({
    case: 'placeBetween, 16 siblings each side',
    figure: `${fmt(placeRate())} placements/s`,
    detail: 'every spot of a 1,000-sibling list; validation of the window included, no re-keying needed',
  });
  await writeResults(
    'order-keys',
    [
      `Machine: ${machine()}. Shared with other engineers' test runs: timings are noisy; lengths are exact.`,
      `Order keys (client/worker/order-key.ts) against fractional-indexing ${await theirVersion()} (generateKeyBetween), ${fmt(EDITS)} edits per pattern, each starting from two keys.`,
    ],
    rows,
  );
}

async function theirVersion(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const url = new URL('../node_modules/fractional-indexing/package.json', import.meta.url);
  return (JSON.parse(await readFile(url, 'utf8')) as { version: string }).version;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
