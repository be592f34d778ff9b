/**
 * Exponential backoff with full jitter: the n-th consecutive failure waits a random time in
 * [0, min(max, base·2ⁿ)], so many clients failing at once (a server restart) do not come back
 * in step. A server's `Retry-After` is a floor on the wait.
 */
export interface BackoffOptions {
  /** The first ceiling, ms (default 250). */
  baseMs?: number;
  /** The largest ceiling, ms (default 30 s). */
  maxMs?: number;
}

export class Backoff {
  private failures = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.baseMs = options.baseMs ?? 250;
    this.maxMs = options.maxMs ?? 30_000;
  }

  /** The wait before the next try after one more failure; `retryAfterSeconds` from the server. */
  next(retryAfterSeconds?: number): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const jittered = Math.floor(this.random() * ceiling);
    return retryAfterSeconds === undefined ? jittered : Math.max(jittered, Math.ceil(retryAfterSeconds * 1000));
  }

  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
