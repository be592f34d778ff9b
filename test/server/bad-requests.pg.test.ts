// Bad requests, one row each: what is sent, the status and code it must get, and that nothing
// changed (the tree as the API shows it, and every treesync table, row counts and seqs).
import { beforeAll, describe, expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { errorBodySchema } from '../../protocol/error-body.ts';
import { move, set, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { type Answer, type CallOptions, callChunked, makeToken, openEvents, UpgradeRefused, useTestServer } from './harness.ts';

const db = useTestDb();
const NOW = 1_732_212_345_000 + 3_600_000;
const server = useTestServer(db, { clock: { now: () => NOW } });
const TREE = 'target';
const T = `/v1/trees/${TREE}`;

const seed: Op[] = [move(ts(0, 'seed'), 'n1', 'ROOT', 'a'), set(ts(1, 'seed'), 'n1', 'text', 'hello')];
const good = move(ts(10, 'r'), 'n2', 'n1', 'b');

/** A valid push body with some fields replaced (undefined removes a field). */
function push(fields: Record<string, unknown> = {}): Record<string, unknown> {
  const body: Record<string, unknown> = { replica: 'r', seen: 2, floor: good.ts, ops: [good], ...fields };
  for (const [k, v] of Object.entries(fields)) if (v === undefined) delete body[k];
  return body;
}

/** A valid move with fields replaced (undefined removes a field). */
function op(fields: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = { ...good, ...fields };
  for (const [k, v] of Object.entries(fields)) if (v === undefined) delete o[k];
  return o;
}

const setOp = (fields: Record<string, unknown>) => op({ type: 'set', parent: undefined, pos: undefined, key: 'k', value: 1, ...fields });
const pushOps = (...ops: unknown[]) => push({ ops });

interface Case {
  name: string;
  method: string;
  path: string;
  opts?: CallOptions;
  status: number;
  code: string;
  /** Expected extra fields of the error (the index of the bad op, …). */
  detail?: Record<string, unknown>;
  /** A WebSocket handshake: only the status can be checked. */
  ws?: boolean;
  /** Sent some other way than `server.call`. */
  send?: () => Promise<Answer>;
  /** The exact message, where it matters. */
  message?: string;
}

const P = (name: string, body: unknown, status: number, code: string, detail?: Record<string, unknown>): Case => ({
  name, method: 'POST', path: `${T}/push`, opts: { body }, status, code, ...(detail ? { detail } : {}),
});
const bad = (name: string, ...ops: unknown[]): Case => P(name, pushOps(...ops), 400, 'invalid_op', { index: ops.length - 1 });

/** A push of one set whose value is `valueJson`, written as raw JSON text (escapes that
 * JSON.stringify would never write: `\\u0000`, lone surrogates, deep nesting). */
const rawValue = (valueJson: string) => JSON.stringify(pushOps(setOp({ value: '@V@' }))).replace('"@V@"', valueJson);
/** The same with raw bytes for the value's string contents (not necessarily UTF-8). */
const rawBytes = (bytes: number[]) => {
  const [head, tail] = JSON.stringify(pushOps(setOp({ value: '@V@' }))).split('@V@');
  return new Uint8Array(Buffer.concat([Buffer.from(head!), Buffer.from(bytes), Buffer.from(tail!)]));
};
const R = (name: string, raw: string | Uint8Array, code: string, detail?: Record<string, unknown>): Case => ({
  name, method: 'POST', path: `${T}/push`, opts: { raw }, status: 400, code, ...(detail ? { detail } : {}),
});
const nest = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

const CASES: Case[] = [
  // Text and structures the database cannot store: refused before it, never a 500.
  R('\\u0000 in a value', rawValue('"a\\u0000b"'), 'invalid_op', { index: 0 }),
  R('\\u0000 in a key of a value', rawValue('{"a\\u0000": 1}'), 'invalid_op', { index: 0 }),
  R('a lone high surrogate in a value', rawValue('"\\ud800"'), 'invalid_op', { index: 0 }),
  R('a lone low surrogate deep in a value', rawValue('{"a": [1, "x\\udc00y"]}'), 'invalid_op', { index: 0 }),
  R('a surrogate pair in the wrong order', rawValue('"\\udc00\\ud800"'), 'invalid_op', { index: 0 }),
  R('bytes that are not UTF-8 in a value', rawBytes([0x61, 0xff, 0x62]), 'invalid_json'),
  R('a truncated UTF-8 sequence in a value', rawBytes([0xe2, 0x82]), 'invalid_json'),
  R('an overlong UTF-8 encoding in a value', rawBytes([0xc0, 0xaf]), 'invalid_json'),
  R('a UTF-8 encoded surrogate in a value', rawBytes([0xed, 0xa0, 0x80]), 'invalid_json'),
  R('\\u0000 in a field of the body', JSON.stringify(push({ '@K@': 1 })).replace('@K@', 'x\\u0000'), 'invalid_json'),
  R('\\u0000 in the replica', JSON.stringify(push()).replace('"replica":"r"', '"replica":"r\\u0000"'), 'invalid_json'),
  { ...R('a value 65 levels deep', rawValue(nest(65)), 'invalid_op', { index: 0 }), message: 'operation 0: value nests deeper than 64 levels' },
  { ...R('a value 100000 levels deep', rawValue(nest(100_000)), 'invalid_op', { index: 0 }), message: 'operation 0: value nests deeper than 64 levels' },
  R('a body 100000 levels deep', nest(100_000), 'invalid_json'),
  R('a body field 100000 levels deep', JSON.stringify(push()).replace('"seen":2', `"seen":${nest(100_000)}`), 'invalid_json'),
  // A replica's operations are its own.
  bad("an op stamped with another replica's ts", good, op({ ts: ts(11, 'mallory'), node: 'n3' })),
  // The body
  { name: 'malformed JSON', method: 'POST', path: `${T}/push`, opts: { raw: '{"replica": ' }, status: 400, code: 'invalid_json' },
  { name: 'an empty body', method: 'POST', path: `${T}/push`, opts: { raw: '' }, status: 400, code: 'invalid_json' },
  P('a JSON array for a body', [], 400, 'invalid_request'),
  P('a JSON string for a body', 'ops', 400, 'invalid_request'),
  P('a JSON null for a body', null, 400, 'invalid_request'),
  P('no ops', push({ ops: undefined }), 400, 'invalid_request', { field: 'ops' }),
  P('ops not an array', push({ ops: { 0: good } }), 400, 'invalid_request', { field: 'ops' }),
  { ...P('no replica', push({ replica: undefined }), 400, 'invalid_request', { field: 'replica' }), message: 'replica is required' },
  P('a replica id with a dot', push({ replica: 'r.1' }), 400, 'invalid_request', { field: 'replica' }),
  P('a replica id of 33 characters', push({ replica: 'r'.repeat(33) }), 400, 'invalid_request'),
  P('no seen', push({ seen: undefined }), 400, 'invalid_request', { field: 'seen' }),
  P('a negative seen', push({ seen: -1 }), 400, 'invalid_request', { field: 'seen' }),
  P('a fractional seen', push({ seen: 1.5 }), 400, 'invalid_request', { field: 'seen' }),
  P('seen as a string', push({ seen: '2' }), 400, 'invalid_request', { field: 'seen' }),
  P('no floor', push({ floor: undefined }), 400, 'invalid_request', { field: 'floor' }),
  P('a floor that is not a timestamp', push({ floor: 'yesterday' }), 400, 'invalid_request', { field: 'floor' }),
  // The operations
  bad('an op that is a number', 5),
  bad('an op of an unknown type', op({ type: 'delete' })),
  bad('an op without ts', op({ ts: undefined })),
  bad('a ts that is a number', op({ ts: 1732212345678 })),
  bad('a ts with a 12-digit wall', op({ ts: '173221234567.00000.r' })),
  bad('a ts whose replica has 33 characters', op({ ts: `1732212345678.00000.${'r'.repeat(33)}` })),
  bad('a node id with a space', op({ node: 'n 1' })),
  bad('a node id of 65 characters', op({ node: 'n'.repeat(65) })),
  bad('a move of ROOT', op({ node: 'ROOT' })),
  bad('a move of TRASH', op({ node: 'TRASH' })),
  bad('a move without parent', op({ parent: undefined })),
  bad('a parent id with a slash', op({ parent: 'a/b' })),
  bad('a pos that is not ASCII', op({ pos: 'é' })),
  bad('a pos of 129 bytes', op({ pos: 'a'.repeat(129) })),
  bad('a pos that is a number', op({ pos: 1 })),
  bad('a move with an extra field', op({ key: 'k' })),
  { ...bad('a set without value', setOp({ value: undefined })), message: 'operation 0: a set needs a value (null removes the field)' },
  bad('a set key with a space', setOp({ key: 'a b' })),
  bad('a set key of 65 characters', setOp({ key: 'k'.repeat(65) })),
  bad('a set with a parent', setOp({ parent: 'ROOT' })),
  bad('a bad op after a good one', good, op({ ts: 'soon' })),
  bad('a set value over 64 KiB (checked by the database)', setOp({ value: 'x'.repeat(64 * 1024) })),
  P('one ts twice in a batch with other content', pushOps(good, { ...good, pos: 'z' }), 409, 'ts_conflict', { index: 1, ts: good.ts }),
  P('a stored ts with other content', push({ replica: 'seed', ops: [{ ...seed[0]!, pos: 'zz' }] }), 409, 'ts_conflict', { index: 0, ts: seed[0]!.ts }),
  P('a wall time 61 s ahead of the server', pushOps(move(`${NOW + 61_000}.00000.r`, 'n3', 'ROOT')), 400, 'clock_skew', { index: 0, now: NOW }),
  P('1001 ops', pushOps(...Array.from({ length: 1001 }, (_, i) => move(ts(100 + i, 'r'), `m${i}`, 'ROOT'))), 413, 'payload_too_large', { maxOps: 1000 }),
  { name: 'a body over 1 MiB', method: 'POST', path: `${T}/push`, opts: { raw: ' '.repeat(1024 * 1024 + 1) }, status: 413, code: 'payload_too_large' },
  { name: 'a chunked body over 1 MiB', method: 'POST', path: `${T}/push`, send: () => callChunked(server.url, `${T}/push`, 1024 * 1024 + 1, token), status: 413, code: 'payload_too_large' },
  P('seen ahead of the tree', push({ seen: 3 }), 409, 'reset_required', { seq: 2 }),
  { name: 'a push to an unknown tree', method: 'POST', path: '/v1/trees/nope/push', opts: { body: push() }, status: 404, code: 'tree_not_found' },
  // Trees
  { name: 'PUT a tree id with a dot', method: 'PUT', path: '/v1/trees/bad.id', status: 400, code: 'invalid_tree_id' },
  { name: 'PUT a tree id of 65 characters', method: 'PUT', path: `/v1/trees/${'t'.repeat(65)}`, status: 400, code: 'invalid_tree_id' },
  { name: 'PUT a tree id with an encoded space', method: 'PUT', path: '/v1/trees/a%20b', status: 400, code: 'invalid_tree_id' },
  { name: 'PUT with malformed JSON', method: 'PUT', path: T, opts: { raw: '{' }, status: 400, code: 'invalid_json' },
  { name: 'PUT with an array body', method: 'PUT', path: T, opts: { body: [] }, status: 400, code: 'invalid_request' },
  { name: 'GET an unknown tree', method: 'GET', path: '/v1/trees/nope', status: 404, code: 'tree_not_found' },
  // Pull
  { name: 'pull without since', method: 'GET', path: `${T}/pull`, status: 400, code: 'invalid_request' },
  { name: 'pull with a negative since', method: 'GET', path: `${T}/pull?since=-1`, status: 400, code: 'invalid_request' },
  { name: 'pull with since=abc', method: 'GET', path: `${T}/pull?since=abc`, status: 400, code: 'invalid_request' },
  { name: 'pull with since=1.5', method: 'GET', path: `${T}/pull?since=1.5`, status: 400, code: 'invalid_request' },
  { name: 'pull with since beyond 2^53', method: 'GET', path: `${T}/pull?since=9007199254740993`, status: 400, code: 'invalid_request' },
  { name: 'pull with limit=0', method: 'GET', path: `${T}/pull?since=0&limit=0`, status: 400, code: 'invalid_request' },
  { name: 'pull with limit=x', method: 'GET', path: `${T}/pull?since=0&limit=x`, status: 400, code: 'invalid_request' },
  { name: 'pull with a bad replica id', method: 'GET', path: `${T}/pull?since=0&replica=a.b`, status: 400, code: 'invalid_request' },
  { name: 'pull with a bad floor', method: 'GET', path: `${T}/pull?since=0&floor=1`, status: 400, code: 'invalid_request' },
  { name: 'pull of an unknown tree', method: 'GET', path: '/v1/trees/nope/pull?since=0', status: 404, code: 'tree_not_found' },
  // State, events, the rest
  { name: 'state of an unknown tree', method: 'GET', path: '/v1/trees/nope/state', status: 404, code: 'tree_not_found' },
  { name: 'events without a WebSocket upgrade', method: 'GET', path: `${T}/events`, status: 426, code: 'upgrade_required' },
  { name: 'events of an unknown tree', method: 'GET', path: '/v1/trees/nope/events', status: 404, code: 'tree_not_found', ws: true },
  { name: 'an unknown endpoint', method: 'GET', path: '/v1/nothing', status: 404, code: 'not_found' },
  { name: 'DELETE a tree', method: 'DELETE', path: T, status: 404, code: 'not_found' },
  { name: 'POST to state', method: 'POST', path: `${T}/state`, opts: { body: {} }, status: 404, code: 'not_found' },
];

let token: string;

/** Everything that could change: the tree through the API, and every table's rows. */
async function everything(): Promise<unknown> {
  const [state, info, nope] = await Promise.all([
    server.call('GET', `${T}/state`, { token }),
    server.call('GET', T, { token }),
    server.call('GET', '/v1/trees/nope', { token }),
  ]);
  const { rows } = await db.query(`
    select (select count(*) from treesync.trees) trees, (select coalesce(sum(seq), 0) from treesync.trees) seqs,
           (select count(*) from treesync.ops) ops, (select count(*) from treesync.nodes) nodes,
           (select count(*) from treesync.moves) moves, (select count(*) from treesync.fields) fields`);
  return { state: state.body, info: info.body, nope: nope.status, tables: rows[0] };
}

beforeAll(async () => {
  token = await makeToken();
  await server.call('PUT', T, { token });
  const seeded = await server.call('POST', `${T}/push`, { token, body: { replica: 'seed', seen: 0, floor: seed[0]!.ts, ops: seed } });
  expect(seeded.status).toBe(200);
});

test(`the table has at least 40 rows (it has ${CASES.length})`, () => {
  expect(CASES.length).toBeGreaterThanOrEqual(40);
});

describe.each(CASES)('$name', (c) => {
  test(`${c.status} ${c.code}, and nothing changed`, async () => {
    const before = await everything();
    if (c.ws) {
      const refused = await openEvents(server.url, c.path.split('/')[3]!, token).then(
        async (events) => {
          await events.close();
          return undefined;
        },
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(UpgradeRefused);
      expect((refused as UpgradeRefused).status).toBe(c.status);
    } else {
      const res = c.send ? await c.send() : await server.call(c.method, c.path, { token, ...c.opts });
      expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status: c.status, code: c.code });
      const body = errorBodySchema.parse(res.body);
      expect(body.error.message.length).toBeGreaterThan(0);
      if (c.detail) expect(body.error).toMatchObject(c.detail);
      if (c.message) expect(body.error.message).toBe(c.message);
    }
    expect(await everything()).toEqual(before);
  });
});

test('since ahead of the tree is not an error but a reset', async () => {
  const res = await server.call('GET', `${T}/pull?since=3`, { token });
  expect(res).toMatchObject({ status: 200, body: { reset: true, seq: 2 } });
});

test('an invalid op says which one and why', async () => {
  const res = await server.call('POST', `${T}/push`, { token, body: pushOps(good, op({ node: 'ROOT' })) });
  expect(res.body.error).toEqual({
    code: 'invalid_op',
    index: 1,
    message: 'operation 1: node must be a node id ([A-Za-z0-9_-]{1,64}) other than ROOT and TRASH',
  });
});
