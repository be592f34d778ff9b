// The wire schemas are the contract between servers and clients of different ages: any change
// to them must be a decision (compatible, or a new PROTOCOL_VERSION), never an accident.
import { createHash } from 'node:crypto';
import { expect, test } from 'vitest';
import { z } from 'zod';
import { ERROR_STATUS } from '../../protocol/errors.ts';
import { PROTOCOL_VERSION } from '../../protocol/version.ts';
import { WIRE_SCHEMAS } from '../../protocol/wire.ts';

/**
 * If this fails, you changed the wire. Decide:
 * - compatible (a new optional field, a new error code): update the hash below, and say so in
 *   docs/protocol.md;
 * - incompatible (a renamed or removed field, a stricter rule): bump PROTOCOL_VERSION, serve
 *   the old version alongside while clients move, then update the hash.
 */
const WIRE_HASH = 'b8d3eb921d6141d25294f649ee984680bcdec946097a9717549e293ac097e357';

function wireDescription(): unknown {
  return {
    version: PROTOCOL_VERSION,
    schemas: Object.fromEntries(
      Object.entries(WIRE_SCHEMAS).map(([name, schema]) => [name, z.toJSONSchema(schema, { io: 'input' })]),
    ),
    errors: ERROR_STATUS,
  };
}

test('the wire schemas are the ones of this protocol version', () => {
  const hash = createHash('sha256').update(JSON.stringify(wireDescription())).digest('hex');
  expect(hash, 'the wire changed: see the comment above WIRE_HASH').toBe(WIRE_HASH);
});
