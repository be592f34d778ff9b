/** Takes OPFS's synchronous access handles away from this worker, as in a browser without them. */
const handle = (globalThis as unknown as { FileSystemFileHandle?: { prototype: Record<string, unknown> } }).FileSystemFileHandle;
if (handle) delete handle.prototype.createSyncAccessHandle;
