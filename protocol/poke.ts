/** Messages of the `GET /v1/trees/:tree/events` WebSocket (server to client). */
import { z } from 'zod';
import { seqSchema } from './op-schema.ts';

/** The tree's seq grew to `seq` (also sent once right after connecting, with the seq then).
 * Pokes carry no operations: the client pulls. A client never receives a seq lower than one it
 * got on the same connection. */
export const pokeMessageSchema = z.object({ type: z.literal('poke'), seq: seqSchema });
export type PokeMessage = z.infer<typeof pokeMessageSchema>;
