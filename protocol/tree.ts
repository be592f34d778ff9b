/** `PUT /v1/trees/:tree` and `GET /v1/trees/:tree`. */
import { z } from 'zod';
import { seqSchema, treeIdSchema } from './op-schema.ts';

/** What happens to a deleted subtree in which another replica edited without having seen the
 * delete: `restore` (the default) moves it back; `win` keeps it deleted (docs/deletes.md). */
export const deletesOptionSchema = z.enum(['restore', 'win'], { error: 'deletes must be "restore" or "win"' });
export type DeletesOption = z.infer<typeof deletesOptionSchema>;

/** The body of `PUT /v1/trees/:tree`: options, fixed when the tree is created (for a tree that
 * exists they change nothing). Unknown fields are ignored so that an older server accepts a
 * newer client's request. An empty body means `{}`. */
export const createTreeRequestSchema = z.object(
  { deletes: deletesOptionSchema.optional() },
  { error: 'the body must be a JSON object' },
);
export type CreateTreeRequest = z.infer<typeof createTreeRequestSchema>;

/** The answer to `PUT`: status 201 when the tree was created, 200 when it existed; `deletes`
 * is the tree's option (for one that existed, the one it was created with). */
export const createTreeResponseSchema = z.object({ tree: treeIdSchema, seq: seqSchema, deletes: deletesOptionSchema });
export type CreateTreeResponse = z.infer<typeof createTreeResponseSchema>;

/** The answer to `GET /v1/trees/:tree`: `nodes` counts the tree's nodes, ROOT and TRASH
 * included (the nodes themselves come with `/state` or `/snapshot`). */
export const treeInfoResponseSchema = z.object({
  tree: treeIdSchema,
  seq: seqSchema,
  nodes: z.int().min(2),
  deletes: deletesOptionSchema,
});
export type TreeInfoResponse = z.infer<typeof treeInfoResponseSchema>;
