/**
 * Tokens already verified, by their exact text: a token whose signature and claims were checked
 * once stays valid until its `exp` (or for good without one), so checking it again on every
 * request (an HMAC through webcrypto, ~0.8 ms of CPU) proves nothing new.
 *
 * Contract:
 * - only successes are kept: a token that failed is verified again every time it comes;
 * - an entry answers only for the secret it was verified with (a new secret verifies again);
 * - an entry is dropped once `exp` is reached, with the same rule as the verification (the
 *   token is expired when `exp <= now` in whole seconds), so the verification then refuses it
 *   with its own message;
 * - at most `max` entries: the least recently used goes first. Only tokens signed with the
 *   secret get in, so nobody without it can fill the cache.
 *
 * No token is ever revoked other than by its `exp`, so a cached token grants exactly what the
 * verification would.
 */
import type { Principal } from './auth.ts';

interface Entry {
  principal: Principal;
  secret: string;
  /** Seconds since the epoch; undefined: never expires. */
  exp: number | undefined;
}

/** Tokens longer than this are verified every time: the cache's memory stays bounded. */
const MAX_TOKEN_LENGTH = 4096;

export class VerifiedTokens {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly max = 1024) {
    if (!Number.isSafeInteger(max) || max < 1) throw new Error(`max ${max} is not a positive integer`);
  }

  /** The principal `token` proved with `secret`, if it did and has not expired by `nowMs`. */
  get(secret: string, token: string, nowMs: number): Principal | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (entry.exp !== undefined && entry.exp <= Math.floor(nowMs / 1000)) {
      this.entries.delete(token);
      return undefined;
    }
    if (entry.secret !== secret) return undefined;
    // Most recently used goes last: the first in the map is evicted first.
    this.entries.delete(token);
    this.entries.set(token, entry);
    return entry.principal;
  }

  /** Keeps `principal` as what `token` proves with `secret`, until `exp` (seconds). Call only
   * after the token was verified. */
  set(secret: string, token: string, principal: Principal, exp: number | undefined): void {
    if (token.length > MAX_TOKEN_LENGTH) return;
    this.entries.delete(token);
    this.entries.set(token, { principal, secret, exp });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}
