// Retries through a faulty link: a real HTTP proxy on a real socket in front of the real
// server answers the client's pushes with 429 (Retry-After: 1), 503, a cut connection, and
// finally a push that reaches the server but whose answer is lost. The loop waits at least
// the Retry-After, retries the same batch, and the edit is stored exactly once.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openTree, type TreeClient } from '../../client/index.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from '../server/harness.ts';
import { clientView, stateView } from './tree-view.ts';

const db = useTestDb();
const server = useTestServer(db);
let token: string;
let proxy: http.Server;
let proxyUrl: string;
/** What the proxy does with the next pushes, in order; then it forwards. */
const faults: Array<'429' | '503' | 'cut' | 'lose-answer'> = [];
const pushTimes: Array<{ at: number; fault: string }> = [];
let client: TreeClient | undefined;

async function forward(req: http.IncomingMessage, body: Buffer): Promise<Response> {
  const headers: Record<string, string> = {};
  for (const h of ['authorization', 'content-type', 'accept-encoding']) {
    const v = req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  return fetch(`${server.url}${req.url}`, { method: req.method, headers, ...(req.method === 'POST' ? { body } : {}) });
}

beforeAll(async () => {
  token = await server.token();
  await server.call('PUT', '/v1/trees/t', { token, body: {} });
  proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const fault = req.url?.includes('/push') ? (faults.shift() ?? 'forward') : 'forward';
      if (req.url?.includes('/push')) pushTimes.push({ at: Date.now(), fault });
      if (fault === '429') {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(JSON.stringify({ error: { code: 'rate_limited', message: 'slow down', retryAfter: 1 } }));
        return;
      }
      if (fault === '503') {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'unavailable', message: 'database away' } }));
        return;
      }
      if (fault === 'cut') {
        res.socket?.destroy();
        return;
      }
      const answer = await forward(req, Buffer.concat(chunks));
      const bytes = Buffer.from(await answer.arrayBuffer());
      if (fault === 'lose-answer') {
        res.socket?.destroy();
        return;
      }
      const headers: Record<string, string> = {};
      answer.headers.forEach((v, k) => {
        if (k !== 'content-encoding' && k !== 'content-length' && k !== 'transfer-encoding') headers[k] = v;
      });
      res.writeHead(answer.status, headers);
      res.end(bytes);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await client?.close();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
});

test('429 (Retry-After honoured), 503, a cut connection and a lost answer: the edit lands once', async () => {
  client = await openTree({ url: proxyUrl, tree: 't', token, replica: 'flaky', sync: { backoff: { baseMs: 10, maxMs: 50 } } });
  await client.sync();
  faults.push('429', '503', 'cut', 'lose-answer');
  const id = await client.create('ROOT', { fields: { text: 'once' } });
  await client.sync();
  expect(pushTimes.map((p) => p.fault)).toEqual(['429', '503', 'cut', 'lose-answer', 'forward']);
  // Retry-After: 1 → at least a second before the next try (backoff alone is at most 50 ms).
  expect(pushTimes[1]!.at - pushTimes[0]!.at).toBeGreaterThanOrEqual(1000);
  expect(pushTimes[2]!.at - pushTimes[1]!.at).toBeLessThan(1000);
  const rows = (await db.query(`select ts, type from treesync.ops where tree = 't' and node = $1`, [id])).rows;
  expect(rows.map((r) => r.type).sort()).toEqual(['move', 'set']);
  expect(client.status()).toMatchObject({ pending: 0, lastError: null });
  expect(await clientView(client)).toEqual(stateView((await server.call('GET', '/v1/trees/t/state', { token })).body));
});
