/** Content negotiation for the snapshot's gzip (RFC 9110, 12.5.3). */
import { expect, test } from 'vitest';
import { acceptsGzip } from '../../server/snapshot/accepts-gzip.ts';

test.each([
  [undefined, false],
  ['', false],
  ['identity', false],
  ['gzip', true],
  ['GZip', true],
  ['x-gzip', true],
  ['gzip, deflate, br', true],
  ['br;q=1.0, gzip;q=0.5', true],
  ['gzip;q=0', false],
  ['gzip; q=0.000', false],
  ['*', true],
  ['*;q=0', false],
  ['*, gzip;q=0', false],
  ['gzip;q=0, *', false],
  ['deflate, *;q=0.1', true],
  ['deflate', false],
])('Accept-Encoding %j → gzip %s', (header, expected) => {
  expect(acceptsGzip(header)).toBe(expected);
});
