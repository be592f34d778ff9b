/**
 * Operations: the unit of change, shared by the server, the client and the tests.
 *
 * Glossary
 * - node:     an element of the tree, named by an id (`[A-Za-z0-9_-]{1,64}`). `ROOT` and `TRASH`
 *             exist in every tree from the start, have no parent and never move.
 * - op:       an operation, `move` or `set`. Its `ts` is its identity.
 * - move:     places `node` under `parent` at order key `pos`; the first applied move of a node
 *             creates it; deleting is a move into the trash.
 * - set:      writes one field (`key`) of a node's content; last writer (greatest `ts`) wins;
 *             a `null` value removes the field.
 * - ts:       a hybrid logical clock string, `WWWWWWWWWWWWW.CCCCC.replica`, that sorts correctly
 *             byte by byte. Always compare with plain `<` (JS), `COLLATE "C"` (Postgres), BINARY
 *             (SQLite); never with a locale.
 * - seq:      the server's sequence number of a tree: every stored op has one, gap-free.
 * - floor:    the oldest ts a replica may still send (its oldest unpushed op, else its clock).
 * - seen:     the highest seq a replica has applied; on an op, what its author had applied when
 *             it made it (a delete that had not seen an edit inside its subtree is undone).
 * - frontier: the smallest floor among live replicas; no op older than it can still arrive, so
 *             the move log before it is never undone again.
 */

export const ROOT = 'ROOT';
/** The replica id of the server's own operations (restores); no client may push as it. */
export const SERVER_REPLICA = 'server';
export const TRASH = 'TRASH';

export const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const REPLICA_ID = /^[A-Za-z0-9_-]{1,32}$/;
export const TREE_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const TIMESTAMP = /^[0-9]{13}\.[0-9]{5}\.[A-Za-z0-9_-]{1,32}$/;
export const FIELD_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
/** Printable ASCII, at most 128 bytes, may be empty. */
export const ORDER_KEY = /^[\x20-\x7e]{0,128}$/;

/** Default limit on a set value's serialised JSON size, in bytes. */
export const MAX_VALUE_BYTES = 64 * 1024;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface MoveOp {
  ts: string;
  type: 'move';
  node: string;
  parent: string;
  pos: string;
  /** The seq its author had applied when it made it; absent: the push's `seen`. */
  seen?: number;
}

export interface SetOp {
  ts: string;
  type: 'set';
  node: string;
  key: string;
  value: Json;
  /** The seq its author had applied when it made it; absent: the push's `seen`. */
  seen?: number;
}

export type Op = MoveOp | SetOp;

/** An op as the server stored it: with its sequence number. */
export type StoredOp = Op & { seq: number };

/** Bytewise comparison of two timestamps (or ids). JS string `<` compares UTF-16 code units,
 * which for the ASCII alphabets above is the same as bytes. */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The replica id inside a timestamp. */
export function tsReplica(ts: string): string {
  return ts.slice(20);
}

/** The wall-clock milliseconds inside a timestamp. */
export function tsWall(ts: string): number {
  return Number(ts.slice(0, 13));
}

/** Formats a timestamp from its parts. */
export function formatTs(wall: number, counter: number, replica: string): string {
  return `${String(wall).padStart(13, '0')}.${String(counter).padStart(5, '0')}.${replica}`;
}
