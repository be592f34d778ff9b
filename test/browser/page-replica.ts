/**
 * Drives the pinned `Replica` inside a test page from Node: each call is one page.evaluate on
 * the replica the page keeps by name (page/main.ts). Errors come back as plain objects with the
 * fields a caller matches on (`name`, `code`, `message`, `reason`), since an Error thrown in
 * the page reaches Node only as text.
 */
import type { Page } from 'playwright-core';
import type { Op } from '../../protocol/ops.ts';
import type { ApplyResult, NodeRow, ValueRow } from '../../client/worker-api.ts';
import type { OpenReplicaOptions, StoredReplica } from '../../client/index.ts';

interface PageGlobals {
  treesync: Record<'openReplica' | 'openWithoutOpfs', (options: OpenReplicaOptions) => Promise<StoredReplica>>;
  replicas: Record<string, StoredReplica>;
}

export interface PageError {
  name: string;
  code: string;
  message: string;
  reason?: string;
}

export type Opened = { ok: true; storage: string } | { ok: false; error: PageError };

/** Opens a replica in the page and keeps it as `key`; resolves with its storage or its error.
 * `withoutOpfs`: in a worker that has no OPFS (page/no-opfs-worker.ts). */
export function openIn(page: Page, key: string, options: OpenReplicaOptions, withoutOpfs = false): Promise<Opened> {
  return page.evaluate(
    async ([key, options, withoutOpfs]) => {
      const g = globalThis as unknown as PageGlobals;
      try {
        const replica = await g.treesync[withoutOpfs ? 'openWithoutOpfs' : 'openReplica'](options);
        g.replicas[key] = replica;
        return { ok: true as const, storage: replica.storage };
      } catch (err) {
        const e = err as PageError;
        return { ok: false as const, error: { name: String(e.name), code: String(e.code), message: String(e.message), reason: e.reason } };
      }
    },
    [key, options, withoutOpfs] as const,
  );
}

export function applyIn(page: Page, key: string, ops: Op[]): Promise<ApplyResult> {
  // Ops cross as plain JSON (`unknown[]`): the serialisable mirror of the recursive Json type
  // is too deep for the type checker.
  const args: [string, unknown[]] = [key, ops];
  return page.evaluate(([key, ops]) => (globalThis as unknown as PageGlobals).replicas[key]!.apply(ops as Op[]), args);
}

export function nodesIn(page: Page, key: string): Promise<NodeRow[]> {
  return page.evaluate((key) => (globalThis as unknown as PageGlobals).replicas[key]!.nodes(), key);
}

export function valuesIn(page: Page, key: string): Promise<ValueRow[]> {
  return page.evaluate((key) => (globalThis as unknown as PageGlobals).replicas[key]!.values(), key);
}

export function closeIn(page: Page, key: string): Promise<void> {
  return page.evaluate(async (key) => {
    const g = globalThis as unknown as PageGlobals;
    await g.replicas[key]!.close();
    delete g.replicas[key];
  }, key);
}

/** What the origin's storage holds: the file names in OPFS under treesync/<name>, and the
 * IndexedDB database names. */
export function storedIn(page: Page, name: string): Promise<{ opfs: string[]; idb: string[] }> {
  return page.evaluate(async (name) => {
    interface Dir {
      getDirectoryHandle(name: string): Promise<Dir>;
      keys(): AsyncIterable<string>;
    }
    const g = globalThis as unknown as {
      navigator: { storage: { getDirectory(): Promise<Dir> } };
      indexedDB: { databases(): Promise<{ name?: string }[]> };
    };
    const opfs: string[] = [];
    try {
      const dir = await (await (await g.navigator.storage.getDirectory()).getDirectoryHandle('treesync')).getDirectoryHandle(name);
      for await (const key of dir.keys()) opfs.push(key);
    } catch {
      // no such folder: nothing stored in OPFS under that name
    }
    const idb = (await g.indexedDB.databases()).map((d) => d.name ?? '');
    return { opfs: opfs.sort(), idb: idb.sort() };
  }, name);
}

/** Calls any method of the replica kept as `key` with JSON arguments; resolves with its answer. */
export function callIn<T>(page: Page, key: string, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    ([key, method, args]) => {
      const replica = (globalThis as unknown as PageGlobals).replicas[key] as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      return replica[method]!(...args);
    },
    [key, method, args] as [string, string, unknown[]],
  ) as Promise<T>;
}
