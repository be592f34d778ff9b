/**
 * The replica's worker as it runs in a browser without OPFS's synchronous access handles
 * (older Safari and Firefox): the same worker module, evaluated after strip-opfs.ts (imports
 * run in order; a dynamic import would let the page's first messages arrive before the worker
 * listens).
 */
import './strip-opfs.ts';
import '../../../client/worker/worker.ts';
