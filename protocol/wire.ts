/**
 * Every schema that crosses the wire, by name: what the version test hashes and what the docs
 * describe. Adding a message means adding it here.
 */
import { errorBodySchema, errorCodeSchema } from './error-body.ts';
import { opSchema, storedOpSchema } from './op-schema.ts';
import { pokeMessageSchema } from './poke.ts';
import { pullQuerySchema, pullResponseSchema } from './pull.ts';
import { pushRequestSchema, pushResponseSchema } from './push.ts';
import { snapshotQuerySchema } from './snapshot-query.ts';
import { stateResponseSchema } from './state.ts';
import { tokenClaimsSchema } from './token.ts';
import { trashQuerySchema, trashResponseSchema } from './trash.ts';
import { createTreeRequestSchema, createTreeResponseSchema, treeInfoResponseSchema } from './tree.ts';

export const WIRE_SCHEMAS = {
  op: opSchema,
  storedOp: storedOpSchema,
  createTreeRequest: createTreeRequestSchema,
  createTreeResponse: createTreeResponseSchema,
  treeInfoResponse: treeInfoResponseSchema,
  pushRequest: pushRequestSchema,
  pushResponse: pushResponseSchema,
  pullQuery: pullQuerySchema,
  pullResponse: pullResponseSchema,
  snapshotQuery: snapshotQuerySchema,
  stateResponse: stateResponseSchema,
  trashQuery: trashQuerySchema,
  trashResponse: trashResponseSchema,
  pokeMessage: pokeMessageSchema,
  errorBody: errorBodySchema,
  errorCode: errorCodeSchema,
  tokenClaims: tokenClaimsSchema,
} as const;
