/**
 * Who may do what: `Authorization: Bearer <JWT>` (HS256, `TREESYNC_JWT_SECRET`), claims
 * `sub`, `trees` (ids or ["*"]) and `scope` (`write` includes `read`); `exp` honoured when
 * present. 401 without a valid token, 403 for a tree or scope it does not grant. A token is
 * verified once and then remembered until its `exp` (verified-tokens.ts).
 *
 * Development mode (no secret): everyone may do everything; the server listens on loopback
 * only (config.ts) and says so at start.
 */
import type { MiddlewareHandler } from 'hono';
import { verify } from 'hono/jwt';
import { TreesyncError } from '../protocol/errors.ts';
import { TREE_ID } from '../protocol/ops.ts';
import { tokenClaimsSchema, type Scope } from '../protocol/token.ts';
import type { Config } from './config.ts';
import type { AppDeps, AppEnv } from './deps.ts';
import { VerifiedTokens } from './verified-tokens.ts';

export interface Principal {
  sub: string;
  trees: readonly string[];
  scope: Scope;
  /** Development mode: no token was asked for. */
  dev: boolean;
}

const DEV_PRINCIPAL: Principal = { sub: 'dev', trees: ['*'], scope: 'write', dev: true };

/** The principal a token proves, or 401. With `verified`, a token verified before is taken from
 * it until its `exp` (verified-tokens.ts), and one verified now is kept there. */
export async function authenticate(config: Config, token: string | undefined, verified?: VerifiedTokens): Promise<Principal> {
  const secret = config.jwtSecret;
  if (secret === undefined) return DEV_PRINCIPAL;
  if (!token) throw new TreesyncError('unauthorized', 'a token is required: Authorization: Bearer <JWT>');
  const known = verified?.get(secret, token, Date.now());
  if (known !== undefined) return known;
  let payload: unknown;
  try {
    payload = await verify(token, secret, 'HS256');
  } catch (err) {
    // hono's JWT errors are told apart by name.
    const expired = err instanceof Error && err.name === 'JwtTokenExpired';
    throw new TreesyncError('unauthorized', expired ? 'the token has expired' : 'the token is not valid');
  }
  const claims = tokenClaimsSchema.safeParse(payload);
  if (!claims.success) {
    throw new TreesyncError('unauthorized', 'the token lacks the claims sub, trees and scope ("read" or "write")');
  }
  // Frozen: the same principal answers every later request with this token.
  const { sub, trees, scope } = claims.data;
  const principal: Principal = Object.freeze({ sub, trees: Object.freeze(trees), scope, dev: false });
  verified?.set(secret, token, principal, claims.data.exp);
  return principal;
}

/** 403 unless `principal` may do `need` on `tree`. */
export function authorize(principal: Principal, tree: string, need: Scope): void {
  if (!principal.trees.includes('*') && !principal.trees.includes(tree)) {
    throw new TreesyncError('forbidden', `the token does not grant tree ${tree}`);
  }
  if (need === 'write' && principal.scope !== 'write') {
    throw new TreesyncError('forbidden', 'the token has read scope; this needs write');
  }
}

/**
 * Middleware for everything under `/v1`: who is calling (401 without a valid token). The token
 * comes from `Authorization: Bearer …`, or, for a WebSocket upgrade only, from `?token=`
 * (browsers cannot set headers on a WebSocket; elsewhere a token in a URL would end up in
 * proxies' logs for nothing).
 */
export function authenticateRequest(deps: AppDeps): MiddlewareHandler<AppEnv> {
  const verified = new VerifiedTokens();
  return async (c, next) => {
    const header = c.req.header('authorization');
    const bearer = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (header !== undefined && bearer === undefined && deps.config.jwtSecret !== undefined) {
      throw new TreesyncError('unauthorized', 'the Authorization header must be "Bearer <JWT>"');
    }
    const upgrade = c.req.header('upgrade')?.toLowerCase() === 'websocket';
    const token = bearer ?? (upgrade ? c.req.query('token') : undefined);
    c.set('principal', await authenticate(deps.config, token, verified));
    await next();
  };
}

/**
 * Middleware for a route under `/v1/trees/:tree`: 403 unless the caller may do `need` on the
 * tree named in the path, then 400 unless that name is a tree id. (In that order: a caller
 * learns nothing about trees it may not see.)
 */
export function allow(need: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const tree = c.req.param('tree') ?? '';
    authorize(c.get('principal'), tree, need);
    if (!TREE_ID.test(tree)) {
      throw new TreesyncError('invalid_tree_id', `tree id ${JSON.stringify(tree)} is not [A-Za-z0-9_-]{1,64}`);
    }
    await next();
  };
}
