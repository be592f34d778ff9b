/**
 * Starts a bootstrap's feed thread in Node (client/worker/sync/snapshot-feed.ts): a
 * worker_threads Worker started by the replica's worker thread. The Node counterpart of the
 * module worker a browser starts; worker-main.ts installs it.
 */
import { Worker } from 'node:worker_threads';
import type { StartFeed } from '../worker/sync/snapshot-feed.ts';
import type { FromFeed } from '../worker/sync/snapshot-feed-serve.ts';

export const startFeedThread: StartFeed = (onMessage, onError) => {
  const worker = new Worker(new URL('./snapshot-feed-bootstrap.mjs', import.meta.url));
  // An idle feed thread (kept for the next bootstrap) does not keep its parent alive.
  worker.unref();
  worker.on('message', (message: FromFeed) => onMessage(message));
  worker.on('error', onError);
  worker.on('exit', (code) => onError(new Error(`the snapshot feed thread exited (${code})`)));
  return {
    post: (message, transfer = []) => worker.postMessage(message, transfer),
    terminate: () => void worker.terminate(),
  };
};
