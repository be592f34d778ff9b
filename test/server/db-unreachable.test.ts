// A database that does not answer at all (a host that accepts TCP connections and then says
// nothing, as a stalled network or a hung host does): every request that needs it answers
// `503 unavailable` once the connect timeout has passed, never hangs and never 500s; /readyz
// says 503 and /healthz stays 200. A real server on a real port; the "database" is a TCP
// listener that swallows everything.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { move, ts } from '../merge/ops.ts';
import { startTestServer, type TestServer } from './harness.ts';

const CONNECT_TIMEOUT_MS = 300;

let silent: net.Server;
const sockets = new Set<net.Socket>();
let server: TestServer;

beforeAll(async () => {
  silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as net.AddressInfo;
  server = await startTestServer(`postgres://nobody:secret@127.0.0.1:${port}/treesync`, {
    env: { TREESYNC_JWT_SECRET: undefined, TREESYNC_DB_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) },
  });
});

afterAll(async () => {
  await server?.close();
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silent?.close(resolve));
});

const op = move(ts(0, 'nobody'), 'n1', 'ROOT', 'a');

describe('a database that never answers', () => {
  test.each([
    ['PUT', '/v1/trees/t1', undefined],
    ['GET', '/v1/trees/t1', undefined],
    ['POST', '/v1/trees/t1/push', { replica: 'nobody', seen: 0, floor: op.ts, ops: [op] }],
    ['GET', '/v1/trees/t1/pull?since=0', undefined],
    ['GET', '/v1/trees/t1/state', undefined],
    ['GET', '/v1/trees/t1/snapshot', undefined],
    ['GET', '/readyz', undefined],
  ])('%s %s answers 503 unavailable after the connect timeout, not a hang', async (method, path, body) => {
    const started = performance.now();
    const res = await server.call(method, path, body === undefined ? {} : { body });
    const ms = performance.now() - started;
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    expect(res.body.error.code).toBe('unavailable');
    // It waited for the timeout (the connection was not refused: this is the timeout's doing) …
    expect(ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50);
    // … and not much longer (generous: the machine is shared).
    expect(ms).toBeLessThan(CONNECT_TIMEOUT_MS + 10_000);
  });

  test('/healthz stays 200: the process is alive', async () => {
    expect((await server.call('GET', '/healthz')).status).toBe(200);
  });
});
