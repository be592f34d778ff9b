/** Request bodies: JSON whatever the Content-Type says (curl -d sends form encoding), parsed
 * against a protocol schema before anything acts on it. */
import type { Context } from 'hono';
import type { z } from 'zod';
import { TreesyncError } from '../../protocol/errors.ts';

/** The body as JSON; an empty body is `emptyAs` when given, else invalid. The size limit is
 * enforced while reading (bodyLimit in app.ts). */
export async function readJson(c: Context, emptyAs?: unknown): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') {
    if (emptyAs !== undefined) return emptyAs;
    throw new TreesyncError('invalid_json', 'the body is empty; expected JSON');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new TreesyncError('invalid_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
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
