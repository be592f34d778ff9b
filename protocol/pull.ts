/** `GET /v1/trees/:tree/pull?since=N&limit=M&replica=R&floor=TS`. */
import { z } from 'zod';
import { replicaIdSchema, seqSchema, storedOpSchema, timestampField } from './op-schema.ts';

/**
 * The query, as the strings it arrives as. `since` is the highest seq the replica has applied;
 * `limit` asks for at most that many ops (the server may answer fewer: it caps pages by count
 * and size). `replica` and `floor` say who pulls and the oldest ts it may still send; a
 * read-only observer that never pushes may leave them out.
 */
export const pullQuerySchema = z.object({
  since: z
    .string({ error: 'since is required: the highest seq applied (0 for none)' })
    .regex(/^(0|[1-9][0-9]{0,14})$/, 'since must be a non-negative integer'),
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,8}$/, 'limit must be a positive integer')
    .optional(),
  replica: replicaIdSchema.optional(),
  floor: timestampField('floor').optional(),
});
export type PullQuery = z.infer<typeof pullQuerySchema>;

/**
 * The tree's stability frontier F when the answer was read, or null when it has none: no
 * operation older than F can still arrive, so a replica drops its move log below F. Added in
 * protocol 1 without a version bump (optional: older servers leave it out).
 */
export const frontierField = timestampField('frontier').nullable().optional();

/** Operations stored after `since`, in seq order; `more` when further ones remain (pull again
 * from the last one's seq). `seq` is the tree's seq when the page was read. */
export const pullPageSchema = z.object({
  seq: seqSchema,
  ops: z.array(storedOpSchema),
  more: z.boolean(),
  frontier: frontierField,
});

/** `since` is ahead of the tree, or older than the server keeps (operations up to that
 * point were truncated or a trashed subtree was purged): bootstrap again from a
 * snapshot, then pull from its seq. No `ops`, so a client that forgets to check cannot
 * mistake this for "nothing new". */
export const pullResetSchema = z.object({
  reset: z.literal(true),
  seq: seqSchema,
});

export const pullResponseSchema = z.union([pullResetSchema, pullPageSchema]);
export type PullResponse = z.infer<typeof pullResponseSchema>;
