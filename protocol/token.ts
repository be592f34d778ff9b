/** The claims of a treesync JWT (HS256, signed with `TREESYNC_JWT_SECRET`). */
import { z } from 'zod';
import { stringProblem } from './json-limits.ts';
import { TREE_ID } from './ops.ts';

export const tokenClaimsSchema = z.object({
  /** Who: a user or service id; rate limits are per subject, and a replica id belongs to
   * the subject that first used it on a tree. */
  sub: z
    .string()
    .min(1)
    .max(256)
    .refine((s) => stringProblem(s) === undefined, 'sub must be text the database can store'),
  /** The trees the token grants, or ["*"] for all. */
  trees: z.array(z.union([z.literal('*'), z.string().regex(TREE_ID)])).min(1),
  /** `write` includes `read`. */
  scope: z.enum(['read', 'write']),
  /** Expiry, seconds since the epoch; honoured when present. */
  exp: z.number().optional(),
});
export type TokenClaims = z.infer<typeof tokenClaimsSchema>;
export type Scope = TokenClaims['scope'];
