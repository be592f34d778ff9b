/**
 * The test page: the client library as an app imports it, put on `window.treesync` so a test
 * drives it through page.evaluate. Replicas opened here stay on `window.replicas` by name
 * between calls.
 */
import { openInspectableReplica } from '../../../client/index.ts';

const page = globalThis as unknown as Record<string, unknown>;
page.treesync = { openReplica: openInspectableReplica };
page.replicas = {};
page.treesyncReady = true;
