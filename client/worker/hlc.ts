/**
 * The hybrid logical clock that stamps a replica's operations.
 *
 * A timestamp is `WWWWWWWWWWWWW.CCCCC.replica`: wall-clock milliseconds (13 digits, zero-padded),
 * a counter (5 digits, zero-padded) and the replica id (`[A-Za-z0-9_-]{1,32}`). The two numbers
 * have fixed widths, so comparing two timestamps byte by byte compares (wall, counter) first and
 * the replica id last: plain `<` on the strings is the clock's order.
 *
 * Contract of `HybridClock`:
 * - `now()` returns a timestamp strictly greater than every timestamp this clock issued, every
 *   timestamp it was told about (`observe`: operations received, the tree's frontier) and every
 *   server time it was told about (`observeWall`), whatever the wall clock does (it may stand
 *   still or jump back: the counter then counts on from the greatest time seen).
 * - When the counter would pass 99999, the wall part advances by one millisecond instead.
 * - `state` is plain JSON; `HybridClock.restore(state)` continues after everything issued or
 *   observed before that state was taken. The worker saves the state in the same SQLite
 *   transaction as the operations it stamped, so a restart never issues a timestamp twice.
 * - Bad input (a malformed timestamp, replica id, state or server time) throws a
 *   `TreesyncError` with code `invalid_request` and changes nothing.
 *
 * Browser code: no Node APIs. The wall clock is injected (default `Date.now`) so tests can run
 * it backwards.
 */
import { TreesyncError } from '../../protocol/errors.ts';
import { REPLICA_ID, TIMESTAMP } from '../../protocol/ops.ts';

/** The greatest wall part that fits in 13 digits (the year 2286). */
export const MAX_WALL = 9_999_999_999_999;
/** The greatest counter that fits in 5 digits. */
export const MAX_COUNTER = 99_999;

/** A timestamp taken apart. */
export interface Timestamp {
  wall: number;
  counter: number;
  replica: string;
}

/**
 * What the worker persists: the replica and the greatest (wall, counter) the clock has issued
 * or observed. A fresh clock has wall 0, counter 0.
 */
export interface ClockState {
  replica: string;
  wall: number;
  counter: number;
}

/** Reads the wall clock in milliseconds since the epoch. */
export type WallClock = () => number;

/** Whether `value` is a well-formed timestamp. */
export function isTimestamp(value: unknown): value is string {
  return typeof value === 'string' && TIMESTAMP.test(value);
}

/** Takes a timestamp apart; throws `invalid_request` when it is malformed. */
export function parseTimestamp(ts: unknown): Timestamp {
  if (!isTimestamp(ts)) {
    throw new TreesyncError('invalid_request', `not a timestamp of the form WWWWWWWWWWWWW.CCCCC.replica: ${show(ts)}`);
  }
  return { wall: Number(ts.slice(0, 13)), counter: Number(ts.slice(14, 19)), replica: ts.slice(20) };
}

/** Writes a timestamp; throws `invalid_request` when a part is out of range. */
export function formatTimestamp(t: Timestamp): string {
  checkTime(t.wall, t.counter);
  checkReplica(t.replica);
  return `${String(t.wall).padStart(13, '0')}.${String(t.counter).padStart(5, '0')}.${t.replica}`;
}

export class HybridClock {
  #replica: string;
  #wall: number;
  #counter: number;
  readonly #readWall: WallClock;

  private constructor(state: ClockState, readWall: WallClock) {
    this.#replica = state.replica;
    this.#wall = state.wall;
    this.#counter = state.counter;
    this.#readWall = readWall;
  }

  /** A new clock for `replica` that has seen nothing yet. */
  static create(replica: string, readWall: WallClock = Date.now): HybridClock {
    checkReplica(replica);
    return new HybridClock({ replica, wall: 0, counter: 0 }, readWall);
  }

  /** A clock that continues from a saved `state` (validated: it may come from storage). */
  static restore(state: unknown, readWall: WallClock = Date.now): HybridClock {
    const s = (state ?? {}) as Partial<ClockState>;
    if (typeof state !== 'object' || state === null || typeof s.replica !== 'string') {
      throw new TreesyncError('invalid_request', `not a clock state {replica, wall, counter}: ${show(state)}`);
    }
    checkReplica(s.replica);
    checkTime(s.wall, s.counter);
    return new HybridClock({ replica: s.replica, wall: s.wall as number, counter: s.counter as number }, readWall);
  }

  get replica(): string {
    return this.#replica;
  }

  /** The state to persist: a fresh object, plain JSON. */
  get state(): ClockState {
    return { replica: this.#replica, wall: this.#wall, counter: this.#counter };
  }

  /**
   * The next timestamp: the wall clock when it is ahead of everything seen, else the greatest
   * time seen with the counter advanced (and the wall part advanced when the counter is full).
   * Throws when the wall clock reads nonsense or the 13-digit range is used up.
   */
  now(): string {
    const physical = this.#readWall();
    if (!Number.isSafeInteger(physical) || physical < 0 || physical > MAX_WALL) {
      throw new TreesyncError('invalid_request', `the wall clock read ${show(physical)}, not milliseconds in 0..${MAX_WALL}`);
    }
    let wall: number;
    let counter: number;
    if (physical > this.#wall) {
      wall = physical;
      counter = 0;
    } else if (this.#counter < MAX_COUNTER) {
      wall = this.#wall;
      counter = this.#counter + 1;
    } else {
      wall = this.#wall + 1;
      counter = 0;
    }
    if (wall > MAX_WALL) throw new TreesyncError('invalid_request', 'the clock has no timestamps left (wall part past 13 digits)');
    this.#wall = wall;
    this.#counter = counter;
    return formatTimestamp({ wall, counter, replica: this.#replica });
  }

  /**
   * Moves the clock past a timestamp: one received in an operation, or the tree's frontier.
   * Every later `now()` is greater than `ts`, whatever its replica.
   */
  observe(ts: string): void {
    const t = parseTimestamp(ts);
    this.#advanceTo(t.wall, t.counter);
  }

  /**
   * Moves the clock past a server time in ms (a push answer's `now`): every later `now()` is
   * greater than `WWWWWWWWWWWWW.00000.*` for that time.
   */
  observeWall(ms: number): void {
    checkTime(ms, 0);
    this.#advanceTo(ms, 0);
  }

  #advanceTo(wall: number, counter: number): void {
    if (wall > this.#wall || (wall === this.#wall && counter > this.#counter)) {
      this.#wall = wall;
      this.#counter = counter;
    }
  }
}

function checkReplica(replica: unknown): asserts replica is string {
  if (typeof replica !== 'string' || !REPLICA_ID.test(replica)) {
    throw new TreesyncError('invalid_request', `a replica id is [A-Za-z0-9_-]{1,32}, got ${show(replica)}`);
  }
}

function checkTime(wall: unknown, counter: unknown): void {
  if (typeof wall !== 'number' || !Number.isSafeInteger(wall) || wall < 0 || wall > MAX_WALL) {
    throw new TreesyncError('invalid_request', `a wall time is an integer in 0..${MAX_WALL} ms, got ${show(wall)}`);
  }
  if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 0 || counter > MAX_COUNTER) {
    throw new TreesyncError('invalid_request', `a counter is an integer in 0..${MAX_COUNTER}, got ${show(counter)}`);
  }
}

/** A value for an error message, cut short. */
function show(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
