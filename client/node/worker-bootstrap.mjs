// The Node worker thread's first module: plain JavaScript, so Node can start it as it is. It
// lets the thread load the TypeScript sources (tsx, as the tests and scripts do), then runs
// the worker entry.
import { register } from 'tsx/esm/api';

register();
await import('./worker-main.ts');
