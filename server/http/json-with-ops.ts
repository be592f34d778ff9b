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
 * in as texts. */
export function jsonWithOps<T extends { ops: unknown[] }>(c: Context, answer: WithOpTexts<T>): Response {
  const ops = answer.ops as readonly OpJson[];
  // `"ops":[]` with bare quotes can only be the key: inside a string every quote is escaped.
  const text = JSON.stringify({ ...answer, ops: [] }).replace('"ops":[]', () => `"ops":[${ops.map((o) => o.json).join(',')}]`);
  return c.body(text, 200, { 'content-type': 'application/json' });
}
