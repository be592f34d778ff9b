// Which errors become 503 `unavailable` (retry later) rather than 500 `internal`: the database
// being unreachable must never answer 500 (server/http/on-error.ts). The errors are the ones
// node-postgres really throws; test/server/postgres-restart.pg.test.ts meets them end to end.
import { expect, test } from 'vitest';
import { toTreesyncError } from '../../server/http/on-error.ts';

test.each([
  ['a connect timeout', new Error('timeout exceeded when trying to connect')],
  ['a connection that died under a query', new Error('Connection terminated unexpectedly')],
  ['a pooled client whose connection died before its query', new Error('Client has encountered a connection error and is not queryable')],
  ['Postgres shutting down (57P01)', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })],
  ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
])('%s is 503 unavailable', (_name, err) => {
  const e = toTreesyncError(err);
  expect(e.code).toBe('unavailable');
  expect(e.status).toBe(503);
});

test('anything else is 500 internal, without its message', () => {
  const e = toTreesyncError(new Error('something secret broke'));
  expect(e.code).toBe('internal');
  expect(e.status).toBe(500);
  expect(e.message).not.toMatch(/secret/);
});
