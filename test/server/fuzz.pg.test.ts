// Fuzzing a real server: random mutations of valid requests (push, pull and create bodies,
// query strings, paths; JSON values and raw bytes) sent over real sockets. Whatever arrives,
// no answer is a 5xx, and a refused request leaves the tree exactly as it was (its state and
// seq, read through the API).
//
// Requests go through node:http with the exact bytes generated: fetch would normalise paths
// (`..`, percent-encoding) and re-encode bodies, hiding what a hostile client can send.
import fc from 'fast-check';
import http from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { formatTs, type Op } from '../../protocol/ops.ts';
import { fcRuns } from '../model/fc-runs.ts';
import { useTestDb } from '../pg/db.ts';
import { makeToken, useTestServer } from './harness.ts';

const db = useTestDb();
const NOW = 1_732_212_345_000 + 3_600_000;
const server = useTestServer(db, { clock: { now: () => NOW } });
const TREE = 'fuzz';
const RUNS = fcRuns(300);

let token: string;
let counter = 0;
/** Answers seen, by status, and how many requests were refused / accepted. */
const statuses = new Map<number, number>();

interface Sent {
  status: number;
  text: string;
}

function send(method: string, path: string, body?: Uint8Array): Promise<Sent> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The tree as the API shows it: state (nodes, values, seq) and the tree's info. */
async function observed(): Promise<string> {
  const [state, info] = await Promise.all([send('GET', `/v1/trees/${TREE}/state`), send('GET', `/v1/trees/${TREE}`)]);
  expect(state.status).toBe(200);
  return `${state.text}\n${info.text}`;
}

// ---- valid requests -------------------------------------------------------------------------

const nodeId = fc.constantFrom('a', 'b', 'c', 'd', 'ROOT', 'TRASH');
const replica = fc.constantFrom('r1', 'r2');

/** A valid push body; its ts are fresh (a global counter), so it may well be accepted. */
const validPush = fc
  .record({
    replica,
    ops: fc.array(
      fc.oneof(
        fc.record({ type: fc.constant('move' as const), node: fc.constantFrom('a', 'b', 'c', 'd'), parent: nodeId, pos: fc.string({ maxLength: 4 }) }),
        fc.record({ type: fc.constant('set' as const), node: nodeId, key: fc.constantFrom('text', 'done'), value: fc.jsonValue({ maxDepth: 3 }) }),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map(({ replica, ops }) => {
    const stamped = ops.map((op) => ({ ts: formatTs(NOW - 1000, ++counter, replica), ...op })) as Op[];
    return { replica, seen: 0, floor: stamped[0]!.ts, ops: stamped } as Record<string, unknown>;
  });

const validQuery = fc
  .record({ since: fc.nat(20), limit: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }), replica })
  .map(({ since, limit, replica }) => ({
    since: String(since),
    ...(limit ? { limit: String(limit) } : {}),
    replica,
    floor: formatTs(NOW, 0, replica),
  }));

// ---- mutations ------------------------------------------------------------------------------

/** Strings a hostile client would try: NUL, lone surrogates, any UTF-16 unit, long ones. */
const hostileString = fc.oneof(
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', '\udc00x', 'x\udbff', '\udc00\ud800', '😀', '', ' ', '..', '%00', 'ROOT', 'TRASH'),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)), maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.nat(300).map((n) => 'x'.repeat(n)),
);

const nested = fc.integer({ min: 60, max: 3000 }).map((depth) => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
});

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, true, 0, -1, 1.5, 1e308, -0, Number.MAX_SAFE_INTEGER + 2, [], {}),
  fc.dictionary(hostileString, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
  nested,
);

type Mutation = (doc: unknown) => unknown;

/** Every container path of a JSON document (the root is []). */
function paths(doc: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (typeof doc === 'object' && doc !== null && prefix.length < 6) {
    for (const [k, v] of Object.entries(doc)) paths(v, [...prefix, Array.isArray(doc) ? Number(k) : k], out);
  }
  return out;
}

/** `doc` with `change` applied to the member at `path`: copies along the path only (the
 * values may nest thousands deep; a deep clone would overflow the stack). */
function at(doc: unknown, path: (string | number)[], change: (parent: any, key: string | number) => void): unknown {
  if (path.length === 0) return doc;
  const copy: any = Array.isArray(doc) ? [...doc] : { ...(doc as object) };
  const [k, ...rest] = path;
  if (rest.length === 0) change(copy, k!);
  else copy[k!] = at(copy[k!], rest, change);
  return copy;
}

/** A mutation of the document: replace, delete, or add a member somewhere. */
const valueMutation: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), fc.nat(2), hostileValue, hostileString).map(
  ([pick, kind, value, key]) =>
    (doc) => {
      const all = paths(doc);
      const path = all[pick % all.length]!;
      if (path.length === 0) return kind === 0 ? value : doc;
      return at(doc, path, (parent, k) => {
        if (kind === 0) parent[k] = value;
        else if (kind === 1) Array.isArray(parent) ? parent.splice(Number(k), 1) : delete parent[k];
        else if (typeof parent[k] === 'object' && parent[k] !== null && !Array.isArray(parent[k])) parent[k][key] = value;
        else parent[k] = value;
      });
    },
);

/** A mutation of the bytes: truncate, insert or overwrite bytes (often not UTF-8), or put a
 * raw `\u0000` / lone-surrogate escape into the JSON text. */
type ByteMutation = (bytes: Uint8Array) => Uint8Array;
const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.nat().map((n): ByteMutation => (b) => b.slice(0, n % (b.length + 1))),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([n, ins]): ByteMutation => (b) => {
    const i = n % (b.length + 1);
    return new Uint8Array([...b.slice(0, i), ...ins, ...b.slice(i)]);
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 0x80, max: 0xff })).map(([n, byte]): ByteMutation => (b) => {
    const c = new Uint8Array(b);
    if (c.length > 0) c[n % c.length] = byte;
    return c;
  }),
  fc.constantFrom('\\u0000', '\\ud800', '\\udfff', '\\u', '\\', '"', '\\uD83D\\u0000').map((escape): ByteMutation => (b) => {
    // Inside the first string value after a colon, where an escape is meaningful.
    const text = Buffer.from(b).toString('latin1');
    const i = text.indexOf(':"');
    return i < 0 ? b : new Uint8Array(Buffer.from(text.slice(0, i + 2) + escape + text.slice(i + 2), 'latin1'));
  }),
);

/** A path or query component: sometimes valid, often not, always a legal request-target. */
const hostileComponent = fc.oneof(
  fc.constantFrom('fuzz', 'other', '', '..', '.', '%00', '%2F', '%zz', '%', '%E0%A4', '%ED%A0%80', '%C0%AF', 'a%20b', 'ROOT', '-'.repeat(65), 'ü'),
  hostileString,
).map((s) => encodeLoosely(s));

/** Percent-encodes what may not appear raw in a request line, leaving `%` alone so malformed
 * escapes get through. */
function encodeLoosely(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'))
    .map((byte) => (/[A-Za-z0-9\-._~!$'()*+,;=:@%]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0').toUpperCase()}`))
    .join('');
}

const endpoint = fc.constantFrom('push', 'pull', 'create', 'state', 'info', 'snapshot');

interface Request {
  method: string;
  path: string;
  body?: Uint8Array;
}

const request: fc.Arbitrary<Request> = fc
  .record({
    endpoint,
    push: validPush,
    query: validQuery,
    create: fc.constantFrom<unknown>({}, { name: 'x' }),
    values: fc.array(valueMutation, { maxLength: 3 }),
    bytes: fc.array(byteMutation, { maxLength: 2 }),
    tree: fc.option(hostileComponent, { freq: 3, nil: undefined }),
    queryChange: fc.option(fc.tuple(fc.constantFrom('since', 'limit', 'replica', 'floor', 'x', ''), hostileComponent), { freq: 2, nil: undefined }),
    rawQuery: fc.option(hostileComponent, { freq: 5, nil: undefined }),
  })
  .map((r) => {
    const tree = r.tree ?? TREE;
    const base = `/v1/trees/${tree}`;
    const body = (doc: unknown) => {
      const mutated = r.values.reduce((d, m) => m(d), doc);
      const text = JSON.stringify(mutated) ?? '';
      return r.bytes.reduce<Uint8Array>((b, m) => m(b), new Uint8Array(Buffer.from(text, "utf8")));
    };
    switch (r.endpoint) {
      case 'push':
        return { method: 'POST', path: `${base}/push`, body: body(r.push) };
      case 'create':
        return { method: 'PUT', path: base, body: body(r.create) };
      case 'pull': {
        const params: string[] = Object.entries(r.query).map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
        if (r.queryChange) params.push(`${r.queryChange[0]}=${r.queryChange[1]}`);
        const query = r.rawQuery ?? params.join('&');
        return { method: 'GET', path: `${base}/pull?${query}` };
      }
      case 'state':
        return { method: 'GET', path: `${base}/state${r.rawQuery ? `?${r.rawQuery}` : ''}` };
      case 'info':
        return { method: 'GET', path: base };
      default:
        return { method: 'GET', path: `${base}/snapshot` };
    }
  });

beforeAll(async () => {
  token = await makeToken({ sub: 'fuzzer' });
  expect((await send('PUT', `/v1/trees/${TREE}`)).status).toBe(201);
});

afterAll(() => {
  const counts = [...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
  console.log(`[fuzz] ${RUNS} runs; answers by status: ${counts.join(', ')}`);
});

test(`${RUNS} mutated requests: never a 5xx, and a refused one changes nothing`, async () => {
  let before = await observed();
  await fc.assert(
    fc.asyncProperty(request, async (req) => {
      const res = await send(req.method, req.path, req.body);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, `${req.method} ${req.path}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
      const after = await observed();
      if (res.status >= 400) expect(after, `${req.method} ${req.path} was refused (${res.status}) but changed the tree`).toBe(before);
      before = after;
    }),
    { numRuns: RUNS },
  );
  // The fuzzer reached past validation too: some requests were accepted, some refused.
  const ok = [...statuses].filter(([s]) => s < 300).reduce((n, [, c]) => n + c, 0);
  const refused = [...statuses].filter(([s]) => s >= 400).reduce((n, [, c]) => n + c, 0);
  expect(ok).toBeGreaterThan(0);
  expect(refused).toBeGreaterThan(0);
}, 180_000);
