/**
 * Per-caller rate limits: a token bucket per token subject (per client address in
 * development mode, where there are no tokens). A bucket holds up to `burst` requests and
 * refills at `ratePerSecond`; a request finding it empty gets 429 with `Retry-After`.
 *
 * Buckets live in this process's memory: with several server processes each allows the rate,
 * which is the usual trade for not paying a database round trip per request.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { MiddlewareHandler } from 'hono';
import { TreesyncError } from '../protocol/errors.ts';
import type { Clock } from './clock.ts';
import type { AppDeps, AppEnv } from './deps.ts';

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.lastSweep = clock.now();
  }

  /** Takes one token for `key`: 0 when allowed, else the milliseconds until one is available. */
  take(key: string): number {
    const now = this.clock.now();
    this.sweep(now);
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / this.ratePerSecond) * 1000);
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Forgets buckets that have refilled completely (they equal a new one), once a minute, so
   * memory follows the callers of the last minute, not of all time. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    const fullAfterMs = (this.burst / this.ratePerSecond) * 1000;
    for (const [key, b] of this.buckets) if (now - b.at >= fullAfterMs) this.buckets.delete(key);
  }
}

/** Middleware after `requireAccess`; does nothing when the rate is 0 (off). */
export function rateLimit(deps: AppDeps): MiddlewareHandler<AppEnv> {
  const { rateLimitPerSecond, rateLimitBurst } = deps.config;
  if (rateLimitPerSecond === 0) return (_c, next) => next();
  const buckets = new TokenBuckets(rateLimitPerSecond, rateLimitBurst, deps.clock);
  return async (c, next) => {
    const principal = c.get('principal');
    const key = principal.dev ? `ip:${remoteAddress(c)}` : `sub:${principal.sub}`;
    const waitMs = buckets.take(key);
    if (waitMs > 0) {
      deps.metrics.rateLimited.inc();
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      // on-error.ts turns `retryAfter` into the Retry-After header.
      throw new TreesyncError('rate_limited', `too many requests; retry in ${seconds} s`, { retryAfter: seconds });
    }
    await next();
  };
}

function remoteAddress(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // not behind @hono/node-server (in-process app.request())
  }
}
