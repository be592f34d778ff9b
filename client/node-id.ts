/**
 * New node ids, made on either side of the worker boundary: the worker makes one for a create
 * that names none, and the app's thread makes one so that it can draw the new node before the
 * worker has created it (tree-client.ts, the `pending` event).
 */
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A new node id: 16 random characters of [A-Za-z0-9_-] (96 bits). */
export function newNodeId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let id = '';
  for (const b of bytes) id += ID_ALPHABET[b & 63];
  return id;
}
