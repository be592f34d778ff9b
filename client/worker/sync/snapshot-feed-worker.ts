/**
 * The feed thread's entry in a browser: a module worker that the replica's worker starts
 * (snapshot-feed.ts names this file with a `new URL` relative to its own module, which an app's
 * bundler finds and bundles like the replica's own worker). In Node the entry is
 * client/node/snapshot-feed-main.ts.
 */
import { serveFeed, type FromFeed, type ToFeed } from './snapshot-feed-serve.ts';

const scope = globalThis as unknown as {
  postMessage(message: FromFeed, transfer: ArrayBuffer[]): void;
  addEventListener(type: 'message', listener: (event: { data: ToFeed }) => void): void;
};
serveFeed({
  post: (message, transfer = []) => scope.postMessage(message, transfer),
  listen: (handler) => scope.addEventListener('message', (event) => handler(event.data)),
});
