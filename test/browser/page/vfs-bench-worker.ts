/**
 * Times the two OPFS VFSs that work with wa-sqlite's synchronous build (open-opfs.ts), in a
 * dedicated worker as the replica runs: opening a new replica (module, VFS, schema), and
 * reopening one that holds `nodes` nodes down to its first read.
 */
import * as Comlink from 'comlink';
import { formatTs, type Op } from '../../../protocol/ops.ts';
import { applyOps } from '../../../client/worker/apply-ops.ts';
import { createSchema } from '../../../client/worker/schema.ts';
import { openOpfs, type OpfsVfs } from '../../../client/worker/storage/open-opfs.ts';
import { LocalEdits } from '../../../client/worker/local-edits.ts';

export interface VfsTiming {
  vfs: OpfsVfs;
  /** A new replica: module, VFS, database file, schema. */
  createMs: number;
  /** Filling it with `nodes` node creations in one batch. */
  fillMs: number;
  /** Reopening it (module, VFS, database) up to reading its node count. */
  reopenMs: number;
}

const api = {
  async time(vfs: OpfsVfs, name: string, nodes: number): Promise<VfsTiming> {
    let t = performance.now();
    let opened = await openOpfs(name, vfs);
    await createSchema(opened.db);
    const createMs = performance.now() - t;

    const ops: Op[] = [];
    for (let i = 0; i < nodes; i++) ops.push({ ts: formatTs(1_700_000_000_000 + i, 0, 'bench'), type: 'move', node: `n${i}`, parent: 'ROOT', pos: `a${i}` });
    t = performance.now();
    await applyOps(opened.db, ops, { maxValueBytes: 65536 });
    const fillMs = performance.now() - t;
    await opened.close();

    t = performance.now();
    opened = await openOpfs(name, vfs);
    const count = await opened.db.get('select count(*) from nodes');
    const reopenMs = performance.now() - t;
    await opened.close();
    if (Number(count?.[0]) !== nodes + 2) throw new Error(`reopened ${vfs} replica holds ${String(count?.[0])} nodes, not ${nodes + 2}`);
    return { vfs, createMs, fillMs, reopenMs };
  },
};

/** A local edit's cost in an OPFS replica (the default VFS) under a rollback journal mode:
 * `edits` sets of a field through LocalEdits (the real edit: a transaction with the merge, the
 * outbox row and the clock), one transaction each, on a replica of 1,000 nodes. Milliseconds
 * per edit, sorted. */
export async function editCost(journalMode: string, name: string, edits: number): Promise<number[]> {
  const opened = await openOpfs(name);
  try {
    await opened.db.exec(`pragma journal_mode = ${journalMode}`);
    const mode = await opened.db.get('pragma journal_mode');
    if (String(mode?.[0]).toLowerCase() !== journalMode.toLowerCase()) throw new Error(`journal_mode ${journalMode} not taken: ${String(mode?.[0])}`);
    await createSchema(opened.db);
    const ops: Op[] = [];
    for (let i = 0; i < 1000; i++) ops.push({ ts: formatTs(1_700_000_000_000 + i, 0, 'bench'), type: 'move', node: `n${i}`, parent: 'ROOT', pos: `a${i}` });
    await applyOps(opened.db, ops, { maxValueBytes: 65536 });
    const editor = await LocalEdits.load(opened.db, 'bench', { maxValueBytes: 65536 });
    const times: number[] = [];
    for (let i = 0; i < edits; i++) {
      const t = performance.now();
      await editor.set(`n${i % 1000}`, 'text', `edit ${i}`);
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b);
  } finally {
    await opened.close();
  }
}

const exposed = { ...api, editCost };
export type VfsBenchApi = typeof exposed;
Comlink.expose(exposed);
