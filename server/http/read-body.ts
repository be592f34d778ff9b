/**
 * Request bodies: JSON whatever the Content-Type says (curl -d sends form encoding), checked
 * for what the database cannot store (protocol/json-limits.ts) and parsed against a protocol
 * schema before anything acts on it. Nothing a client sends reaches the database unchecked:
 * every refusal is a 400 that names the problem, never a 500 from Postgres.
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import { TreesyncError } from '../../protocol/errors.ts';
import { findJsonProblem, MAX_VALUE_DEPTH, type JsonProblem } from '../../protocol/json-limits.ts';

/** How deep a whole body may nest: an operation's value (MAX_VALUE_DEPTH) inside
 * `{"ops": [{"value": …}]}`, with room to spare. Deeper bodies are refused before any schema,
 * which recurses, sees them. */
export const MAX_BODY_DEPTH = MAX_VALUE_DEPTH + 8;

/** Bytes that are not UTF-8 are refused, not replaced with U+FFFD and stored. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The body as JSON; an empty body is `emptyAs` when given, else invalid. The size limit is
 * enforced while reading (bodyLimit in app.ts). */
export async function readJson(c: Context, emptyAs?: unknown): Promise<unknown> {
  let text: string;
  try {
    text = utf8.decode(await c.req.arrayBuffer());
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    throw new TreesyncError('invalid_json', 'the body is not UTF-8 text');
  }
  if (text.trim() === '') {
    if (emptyAs !== undefined) return emptyAs;
    throw new TreesyncError('invalid_json', 'the body is empty; expected JSON');
  }
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch (err) {
    throw new TreesyncError('invalid_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
  const problem = findJsonProblem(body, MAX_BODY_DEPTH);
  if (problem) throw problemError(problem);
  return body;
}

/** A problem of the body as the error a client sees: `invalid_op` with the index inside
 * `ops[i]` (the same sentence as the shared depth rule for a too-deep value), else
 * `invalid_json`. */
function problemError({ path, message }: JsonProblem): TreesyncError {
  const [first, index, field] = path;
  if (first === 'ops' && typeof index === 'number') {
    const what = message.startsWith('nests deeper')
      ? field === 'value'
        ? `value nests deeper than ${MAX_VALUE_DEPTH} levels`
        : `the operation ${message}`
      : `${path.slice(2).join('.') || 'the operation'}: ${message}`;
    return new TreesyncError('invalid_op', `operation ${index}: ${what}`, { index });
  }
  return new TreesyncError('invalid_json', `the body${path.length ? ` at ${path.join('.')}` : ''}: ${message}`);
}

/**
 * `value` parsed by `schema`, or the error for its first problem: `invalid_op` with the index
 * when the problem is inside `ops[i]`, else `invalid_request` naming the field.
 */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const [first, index] = issue.path;
  if (first === 'ops' && typeof index === 'number') {
    throw new TreesyncError('invalid_op', `operation ${index}: ${issue.message}`, { index });
  }
  const field = issue.path.join('.');
  const message =
    issue.code === 'unrecognized_keys' || field === '' || issue.message.startsWith(String(first))
      ? issue.message
      : `${field}: ${issue.message}`;
  throw new TreesyncError('invalid_request', message, field ? { field } : {});
}
