/** `GET /v1/trees/:tree/trash?limit=N`: the tops of deleted subtrees, newest delete first. */
import { z } from 'zod';
import { NODE_ID } from './ops.ts';
import { replicaIdSchema, seqSchema, stringField, timestampField, treeIdSchema } from './op-schema.ts';

export const trashQuerySchema = z.object({
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,8}$/, 'limit must be a positive integer')
    .optional(),
});
export type TrashQuery = z.infer<typeof trashQuerySchema>;

/**
 * One deleted subtree: its top `node`, the delete's `ts` and `replica` (`server` for none: a
 * node created in the trash), and where the delete took it from, `parent` and `pos` (null when
 * the node was created in the trash). Undelete is an ordinary move back there; when `parent`
 * no longer exists (`parentExists` false), move it to the end of ROOT instead.
 */
export const trashEntrySchema = z.object({
  node: stringField('node', NODE_ID, 'a node id'),
  ts: timestampField('ts'),
  replica: replicaIdSchema,
  parent: z.string().nullable(),
  pos: z.string().nullable(),
  parentExists: z.boolean(),
});
export type TrashEntry = z.infer<typeof trashEntrySchema>;

/** `seq` is the tree's seq when the list was read; `more` when older entries remain. */
export const trashResponseSchema = z.object({
  tree: treeIdSchema,
  seq: seqSchema,
  entries: z.array(trashEntrySchema),
  more: z.boolean(),
});
export type TrashResponse = z.infer<typeof trashResponseSchema>;
