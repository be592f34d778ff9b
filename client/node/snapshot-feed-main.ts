/**
 * The feed thread's entry in Node (snapshot-feed-bootstrap.mjs loads it): the same feed as a
 * browser's module worker (client/worker/sync/snapshot-feed-serve.ts), on worker_threads'
 * parentPort.
 */
import { parentPort } from 'node:worker_threads';
import { serveFeed, type ToFeed } from '../worker/sync/snapshot-feed-serve.ts';

const port = parentPort;
if (!port) throw new Error('snapshot-feed-main.ts runs in a worker thread');
serveFeed({
  post: (message, transfer = []) => port.postMessage(message, transfer),
  listen: (handler) => port.on('message', (message: ToFeed) => handler(message)),
});
