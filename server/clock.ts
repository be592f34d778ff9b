/** The server's clock, a dependency so tests can set the time (clock-skew checks, `now`). */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
