/**
 * `npm run token -- --tree t1 [--tree t2 | --tree '*'] [--scope read|write] [--sub name]
 * [--ttl 24h]`: prints a JWT for the configured TREESYNC_JWT_SECRET. Scope defaults to read,
 * the ttl to 24 hours (`s`, `m`, `h`, `d` suffixes; `--ttl 0` for a token that never expires).
 */
import { sign } from 'hono/jwt';
import { parseArgs } from 'node:util';
import { tokenClaimsSchema } from '../protocol/token.ts';
import { ConfigError, loadConfig } from './config.ts';

const USAGE = "usage: npm run token -- --tree <id> [--tree <id> | --tree '*'] [--scope read|write] [--sub <name>] [--ttl 24h]";

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      tree: { type: 'string', multiple: true },
      scope: { type: 'string', default: 'read' },
      sub: { type: 'string', default: 'cli' },
      ttl: { type: 'string', default: '24h' },
    },
  }).values;
} catch (err) {
  fail(`${(err as Error).message}\n${USAGE}`);
}

let secret: string | undefined;
try {
  secret = loadConfig().jwtSecret;
} catch (err) {
  fail(err instanceof ConfigError ? err.message : String(err));
}
if (secret === undefined) {
  fail('TREESYNC_JWT_SECRET is not set: the server runs in development mode and needs no token.');
}

const ttl = /^(\d+)([smhd]?)$/.exec(args.ttl);
if (!ttl) fail(`--ttl ${args.ttl}: expected a number with an optional s, m, h or d\n${USAGE}`);
const seconds = Number(ttl[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[ttl[2] as '' | 's' | 'm' | 'h' | 'd'];
const claims = tokenClaimsSchema.safeParse({
  sub: args.sub,
  trees: args.tree ?? [],
  scope: args.scope,
  ...(seconds > 0 ? { exp: Math.floor(Date.now() / 1000) + seconds } : {}),
});
if (!claims.success) {
  fail(`${claims.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('\n')}\n${USAGE}`);
}
process.stdout.write(`${await sign(claims.data, secret, 'HS256')}\n`);
