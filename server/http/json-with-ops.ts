/**
 * Answers that carry stored operations (push, pull), written as JSON text with each op's text
 * spliced in as read-ops.ts made it: the ops are never turned into objects and serialised
 * again, and one op's text serves every answer of a group commit that carries it.
 */
import type { Context } from 'hono';
import type { OpJson } from '../db/read-ops.ts';

/** An answer of type T whose `ops` are op texts. */
export type WithOpTexts<T extends { ops: unknown[] }> = { [K in keyof T]: K extends 'ops' ? readonly OpJson[] : T[K] };

/** `answer` as a JSON response (as `c.json` writes it, fields in their order), its ops spliced
 * in as texts. The body is built as bytes: the op texts are UTF-8 already, so an answer is
 * one copy of each, with no string to join and encode per answer. */
export function jsonWithOps<T extends { ops: unknown[] }>(c: Context, answer: WithOpTexts<T>): Response {
  const ops = answer.ops as readonly OpJson[];
  // `"ops":[]` with bare quotes can only be the key: inside a string every quote is escaped.
  const rest = JSON.stringify({ ...answer, ops: [] });
  const at = rest.indexOf('"ops":[]') + '"ops":['.length;
  const head = Buffer.from(rest.slice(0, at));
  const tail = Buffer.from(rest.slice(at));
  let length = head.length + tail.length + Math.max(0, ops.length - 1);
  for (const op of ops) length += op.json.length;
  const body = Buffer.allocUnsafe(length);
  let end = head.copy(body, 0);
  ops.forEach((op, i) => {
    if (i > 0) end += body.write(',', end);
    end += op.json.copy(body, end);
  });
  end += tail.copy(body, end);
  if (end !== length) throw new Error(`answer body: ${end} bytes written of ${length}`);
  return c.body(body, 200, { 'content-type': 'application/json' });
}
