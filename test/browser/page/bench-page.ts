/**
 * The benchmark page (npm run bench:browser): what it measures runs here, in the browser,
 * and the Node side only reads the figures.
 */
import * as Comlink from 'comlink';
import { openLocalReplica } from '../../../client/index.ts';
import { formatTs, type Op } from '../../../protocol/ops.ts';
import type { OpfsVfs } from '../../../client/worker/storage/open-opfs.ts';
import type { VfsBenchApi, VfsTiming } from './vfs-bench-worker.ts';

/** Opens and reopens a replica on each OPFS VFS, in a fresh worker each time. */
async function timeVfs(vfs: OpfsVfs, name: string, nodes: number): Promise<VfsTiming> {
  const worker = new Worker(new URL('./vfs-bench-worker.ts', import.meta.url), { type: 'module' });
  const api = Comlink.wrap<VfsBenchApi>(worker);
  try {
    return await api.time(vfs, name, nodes);
  } finally {
    api[Comlink.releaseProxy]();
    worker.terminate();
  }
}

/** A local edit's cost under a journal mode (vfs-bench-worker.ts), in a fresh worker. */
async function editCost(journalMode: string, name: string, edits: number): Promise<number[]> {
  const worker = new Worker(new URL('./vfs-bench-worker.ts', import.meta.url), { type: 'module' });
  const api = Comlink.wrap<VfsBenchApi>(worker);
  try {
    return await api.editCost(journalMode, name, edits);
  } finally {
    api[Comlink.releaseProxy]();
    worker.terminate();
  }
}

/** `total` node creations through the pinned Replica interface into a replica, in batches of
 * `batch`: a tree 1,000 wide at the top, each later node under an earlier one. */
async function bulkCreate(storage: 'opfs' | 'memory', name: string, total: number, batch: number) {
  const replica = await openLocalReplica({ storage, name });
  try {
    const started = performance.now();
    let applied = 0;
    for (let from = 0; from < total; from += batch) {
      const ops: Op[] = [];
      for (let i = from; i < Math.min(total, from + batch); i++) {
        const parent = i < 1000 ? 'ROOT' : `n${(i * 7919) % i}`;
        ops.push({ ts: formatTs(1_700_000_000_000 + i, 0, 'bench'), type: 'move', node: `n${i}`, parent, pos: `a${String(i).padStart(6, '0')}` });
      }
      applied += (await replica.apply(ops)).accepted;
    }
    const seconds = (performance.now() - started) / 1000;
    return { storage: replica.storage, applied, seconds };
  } finally {
    await replica.close();
  }
}

/** Reopens the replica and reads every node back. */
async function reopenAndRead(name: string) {
  const started = performance.now();
  const replica = await openLocalReplica({ storage: 'opfs', name });
  try {
    const openMs = performance.now() - started;
    const nodes = await replica.nodes();
    return { openMs, readMs: performance.now() - started - openMs, nodes: nodes.length };
  } finally {
    await replica.close();
  }
}

/** Bootstraps a new replica of `tree` from the server behind this page's origin: seconds from
 * the call to the committed snapshot, and how many progress events arrived. */
async function bootstrapInto(storage: 'opfs' | 'memory', name: string, tree: string) {
  const replica = await openLocalReplica({ storage, name });
  try {
    let events = 0;
    const started = performance.now();
    const loaded = await replica.bootstrap({ url: (globalThis as unknown as { location: { origin: string } }).location.origin, tree }, () => void events++);
    const seconds = (performance.now() - started) / 1000;
    return { storage: replica.storage, seconds, rows: loaded.rows, bytes: loaded.bytes, seq: loaded.seq, events };
  } finally {
    await replica.close();
  }
}

const page = globalThis as unknown as Record<string, unknown>;
page.bench = { timeVfs, bulkCreate, reopenAndRead, bootstrapInto, editCost };
page.treesyncReady = true;
