/**
 * The few Web APIs the storage layer touches, declared here rather than taken from the DOM
 * library: the root type check (Node's types, no DOM) reads these files too, and every use
 * goes through `web()`, so a context without one of them sees `undefined`, not a crash.
 */

export interface WebLock {
  readonly name: string;
}

export interface LockManager {
  request<T>(name: string, options: { ifAvailable?: boolean; signal?: AbortSignal }, callback: (lock: WebLock | null) => Promise<T> | T): Promise<T>;
}

export interface WebGlobals {
  navigator?: {
    locks?: LockManager;
    storage?: { getDirectory?: () => Promise<unknown> };
  };
  FileSystemFileHandle?: { prototype?: { createSyncAccessHandle?: unknown } };
  indexedDB?: { open?: unknown };
}

export function web(): WebGlobals {
  return globalThis as unknown as WebGlobals;
}
