// `npm run token`: prints a token the server accepts, with the claims asked for.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { verify } from 'hono/jwt';
import { expect, test } from 'vitest';

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'cli-secret-0123456789abcdef0123456789';

async function token(args: string[], env: Record<string, string> = { TREESYNC_JWT_SECRET: SECRET }) {
  const childEnv = { ...process.env, ...env };
  if (!env.TREESYNC_JWT_SECRET) delete childEnv.TREESYNC_JWT_SECRET;
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'server/token-cli.ts', ...args], {
      cwd: PROJECT,
      env: childEnv,
    });
    return { code: 0, stdout: stdout.trim(), stderr: '' };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('a write token for two trees, valid for an hour', async () => {
  const { code, stdout } = await token(['--tree', 't1', '--tree', 't2', '--scope', 'write', '--sub', 'ci', '--ttl', '1h']);
  expect(code).toBe(0);
  const claims = await verify(stdout, SECRET, 'HS256');
  expect(claims).toMatchObject({ sub: 'ci', trees: ['t1', 't2'], scope: 'write' });
  expect(Number(claims.exp) - Date.now() / 1000).toBeGreaterThan(3500);
});

test('read scope by default; --ttl 0 never expires', async () => {
  const { stdout } = await token(['--tree', '*', '--ttl', '0']);
  const claims = await verify(stdout, SECRET, 'HS256');
  expect(claims).toEqual({ sub: 'cli', trees: ['*'], scope: 'read' });
});

test.each([
  [['--scope', 'write'], '--trees'],
  [['--tree', 't1', '--scope', 'admin'], '--scope'],
  [['--tree', 'bad.id'], '--trees'],
  [['--tree', 't1', '--ttl', 'soon'], '--ttl soon'],
])('%o is refused', async (args, message) => {
  const { code, stderr } = await token(args);
  expect(code).toBe(2);
  expect(stderr).toContain(message);
});

test('without a secret it says there is no need for a token', async () => {
  const { code, stderr } = await token(['--tree', 't1'], {});
  expect(code).toBe(2);
  expect(stderr).toContain('development mode');
});
