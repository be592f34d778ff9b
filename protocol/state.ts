/** `GET /v1/trees/:tree/state`: the whole tree as JSON, read from one consistent snapshot. */
import { z } from 'zod';
import { seqSchema } from './op-schema.ts';

/**
 * Nodes sorted by id, values by (node, key), bytewise: the canonical form, so two replicas'
 * states compare as JSON. Removed fields (null) are left out; fields of nodes that do not
 * exist are kept (content is independent of the tree, design.md).
 */
export const stateResponseSchema = z.object({
  seq: seqSchema,
  nodes: z.array(z.object({ id: z.string(), parent: z.string().nullable(), pos: z.string() })),
  values: z.array(z.object({ node: z.string(), key: z.string(), value: z.json() })),
});
export type StateResponse = z.infer<typeof stateResponseSchema>;
