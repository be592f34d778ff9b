// The feed thread's first module in Node (spawn-feed-thread.ts): plain JavaScript, so Node can
// start it as it is. Like worker-bootstrap.mjs, it lets the thread load the TypeScript sources
// (tsx), then runs the feed's entry.
import { register } from 'tsx/esm/api';

register();
await import('./snapshot-feed-main.ts');
