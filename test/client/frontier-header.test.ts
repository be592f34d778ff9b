// The snapshot header's `frontier`: kept when a timestamp, null when the tree has none, absent
// in streams of servers before it (still read), and refused when malformed.
import { describe, expect, test } from 'vitest';
import { SnapshotError } from '../../client/snapshot-error.ts';
import { parseHeader } from '../../client/snapshot-header.ts';

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const base = { tree: 't', seq: 7, counts: { nodes: 2, fields: 0, moves: 1 } };

describe('snapshot header frontier', () => {
  test('a timestamp is kept', () => {
    expect(parseHeader(bytes({ ...base, frontier: '1732212345000.00003.bob' }))).toEqual({ ...base, frontier: '1732212345000.00003.bob' });
  });
  test('null (no frontier) is kept as null', () => {
    expect(parseHeader(bytes({ ...base, frontier: null })).frontier).toBeNull();
  });
  test('an older stream without it is read, with no frontier', () => {
    const header = parseHeader(bytes(base));
    expect(header).toEqual(base);
    expect('frontier' in header).toBe(false);
  });
  test.each([['not a ts'], [42], [{}], ['1732212345000.3.bob']])('a malformed frontier %j is refused', (frontier) => {
    expect(() => parseHeader(bytes({ ...base, frontier }))).toThrow(SnapshotError);
    expect(() => parseHeader(bytes({ ...base, frontier }))).toThrow(/frontier is not a timestamp/);
  });
});
