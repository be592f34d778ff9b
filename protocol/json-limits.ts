/**
 * What a JSON document on the wire may hold beyond what JSON itself allows, because the
 * database cannot store it or a parser cannot walk it:
 *
 * - no `\u0000` in any string, keys included (Postgres text and jsonb cannot hold it);
 * - no unpaired UTF-16 surrogate (`"\ud800"`): JSON.parse accepts one, but it is not Unicode,
 *   UTF-8 cannot encode it and jsonb refuses it;
 * - arrays and objects nested at most `maxDepth` levels (a scalar is depth 0, `[1]` and
 *   `{"a":1}` depth 1), so nothing recursive (a schema check, a serialiser, the database's
 *   parser) is ever handed a structure that blows its stack.
 *
 * The walk is iterative, with its own stack, so it is safe on any input JSON.parse returns.
 */

/** The shared rule for a `set` value: at most this many levels of arrays/objects. */
export const MAX_VALUE_DEPTH = 64;

/** A problem found in a document: where (keys and indexes from the root) and what. */
export interface JsonProblem {
  path: (string | number)[];
  message: string;
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one.
 * (Without the `u` flag the pattern sees UTF-16 code units, which is what is wanted here.) */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with one string, or undefined when the database can store it. */
export function stringProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains \\u0000, which cannot be stored';
  if (LONE_SURROGATE.test(s)) return 'contains an unpaired UTF-16 surrogate (not Unicode text)';
  return undefined;
}

/** The depth of a JSON value: 0 for a scalar, 1 + its deepest member for arrays/objects.
 * Stops counting (and answers `limit + 1`) once deeper than `limit`. */
export function jsonDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<{ v: unknown; d: number }> = [{ v: value, d: 0 }];
  while (stack.length > 0) {
    const { v, d } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const depth = d + 1;
    if (depth > limit) return limit + 1;
    if (depth > deepest) deepest = depth;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push({ v: child, d: depth });
  }
  return deepest;
}

/**
 * The first problem of `value` (strings, keys, depth below the root), in document order, or
 * undefined. `maxDepth` bounds the whole document.
 */
export function findJsonProblem(value: unknown, maxDepth: number): JsonProblem | undefined {
  const stack: Array<{ v: unknown; path: (string | number)[] }> = [{ v: value, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'string') {
      const problem = stringProblem(v);
      if (problem) return { path, message: problem };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (path.length + 1 > maxDepth) return { path, message: `nests deeper than ${maxDepth} levels` };
    const entries: Array<[string | number, unknown]> = Array.isArray(v)
      ? v.map((child, i) => [i, child])
      : Object.entries(v);
    for (const [key] of entries) {
      if (typeof key !== 'string') continue;
      const problem = stringProblem(key);
      if (problem) return { path: [...path], message: `the key ${JSON.stringify(key)} ${problem}` };
    }
    // Pushed in reverse, so the first member is examined first.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      stack.push({ v: child, path: [...path, key] });
    }
  }
  return undefined;
}
