/**
 * The child process of server-process.ts: serves snapshots of `TREESYNC_TEST_DB_URL` on a free
 * loopback port and watches its own memory, so a test or benchmark can measure the server's
 * memory apart from its reader's. Speaks over the IPC channel (messages in server-process.ts).
 */
import pg from 'pg';
import type { SnapshotResult } from '../../server/snapshot/snapshot-stream.ts';
import type { ChildMessage, ParentMessage, ProcessMemory } from './server-process.ts';
import { serveSnapshots } from './serve-snapshots.ts';

const url = process.env.TREESYNC_TEST_DB_URL;
if (!url || !process.send) throw new Error('run me through startServerProcess()');
const send = (message: ChildMessage) => process.send!(message);

const snapshotPool = new pg.Pool({ connectionString: url, max: Number(process.env.TREESYNC_TEST_POOL_MAX ?? 2) });
snapshotPool.on('error', () => {});
const stallTimeoutMs = process.env.TREESYNC_TEST_STALL_MS ? Number(process.env.TREESYNC_TEST_STALL_MS) : undefined;
const gzipLevel = process.env.TREESYNC_TEST_GZIP_LEVEL ? Number(process.env.TREESYNC_TEST_GZIP_LEVEL) : undefined;
const server = await serveSnapshots({
  snapshotPool,
  ...(gzipLevel !== undefined ? { gzipLevel } : {}),
  ...(stallTimeoutMs !== undefined ? { snapshot: { stallTimeoutMs } } : {}),
  onDone: (ms: number, bytes: number, result: SnapshotResult) =>
    send({ type: 'done', ms, bytes, outcome: result.outcome, connection: result.connection, error: result.error?.message }),
});

// Peaks since the last reset: RSS sampled every 5 ms (cheap), the heap every 50 ms.
let peak = { rss: 0, heap: 0 };
const reset = () => {
  const m = process.memoryUsage();
  peak = { rss: m.rss, heap: m.heapUsed + m.external };
};
reset();
let tick = 0;
setInterval(() => {
  peak.rss = Math.max(peak.rss, process.memoryUsage.rss());
  if (++tick % 10 === 0) {
    const m = process.memoryUsage();
    peak.heap = Math.max(peak.heap, m.heapUsed + m.external);
  }
}, 5).unref();

const memory = (): ProcessMemory => {
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external, peakRss: peak.rss, peakHeap: peak.heap };
};

process.on('message', (message: ParentMessage) => {
  if (message.type === 'memory') send({ type: 'memory', memory: memory() });
  else if (message.type === 'reset') {
    global.gc?.();
    reset();
    send({ type: 'memory', memory: memory() });
  } else if (message.type === 'stop') {
    void server.close().then(() => snapshotPool.end()).then(() => process.exit(0));
  }
});

send({ type: 'listening', base: server.url('TREE').replace('/v1/trees/TREE/snapshot', '') });
