// The replica's hybrid logical clock (client/worker/hlc.ts): the timestamp format, a clock that
// never goes backwards whatever the wall clock, the messages and the server do, and its state.
import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { TIMESTAMP } from '../../protocol/ops.ts';
import {
  formatTimestamp,
  HybridClock,
  isTimestamp,
  MAX_COUNTER,
  MAX_WALL,
  parseTimestamp,
  type ClockState,
} from '../../client/worker/hlc.ts';
import { fcRuns } from '../model/fc-runs.ts';

const runs = fcRuns();
const T0 = 1_732_212_345_678;

/** A wall clock the test sets by hand. */
function manualWall(start = T0) {
  const wall = { ms: start, read: () => wall.ms };
  return wall;
}

const invalidRequest = expect.objectContaining({ name: 'TreesyncError', code: 'invalid_request' });

describe('timestamps', () => {
  test('format and parse are inverse, with fixed widths', () => {
    const ts = formatTimestamp({ wall: 42, counter: 7, replica: 'A_b-9' });
    expect(ts).toBe('0000000000042.00007.A_b-9');
    expect(parseTimestamp(ts)).toEqual({ wall: 42, counter: 7, replica: 'A_b-9' });
    expect(formatTimestamp({ wall: MAX_WALL, counter: MAX_COUNTER, replica: 'z'.repeat(32) })).toMatch(TIMESTAMP);
  });

  test('malformed timestamps are refused with a message that names them', () => {
    for (const bad of ['', '1732212345678.00000.', '1732212345678.0000.a', '173221234567.00000.a', '1732212345678.00000.a b',
      `1732212345678.00000.${'a'.repeat(33)}`, '1732212345678-00000-a', 1732212345678, null, undefined]) {
      expect(isTimestamp(bad)).toBe(false);
      expect(() => parseTimestamp(bad)).toThrow(invalidRequest);
    }
    expect(() => parseTimestamp('x.y')).toThrow(/not a timestamp of the form WWWWWWWWWWWWW\.CCCCC\.replica: "x\.y"/);
  });

  test('format refuses parts out of range', () => {
    for (const bad of [
      { wall: -1, counter: 0, replica: 'a' },
      { wall: MAX_WALL + 1, counter: 0, replica: 'a' },
      { wall: 1.5, counter: 0, replica: 'a' },
      { wall: 1, counter: MAX_COUNTER + 1, replica: 'a' },
      { wall: 1, counter: -1, replica: 'a' },
      { wall: 1, counter: 0, replica: '' },
      { wall: 1, counter: 0, replica: 'a.b' },
    ]) {
      expect(() => formatTimestamp(bad)).toThrow(invalidRequest);
    }
  });

  prop.prop([arbParts(), arbParts()], { numRuns: runs })(
    'bytewise order of timestamps is the order of (wall, counter, replica)',
    (x, y) => {
      const [a, b] = [formatTimestamp(x), formatTimestamp(y)];
      const byParts = x.wall - y.wall || x.counter - y.counter || (x.replica < y.replica ? -1 : x.replica > y.replica ? 1 : 0);
      expect(Math.sign(a < b ? -1 : a > b ? 1 : 0)).toBe(Math.sign(byParts));
    },
  );
});

describe('a clock', () => {
  test('stamps with the wall clock when it is ahead, and counts while it stands still', () => {
    const wall = manualWall();
    const clock = HybridClock.create('me', wall.read);
    expect(clock.now()).toBe(`${T0}.00000.me`);
    expect(clock.now()).toBe(`${T0}.00001.me`);
    wall.ms += 5;
    expect(clock.now()).toBe(`${T0 + 5}.00000.me`);
  });

  test('a wall clock that jumps back does not take the timestamps with it', () => {
    const wall = manualWall();
    const clock = HybridClock.create('me', wall.read);
    const first = clock.now();
    wall.ms -= 60_000;
    const second = clock.now();
    expect(second).toBe(`${T0}.00001.me`);
    expect(second > first).toBe(true);
  });

  test('a received timestamp from the future: every later one is greater, even with a smaller replica id', () => {
    const wall = manualWall();
    const clock = HybridClock.create('zz', wall.read);
    clock.observe(`${T0 + 1000}.00003.AA`);
    expect(clock.now()).toBe(`${T0 + 1000}.00004.zz`);
    // Same wall and counter from another replica: the counter still moves past it.
    clock.observe(`${T0 + 1000}.00004.AA`);
    expect(clock.now()).toBe(`${T0 + 1000}.00005.zz`);
    // A greater counter on the same wall time.
    clock.observe(`${T0 + 1000}.00070.AA`);
    expect(clock.now()).toBe(`${T0 + 1000}.00071.zz`);
    // An old timestamp changes nothing.
    clock.observe(`${T0 - 1000}.00009.AA`);
    expect(clock.now()).toBe(`${T0 + 1000}.00072.zz`);
  });

  test('the server time and the frontier move it forward too', () => {
    const wall = manualWall();
    const clock = HybridClock.create('me', wall.read);
    clock.observeWall(T0 + 250);
    expect(clock.now()).toBe(`${T0 + 250}.00001.me`);
    clock.observe(`${T0 + 900}.00000.other`); // a frontier is a timestamp
    expect(clock.now()).toBe(`${T0 + 900}.00001.me`);
    wall.ms = T0 + 2000;
    expect(clock.now()).toBe(`${T0 + 2000}.00000.me`);
  });

  test('a full counter moves the wall part on by one millisecond', () => {
    const wall = manualWall();
    const clock = HybridClock.create('me', wall.read);
    clock.observe(`${T0}.99998.other`);
    expect(clock.now()).toBe(`${T0}.99999.me`);
    expect(clock.now()).toBe(`${T0 + 1}.00000.me`);
    expect(clock.now()).toBe(`${T0 + 1}.00001.me`);
  });

  test('bad input throws and changes nothing', () => {
    const wall = manualWall();
    const clock = HybridClock.create('me', wall.read);
    clock.now();
    const before = clock.state;
    for (const bad of ['nope', `${T0 + 5}.00000.`, '']) expect(() => clock.observe(bad)).toThrow(invalidRequest);
    for (const bad of [-1, 1.5, Number.NaN, MAX_WALL + 1, Number.POSITIVE_INFINITY]) {
      expect(() => clock.observeWall(bad)).toThrow(invalidRequest);
    }
    for (const bad of [Number.NaN, -5, 1e16, 12.5]) {
      wall.ms = bad;
      expect(() => clock.now()).toThrow(/the wall clock read/);
    }
    expect(clock.state).toEqual(before);
    expect(() => HybridClock.create('not a replica')).toThrow(invalidRequest);
  });

  test('at the end of the 13-digit range it refuses to stamp rather than wrap', () => {
    const clock = HybridClock.create('me', () => T0);
    clock.observe(`${MAX_WALL}.${MAX_COUNTER - 1}.x`);
    expect(clock.now()).toBe(`${MAX_WALL}.${MAX_COUNTER}.me`);
    const state = clock.state;
    expect(() => clock.now()).toThrow(/no timestamps left/);
    expect(clock.state).toEqual(state);
  });
});

describe('its state', () => {
  test('is plain JSON, and a restored clock continues after everything seen', () => {
    const wall = manualWall();
    const clock = HybridClock.create('me', wall.read);
    clock.now();
    clock.observe(`${T0 + 10}.00020.other`);
    const saved = JSON.stringify(clock.state);
    expect(JSON.parse(saved)).toEqual({ replica: 'me', wall: T0 + 10, counter: 20 });
    wall.ms = T0 - 3_600_000; // the device's clock was set back an hour across the restart
    const restored = HybridClock.restore(JSON.parse(saved), wall.read);
    expect(restored.replica).toBe('me');
    expect(restored.now()).toBe(`${T0 + 10}.00021.me`);
  });

  test('a malformed state is refused', () => {
    for (const bad of [
      null,
      'me',
      [],
      {},
      { replica: 'me', wall: T0 },
      { replica: 'me', wall: '1', counter: 0 },
      { replica: 'me', wall: T0, counter: MAX_COUNTER + 1 },
      { replica: 'me', wall: -1, counter: 0 },
      { replica: 'a b', wall: T0, counter: 0 },
      { replica: 7, wall: T0, counter: 0 },
    ] as unknown[]) {
      expect(() => HybridClock.restore(bad)).toThrow(invalidRequest);
    }
  });

  test('the state handed out is a copy', () => {
    const clock = HybridClock.create('me', () => T0);
    (clock.state as ClockState).wall = MAX_WALL;
    expect(clock.now()).toBe(`${T0}.00000.me`);
  });
});

// ---- the property: monotonic under any interleaving ------------------------------------------

type Step =
  | { kind: 'now' }
  | { kind: 'tick'; ms: number }
  | { kind: 'observe'; from: 'wall' | 'seen'; ahead: number; counter: number; replica: string }
  | { kind: 'observeWall'; ahead: number }
  | { kind: 'restore' }
  | { kind: 'bad'; input: string };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'now' as const }) },
  // The wall clock moves on, stands still or jumps back (NTP, a user changing the time).
  { weight: 3, arbitrary: fc.integer({ min: -120_000, max: 5_000 }).map((ms) => ({ kind: 'tick' as const, ms })) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('observe' as const),
      // Relative to the wall clock, or to the greatest time seen (ties on wall are the tricky ones).
      from: fc.constantFrom('wall' as const, 'seen' as const),
      ahead: fc.oneof(fc.constantFrom(-1, 0, 0, 1), fc.integer({ min: -10_000, max: 10_000 })),
      counter: fc.oneof(fc.constantFrom(0, 1, MAX_COUNTER - 1, MAX_COUNTER), fc.integer({ min: 0, max: MAX_COUNTER })),
      replica: fc.constantFrom('me', 'A', 'zz', 'a-b_c'),
    }),
  },
  { weight: 1, arbitrary: fc.integer({ min: -10_000, max: 10_000 }).map((ahead) => ({ kind: 'observeWall' as const, ahead })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restore' as const }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((input) => ({ kind: 'bad' as const, input })) },
);

prop.prop([fc.array(arbStep, { maxLength: 200 })], { numRuns: runs })(
  'under any interleaving of now, observe, server time, restore and a wandering wall clock, every timestamp is valid, ' +
    'greater than all issued and seen before, never behind the wall clock and never running away from it',
  (steps) => {
    const wall = manualWall();
    let clock = HybridClock.create('me', wall.read);
    let issued: string | null = null;
    // The greatest (wall, counter) issued or seen: a new timestamp must be above it.
    let seen = { wall: 0, counter: 0 };
    const raise = (w: number, c: number) => {
      if (w > seen.wall || (w === seen.wall && c > seen.counter)) seen = { wall: w, counter: c };
    };
    for (const step of steps) {
      switch (step.kind) {
        case 'now': {
          const ts = clock.now();
          expect(ts).toMatch(TIMESTAMP);
          const t = parseTimestamp(ts);
          expect(t.replica).toBe('me');
          expect(t.wall > seen.wall || (t.wall === seen.wall && t.counter > seen.counter)).toBe(true);
          if (issued !== null) expect(ts > issued).toBe(true);
          expect(t.wall).toBeGreaterThanOrEqual(wall.ms);
          expect(t.wall).toBeLessThanOrEqual(Math.max(wall.ms, seen.wall + 1));
          issued = ts;
          raise(t.wall, t.counter);
          break;
        }
        case 'tick':
          wall.ms = Math.max(0, wall.ms + step.ms);
          break;
        case 'observe': {
          const w = Math.max(0, (step.from === 'wall' ? wall.ms : seen.wall) + step.ahead);
          clock.observe(formatTimestamp({ wall: w, counter: step.counter, replica: step.replica }));
          raise(w, step.counter);
          break;
        }
        case 'observeWall': {
          const w = Math.max(0, wall.ms + step.ahead);
          clock.observeWall(w);
          raise(w, 0);
          break;
        }
        case 'restore':
          clock = HybridClock.restore(JSON.parse(JSON.stringify(clock.state)), wall.read);
          break;
        case 'bad': {
          if (isTimestamp(step.input)) break;
          const state = clock.state;
          expect(() => clock.observe(step.input)).toThrow(invalidRequest);
          expect(clock.state).toEqual(state);
          break;
        }
      }
    }
  },
);

function arbParts() {
  return fc.record({
    wall: fc.oneof(fc.constantFrom(0, T0, MAX_WALL), fc.integer({ min: 0, max: MAX_WALL })),
    counter: fc.oneof(fc.constantFrom(0, MAX_COUNTER), fc.integer({ min: 0, max: MAX_COUNTER })),
    replica: fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/),
  });
}
