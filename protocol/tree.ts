/** `PUT /v1/trees/:tree` and `GET /v1/trees/:tree`. */
import { z } from 'zod';
import { seqSchema, treeIdSchema } from './op-schema.ts';

/** The body of `PUT /v1/trees/:tree`: `{}` for now (options may come; unknown fields are
 * ignored so that an older server accepts a newer client's request). An empty body means `{}`. */
export const createTreeRequestSchema = z.object({}, { error: 'the body must be a JSON object' });
export type CreateTreeRequest = z.infer<typeof createTreeRequestSchema>;

/** The answer to `PUT`: status 201 when the tree was created, 200 when it existed. */
export const createTreeResponseSchema = z.object({ tree: treeIdSchema, seq: seqSchema });
export type CreateTreeResponse = z.infer<typeof createTreeResponseSchema>;

/** The answer to `GET /v1/trees/:tree`: `nodes` counts the tree's nodes, ROOT and TRASH
 * included (the nodes themselves come with `/state` or `/snapshot`). */
export const treeInfoResponseSchema = z.object({
  tree: treeIdSchema,
  seq: seqSchema,
  nodes: z.int().min(2),
});
export type TreeInfoResponse = z.infer<typeof treeInfoResponseSchema>;
