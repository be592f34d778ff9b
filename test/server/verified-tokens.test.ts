// Tokens verified once are remembered, and never beyond what the verification would grant:
// not past their exp, not under another secret, not when tampered with, never after a failure.
import { sign } from 'hono/jwt';
import { describe, expect, test } from 'vitest';
import { TreesyncError } from '../../protocol/errors.ts';
import { authenticate, type Principal } from '../../server/auth.ts';
import { loadConfig } from '../../server/config.ts';
import { VerifiedTokens } from '../../server/verified-tokens.ts';

const SECRET = 'verified-tokens-secret-0123456789abcdef01';
const config = loadConfig({ TREESYNC_JWT_SECRET: SECRET });
const other = loadConfig({ TREESYNC_JWT_SECRET: 'another-secret-0123456789abcdef0123456789' });
const nowS = () => Math.floor(Date.now() / 1000);

function token(claims: Record<string, unknown> = {}, secret = SECRET): Promise<string> {
  return sign({ sub: 'ann', trees: ['t1'], scope: 'write', exp: nowS() + 3600, ...claims }, secret, 'HS256');
}

/** The code of the refusal `authenticate` answers, or 'ok'. */
async function outcome(cfg: typeof config, t: string, verified: VerifiedTokens): Promise<string> {
  try {
    await authenticate(cfg, t, verified);
    return 'ok';
  } catch (err) {
    if (err instanceof TreesyncError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

const ANN: Principal = { sub: 'ann', trees: ['t1'], scope: 'write', dev: false };

describe('VerifiedTokens', () => {
  test('answers a kept token until its exp, by the verification rule (expired when exp <= now in seconds)', () => {
    const cache = new VerifiedTokens();
    cache.set(SECRET, 'tok', ANN, 1_000);
    expect(cache.get(SECRET, 'tok', 999_999)).toEqual(ANN);
    expect(cache.get(SECRET, 'tok', 1_000_000)).toBeUndefined();
    // Dropped, not merely hidden.
    expect(cache.size).toBe(0);
    expect(cache.get(SECRET, 'tok', 0)).toBeUndefined();
  });

  test('a token without exp stays; another secret or another text gets nothing', () => {
    const cache = new VerifiedTokens();
    cache.set(SECRET, 'tok', ANN, undefined);
    expect(cache.get(SECRET, 'tok', Number.MAX_SAFE_INTEGER)).toEqual(ANN);
    expect(cache.get('other', 'tok', 0)).toBeUndefined();
    expect(cache.get(SECRET, 'tok ', 0)).toBeUndefined();
    expect(cache.get(SECRET, 'to', 0)).toBeUndefined();
  });

  test('holds at most max tokens, the least recently used going first', () => {
    const cache = new VerifiedTokens(2);
    cache.set(SECRET, 'a', ANN, undefined);
    cache.set(SECRET, 'b', ANN, undefined);
    cache.get(SECRET, 'a', 0); // a is now more recent than b
    cache.set(SECRET, 'c', ANN, undefined);
    expect(cache.size).toBe(2);
    expect(cache.get(SECRET, 'b', 0)).toBeUndefined();
    expect(cache.get(SECRET, 'a', 0)).toEqual(ANN);
    expect(cache.get(SECRET, 'c', 0)).toEqual(ANN);
    // A huge token is not kept at all.
    cache.set(SECRET, 'x'.repeat(10_000), ANN, undefined);
    expect(cache.get(SECRET, 'x'.repeat(10_000), 0)).toBeUndefined();
  });
});

describe('authenticate with verified tokens', () => {
  test('a valid token is kept after its first check and proves the same principal', async () => {
    const cache = new VerifiedTokens();
    const t = await token();
    expect(await authenticate(config, t, cache)).toEqual(ANN);
    expect(cache.get(SECRET, t, Date.now())).toEqual(ANN);
    expect(await authenticate(config, t, cache)).toEqual(ANN);
  });

  test('failures are never kept: bad signature, expired, bad claims, not yet valid, tampered', async () => {
    const cache = new VerifiedTokens();
    const good = await token();
    await authenticate(config, good, cache);
    const [head, body] = good.split('.');
    const forged = `${head}.${Buffer.from(JSON.stringify({ sub: 'ann', trees: ['*'], scope: 'write' })).toString('base64url')}.${good.split('.')[2]}`;
    const refused = [
      await token({}, 'another-secret-0123456789abcdef0123456789'),
      await token({ exp: nowS() - 1 }),
      await token({ scope: 'admin' }),
      await token({ nbf: nowS() + 3600 }),
      `${head}.${body}.${good.split('.')[2]!.slice(0, -2)}AA`,
      forged,
    ];
    for (const t of refused) {
      for (let attempt = 0; attempt < 2; attempt++) expect(await outcome(config, t, cache)).toMatch(/^unauthorized: /);
    }
    expect(cache.size).toBe(1);
  });

  test('a kept token does not pass under another secret', async () => {
    const cache = new VerifiedTokens();
    const t = await token();
    expect(await outcome(config, t, cache)).toBe('ok');
    expect(await outcome(other, t, cache)).toBe('unauthorized: the token is not valid');
    expect(await outcome(config, t, cache)).toBe('ok');
  });

  test('a kept token is refused as expired once its exp is reached', async () => {
    const cache = new VerifiedTokens();
    const exp = nowS() + 1;
    const t = await token({ exp });
    expect(await outcome(config, t, cache)).toBe('ok');
    expect(cache.size).toBe(1);
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 5));
    expect(await outcome(config, t, cache)).toBe('unauthorized: the token has expired');
    expect(cache.size).toBe(0);
  });
});
