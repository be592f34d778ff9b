// The token bucket behind 429s: a burst, then the steady rate; buckets per key; idle buckets
// forgotten.
import { expect, test } from 'vitest';
import { TokenBuckets } from '../../server/rate-limit.ts';

function clockAt(start = 1_000_000) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

test('a burst is allowed, then one request per 1/rate seconds', () => {
  const clock = clockAt();
  const buckets = new TokenBuckets(2, 3, clock);
  expect([buckets.take('a'), buckets.take('a'), buckets.take('a')]).toEqual([0, 0, 0]);
  expect(buckets.take('a')).toBe(500); // half a second until the next token
  clock.t += 250;
  expect(buckets.take('a')).toBe(250);
  clock.t += 250;
  expect(buckets.take('a')).toBe(0);
  expect(buckets.take('a')).toBe(500);
});

test('keys have buckets of their own', () => {
  const buckets = new TokenBuckets(1, 1, clockAt());
  expect(buckets.take('a')).toBe(0);
  expect(buckets.take('a')).toBeGreaterThan(0);
  expect(buckets.take('b')).toBe(0);
});

test('a bucket refills to the burst, not beyond', () => {
  const clock = clockAt();
  const buckets = new TokenBuckets(10, 2, clock);
  buckets.take('a');
  clock.t += 60_000;
  expect([buckets.take('a'), buckets.take('a'), buckets.take('a')].map((w) => w === 0)).toEqual([true, true, false]);
});

test('buckets that have refilled are forgotten once a minute', () => {
  const clock = clockAt();
  const buckets = new TokenBuckets(1, 5, clock);
  for (let i = 0; i < 100; i++) buckets.take(`caller-${i}`);
  expect(buckets.size).toBe(100);
  clock.t += 61_000;
  buckets.take('new');
  expect(buckets.size).toBe(1);
});
