// What a JSON document may hold beyond JSON (protocol/json-limits.ts): text the database can
// store and bounded nesting, found with the path to the first problem, on any input.
import { expect, test } from 'vitest';
import { findJsonProblem, jsonDepth, MAX_VALUE_DEPTH, stringProblem } from '../../protocol/json-limits.ts';

const nest = (depth: number): unknown => JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`);

test.each([
  ['plain text', 'Buy milk', undefined],
  ['non-ASCII and an emoji (a surrogate pair)', 'ü 中 😀', undefined],
  ['U+FFFF and U+10FFFF', '\uffff\u{10ffff}', undefined],
  ['NUL', 'a\u0000b', /\\u0000/],
  ['a lone high surrogate', '\ud800', /unpaired/],
  ['a lone high surrogate at the end', 'x\ud83d', /unpaired/],
  ['a lone low surrogate', '\udc00x', /unpaired/],
  ['a pair in the wrong order', '\ude00\ud83d', /unpaired/],
])('stringProblem: %s', (_name, s, expected) => {
  const problem = stringProblem(s);
  if (expected === undefined) expect(problem).toBeUndefined();
  else expect(problem).toMatch(expected);
});

test('depth: a scalar is 0, [1] and {"a":1} are 1; counting stops past the limit', () => {
  expect(jsonDepth('x', 64)).toBe(0);
  expect(jsonDepth([1], 64)).toBe(1);
  expect(jsonDepth({ a: 1 }, 64)).toBe(1);
  expect(jsonDepth({ a: [1, { b: [] }] }, 64)).toBe(4);
  expect(jsonDepth(nest(MAX_VALUE_DEPTH), MAX_VALUE_DEPTH)).toBe(64);
  expect(jsonDepth(nest(MAX_VALUE_DEPTH + 1), MAX_VALUE_DEPTH)).toBe(65);
  expect(jsonDepth(nest(1_000_000), MAX_VALUE_DEPTH)).toBe(65);
});

test('the first problem, in document order, with its path', () => {
  expect(findJsonProblem({ ops: [{ value: 'ok' }, { value: ['x', 'a\u0000'] }], z: '\ud800' }, 72)).toEqual({
    path: ['ops', 1, 'value', 1],
    message: 'contains \\u0000, which cannot be stored',
  });
  expect(findJsonProblem({ a: { 'k\u0000': 1 } }, 72)).toEqual({
    path: ['a'],
    message: 'the key "k\\u0000" contains \\u0000, which cannot be stored',
  });
  expect(findJsonProblem({ a: [[1]] }, 2)).toEqual({ path: ['a', 0], message: 'nests deeper than 2 levels' });
  expect(findJsonProblem({ a: [[1]] }, 3)).toBeUndefined();
  expect(findJsonProblem(null, 0)).toBeUndefined();
});

test('a million levels are walked without blowing the stack', () => {
  expect(findJsonProblem(nest(1_000_000), 72)?.message).toBe('nests deeper than 72 levels');
});
