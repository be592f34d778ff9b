// Backoff: the ceiling doubles from the base up to the maximum, the wait is drawn below it
// (full jitter), a Retry-After is a floor, and reset() starts over.
import { expect, test } from 'vitest';
import { Backoff } from '../../client/worker/sync/backoff.ts';

test('ceilings double up to the maximum; waits are jittered below them', () => {
  const top = new Backoff({ baseMs: 100, maxMs: 1000 }, () => 0.999999);
  expect([1, 2, 3, 4, 5, 6].map(() => top.next())).toEqual([99, 199, 399, 799, 999, 999]);
  const bottom = new Backoff({ baseMs: 100, maxMs: 1000 }, () => 0);
  expect([1, 2, 3].map(() => bottom.next())).toEqual([0, 0, 0]);
  let i = 0;
  const draws = [0.5, 0.25];
  const mid = new Backoff({ baseMs: 100, maxMs: 1000 }, () => draws[i++]!);
  expect([mid.next(), mid.next()]).toEqual([50, 50]);
});

test('Retry-After is a floor; reset starts over', () => {
  const b = new Backoff({ baseMs: 100, maxMs: 1000 }, () => 0.5);
  expect(b.next(2)).toBe(2000);
  expect(b.next(0.01)).toBe(100);
  expect(b.attempts).toBe(2);
  b.reset();
  expect(b.attempts).toBe(0);
  expect(b.next()).toBe(50);
});
