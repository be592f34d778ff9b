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
 * The walks never recurse deeper than their depth limit, so they are safe on any input
 * JSON.parse returns (which is itself not recursive in V8: it parses any depth).
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
 *
 * Recursive, but never deeper than `maxDepth` frames: it stops descending there, so any
 * document is safe. (This runs on every request body; a walk without allocations per member
 * costs a fraction of the schema check that follows.)
 */
export function findJsonProblem(value: unknown, maxDepth: number): JsonProblem | undefined {
  const path: (string | number)[] = [];
  const message = walk(value, 0, maxDepth, path);
  return message === undefined ? undefined : { path: path.reverse(), message };
}

/** The problem under `v` at `depth`, pushing the keys that lead to it onto `path` (innermost
 * first) on the way back up. */
function walk(v: unknown, depth: number, maxDepth: number, path: (string | number)[]): string | undefined {
  if (typeof v === 'string') return stringProblem(v);
  if (typeof v !== 'object' || v === null) return undefined;
  if (depth + 1 > maxDepth) return `nests deeper than ${maxDepth} levels`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const problem = walk(v[i], depth + 1, maxDepth, path);
      if (problem !== undefined) {
        path.push(i);
        return problem;
      }
    }
    return undefined;
  }
  for (const key of Object.keys(v)) {
    const keyProblem = stringProblem(key);
    if (keyProblem !== undefined) return `the key ${JSON.stringify(key)} ${keyProblem}`;
    const problem = walk((v as Record<string, unknown>)[key], depth + 1, maxDepth, path);
    if (problem !== undefined) {
      path.push(key);
      return problem;
    }
  }
  return undefined;
}
