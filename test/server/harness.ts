/**
 * A real treesync server for a test file: on a real port (0: any free one), on the file's own
 * Postgres database (`useTestDb`), with tokens signed by a test secret, and small helpers to
 * call it over HTTP and WebSocket the way a client would.
 *
 *   const db = useTestDb();
 *   const server = useTestServer(db);           // started in beforeAll, stopped in afterAll
 *   test('...', async () => {
 *     const res = await server.call('PUT', '/v1/trees/t1', { token: await server.token() });
 *   });
 */
import { sign } from 'hono/jwt';
import http from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../server/config.ts';
import { createLogger, type Logger } from '../../server/logger.ts';
import { type RunningServer, startServer } from '../../server/start-server.ts';
import type { Clock } from '../../server/clock.ts';
import type { TestDb } from '../pg/db.ts';

export const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export interface TokenOptions {
  sub?: string;
  trees?: string[];
  scope?: 'read' | 'write';
  /** Seconds from now until expiry (negative: expired already). Default one hour. */
  expiresIn?: number;
  secret?: string;
}

/** A signed token; by default for every tree, with write scope, valid for an hour. */
export function makeToken(opts: TokenOptions = {}): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + (opts.expiresIn ?? 3600);
  return sign(
    { sub: opts.sub ?? 'tester', trees: opts.trees ?? ['*'], scope: opts.scope ?? 'write', exp },
    opts.secret ?? SECRET,
    'HS256',
  );
}

export interface CallOptions {
  token?: string;
  /** A JSON value (serialised) or a raw string body. */
  body?: unknown;
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON when the answer is JSON, else the text. Untyped on purpose: tests assert on
   * it with `expect`, or parse it with the protocol's schemas where the type matters. */
  body: any;
}

export interface TestServer {
  url: string;
  running: RunningServer;
  /** Log lines the server wrote (parsed JSON), when started with `captureLogs`. */
  logs: Array<Record<string, unknown>>;
  token(opts?: TokenOptions): Promise<string>;
  call(method: string, path: string, opts?: CallOptions): Promise<Answer>;
  /** Opens the events WebSocket of `tree`; resolves once open, with the messages it gets. */
  events(tree: string, token?: string): Promise<EventsClient>;
  close(): Promise<void>;
}

export interface EventsClient {
  ws: WebSocket;
  messages: unknown[];
  /** Resolves with the first message (from now or already received) matching `pred`. */
  next(pred?: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Environment for loadConfig on top of the test defaults (secret, port 0, no rate limit, no truncation or purge). */
  env?: Record<string, string | undefined>;
  clock?: Clock;
  captureLogs?: boolean;
}

export async function startTestServer(databaseUrl: string, opts: TestServerOptions = {}): Promise<TestServer> {
  const config = loadConfig({
    TREESYNC_JWT_SECRET: SECRET,
    PORT: '0',
    TREESYNC_RATE_LIMIT: '0',
    TREESYNC_LOG_LEVEL: opts.captureLogs ? 'debug' : 'silent',
    // No upkeep in the middle of a test that did not ask for it (lifecycle-job.pg.test.ts does).
    TREESYNC_TRUNCATE_INTERVAL_MS: '0',
    TREESYNC_PURGE_INTERVAL_MS: '0',
    ...opts.env,
  });
  const logs: Array<Record<string, unknown>> = [];
  const logger: Logger = createLogger(config.logLevel, (line) => logs.push(JSON.parse(line) as Record<string, unknown>));
  const running = await startServer({ config, databaseUrl, logger, ...(opts.clock ? { clock: opts.clock } : {}) });
  const url = running.url;
  return {
    url,
    running,
    logs,
    token: (t) => makeToken(t),
    call: (method, path, o = {}) => call(url, method, path, o),
    events: (tree, token) => openEvents(url, tree, token),
    close: () => running.close(),
  };
}

/** One server for the whole test file, on `db`. */
export function useTestServer(db: TestDb, opts: TestServerOptions = {}): TestServer {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startTestServer(db.url, opts);
  });
  afterAll(async () => {
    await server?.close();
  });
  return new Proxy({} as TestServer, {
    get(_, key) {
      if (!server && (key === 'then' || typeof key === 'symbol')) return undefined;
      if (!server) throw new Error('useTestServer(): the server exists only once beforeAll has run');
      return server[key as keyof TestServer];
    },
  });
}

export async function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: RequestInit['body'];
  if (opts.raw !== undefined) body = opts.raw as RequestInit['body'];
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  const isJson = res.headers.get('content-type')?.includes('application/json');
  return { status: res.status, headers: res.headers, body: isJson && text ? JSON.parse(text) : text };
}

/**
 * POSTs a body of `bytes` spaces in chunks, without a Content-Length, with node:http: it reads
 * an answer that comes while the body is still being sent (fetch gives up on such an answer).
 */
export function callChunked(base: string, path: string, bytes: number, token?: string): Promise<Answer> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: 'POST',
        headers: { 'transfer-encoding': 'chunked', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          const json = res.headers['content-type']?.includes('application/json');
          resolve({ status: res.statusCode ?? 0, headers, body: json && text ? JSON.parse(text) : text });
        });
        res.on('error', reject);
      },
    );
    // The server may close the connection once it has answered: not a failure of the call.
    req.on('error', () => {});
    let left = bytes;
    const write = () => {
      while (left > 0) {
        const n = Math.min(left, 64 * 1024);
        left -= n;
        if (!req.write(Buffer.alloc(n, 0x20))) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

export function openEvents(base: string, tree: string, token?: string): Promise<EventsClient> {
  const url = `${base.replace(/^http/, 'ws')}/v1/trees/${tree}/events${token ? `?token=${token}` : ''}`;
  const ws = new WebSocket(url);
  const messages: unknown[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)));
    for (const w of waiters) w();
  });
  const client: EventsClient = {
    ws,
    messages,
    next: (pred = () => true, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(pred);
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: () =>
      new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close();
      }),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => reject(new UpgradeRefused(res.statusCode ?? 0)));
    ws.once('error', reject);
  });
}

/** The server answered the WebSocket handshake with an HTTP status instead of upgrading. */
export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`WebSocket upgrade refused with HTTP ${status}`);
  }
}
