/**
 * The wire protocol's version: the `/v1` of every path. It changes only when the wire changes
 * incompatibly; test/protocol/version.test.ts hashes the schemas of wire.ts so that no change
 * to them, compatible or not, lands without someone deciding which it is.
 */
export const PROTOCOL_VERSION = 1;

/** The path prefix of this version's endpoints. */
export const API_PREFIX = `/v${PROTOCOL_VERSION}`;
