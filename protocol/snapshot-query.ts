/** `GET /v1/trees/:tree/snapshot?replica=R&floor=TS`: the snapshot request's query. */
import { z } from 'zod';
import { replicaIdSchema, timestampField } from './op-schema.ts';

/**
 * A new replica says who it is and its floor (its clock: it has nothing unpushed yet), both or
 * neither. The server records them in the same transaction that reads the snapshot, so the
 * frontier can never pass the replica's first edits between bootstrap and its first push.
 * Added in protocol 1 without a version bump: a request without them is served as before.
 */
export const snapshotQuerySchema = z
  .object({
    replica: replicaIdSchema.optional(),
    floor: timestampField('floor').optional(),
  })
  .refine((q) => (q.replica === undefined) === (q.floor === undefined), {
    message: 'replica and floor go together: give both or neither',
  });
export type SnapshotQuery = z.infer<typeof snapshotQuerySchema>;
