/** `POST /v1/trees/:tree/push`: a replica sends its new operations and gets everyone else's. */
import { z } from 'zod';
import { frontierField } from './pull.ts';
import { opSchema, replicaIdSchema, seqSchema, storedOpSchema, timestampField, typeError } from './op-schema.ts';

export const pushRequestSchema = z.object(
  {
    replica: replicaIdSchema,
    /** The highest seq the replica has applied. */
    seen: z.int({ error: typeError('seen', 'a non-negative integer') }).min(0, 'seen must be a non-negative integer'),
    /** The oldest ts the replica may still send (its oldest unpushed op, else its clock). */
    floor: timestampField('floor'),
    ops: z.array(opSchema, { error: typeError('ops', 'an array of operations') }),
  },
  { error: 'the body must be a JSON object' },
);
export type PushRequest = z.infer<typeof pushRequestSchema>;

/**
 * The answer to a push. `ops` are the operations stored after `seen` by others (other replicas,
 * the server), in seq order, at most a page of them; not this push's own. `more` is true when
 * further ones remain: then the replica has applied everything up to the last returned op's
 * seq and pulls from there; otherwise it has everything up to `seq`. `now` is the server's
 * clock in ms. `skipped` counts this push's moves that changed nothing, so an app can tell
 * the user.
 */
export const pushResponseSchema = z.object({
  seq: seqSchema,
  accepted: z.int().min(0),
  duplicates: z.int().min(0),
  /** Moves of this push that changed nothing: their parent did not exist at that point, or
   * they would have made a cycle (as `apply_ops` reports). Added in protocol 1 without a
   * version bump: older clients ignore it. */
  skipped: z.int().min(0),
  ops: z.array(storedOpSchema),
  more: z.boolean(),
  now: z.int().min(0),
  /** The tree's stability frontier after this push (see pull.ts). */
  frontier: frontierField,
});
export type PushResponse = z.infer<typeof pushResponseSchema>;
