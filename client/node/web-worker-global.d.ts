// The root type check (Node's types, no DOM lib) also reads client/spawn-worker.ts, which
// index.ts imports for browsers. This declares the little of the Web Worker global that file
// uses, for that check only: client/tsconfig.json (DOM and WebWorker libs) leaves client/node/
// out and checks the same file against the real declarations.
interface WorkerOptions {
  type?: 'classic' | 'module';
  name?: string;
}
interface Worker {
  postMessage(message: unknown, transfer?: unknown[]): void;
  terminate(): void;
  addEventListener(type: string, listener: (event: unknown) => void): void;
  removeEventListener(type: string, listener: (event: unknown) => void): void;
}
declare var Worker: { prototype: Worker; new (url: URL | string, options?: WorkerOptions): Worker };
