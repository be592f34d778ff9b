/**
 * The replica's worker's side of the feed thread (snapshot-feed-serve.ts): starts it, sends it
 * the request, and turns its messages into the staged batches the loader inserts
 * (load-snapshot.ts's loadStaged). Each batch's bytes are copied into the SQLite module's
 * memory (one copy at memory speed) and bound there; its buffers go back with the ack.
 *
 * Where no second worker can start (no factory: a runtime without nested workers; or it fails
 * before its first message), openFeed answers undefined and the bootstrap fetches and parses
 * in the replica's worker itself, as before.
 */
import { SnapshotError, type SnapshotErrorCode } from '../../snapshot-error.ts';
import { TreesyncError, type ErrorCode } from '../../../protocol/errors.ts';
import type { RawModule } from '../sqlite-db.ts';
import type { FeedError, FromFeed, ToFeed } from './snapshot-feed-serve.ts';
import type { StagedEvent } from './load-snapshot.ts';
import type { SnapshotRequest } from './snapshot-request.ts';

/** A started feed thread. */
export interface FeedThread {
  post(message: ToFeed, transfer?: ArrayBuffer[]): void;
  terminate(): void;
}

/** Starts a feed thread whose messages go to `onMessage`; `onError` hears it fail (to start, or
 * later) or end. Throws when none can start here. */
export type StartFeed = (onMessage: (message: FromFeed) => void, onError: (err: unknown) => void) => FeedThread;

/** In a browser (or any runtime with module Workers in workers): a module worker. */
function startWebFeed(onMessage: (message: FromFeed) => void, onError: (err: unknown) => void): FeedThread {
  const worker = new Worker(new URL('./snapshot-feed-worker.ts', import.meta.url), { type: 'module', name: 'treesync-snapshot-feed' });
  worker.addEventListener('message', (event) => onMessage((event as { data: FromFeed }).data));
  worker.addEventListener('error', (event) => {
    const e = event as { message?: string; preventDefault?(): void };
    e.preventDefault?.();
    onError(new Error(`the snapshot feed worker failed: ${e.message ?? 'no message'}`));
  });
  worker.addEventListener('messageerror', () => onError(new Error('the snapshot feed worker sent a message that could not be read')));
  return { post: (message, transfer = []) => worker.postMessage(message, transfer), terminate: () => worker.terminate() };
}

let startFeed: StartFeed | undefined = typeof Worker === 'function' ? startWebFeed : undefined;

/** Sets how feed threads start (the Node entry: a worker_threads Worker); undefined: never,
 * the bootstrap runs in one thread. */
export function useFeedThreads(start: StartFeed | undefined): void {
  startFeed = start;
  thread?.terminate();
  thread = undefined;
}

/** Batches the feed thread may have out before an ack. */
const WINDOW = 4;

/** The feed thread, started at the first bootstrap and kept for the next ones (starting one
 * costs more than a small bootstrap). One session at a time: bootstraps run one at a time. */
class SharedThread {
  /** It said `ready`: it started. */
  ready = false;
  /** It failed or ended: a new one is started for the next bootstrap. */
  dead = false;
  private readonly thread: FeedThread;
  /** The session listening, and what it hears. */
  private listener: { session: number; message(m: FromFeed): void; failed(err: unknown): void } | undefined;

  constructor(start: StartFeed) {
    this.thread = start(
      (message) => {
        if (message.type === 'ready') this.ready = true;
        else if (message.session === this.listener?.session) this.listener.message(message);
      },
      (err) => {
        this.dead = true;
        this.thread.terminate();
        this.listener?.failed(err);
      },
    );
  }

  post(message: ToFeed, transfer?: ArrayBuffer[]): void {
    this.thread.post(message, transfer);
  }

  listen(listener: SharedThread['listener']): void {
    this.listener = listener;
  }

  terminate(): void {
    this.dead = true;
    this.thread.terminate();
  }
}

let thread: SharedThread | undefined;
let sessions = 0;

/**
 * Starts the feed thread now if there is none (or it ended), so that it is ready when a
 * bootstrap needs it; true when one is running or starting from before. A bootstrap that finds
 * none running starts one and loads in one thread itself: it never waits for a thread to start
 * (in Node from the sources that takes half a second), and the next bootstrap uses it. In a
 * browser, starting a bundled module worker is cheap: it is started when this module loads.
 */
export function prepareFeed(): boolean {
  if (!startFeed) return false;
  if (thread && !thread.dead) return true;
  try {
    thread = new SharedThread(startFeed);
  } catch {
    startFeed = undefined;
  }
  return false;
}

/** An open feed: the server answered with a snapshot. `events` is read once; `close` ends
 * the session (and with it the request, if it is still being read). */
export interface Feed {
  events(m: RawModule): AsyncGenerator<StagedEvent, void, undefined>;
  close(): void;
}

/**
 * Sends `request` to the feed thread (started now if there is none). Resolves once the server
 * answered with a snapshot; rejects with the server's refusal (or the fetch's failure), or when
 * `signal` aborts; resolves undefined when no feed thread can start here (then nothing was
 * requested, and none is tried again).
 */
export async function openFeed(request: SnapshotRequest, batchRows: number, signal?: AbortSignal): Promise<Feed | undefined> {
  if (!startFeed) return undefined;
  if (thread?.dead && !thread.ready) {
    // It failed before it said it was ready: none can start here. Not tried again.
    startFeed = undefined;
    return undefined;
  }
  if (!prepareFeed() || !thread) return undefined;
  const t = thread;
  const session = ++sessions;
  const queue: FromFeed[] = [];
  let failure: unknown;
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    signal?.removeEventListener('abort', onAbort);
    t.listen(undefined);
    if (!t.dead) t.post({ type: 'cancel', session });
  };
  const onAbort = () => {
    failure ??= signal?.reason ?? new DOMException('the bootstrap was aborted', 'AbortError');
    close();
    poke();
  };
  if (signal?.aborted) throw signal.reason;
  signal?.addEventListener('abort', onAbort);
  t.listen({
    session,
    message(m) {
      queue.push(m);
      poke();
    },
    failed(err) {
      failure ??= err;
      poke();
    },
  });

  /** The next message; throws the thread's error or failure. */
  const next = async (): Promise<FromFeed> => {
    for (;;) {
      const message = queue.shift();
      if (message) {
        if (message.type === 'error') throw rebuild(message.error);
        return message;
      }
      if (failure !== undefined) throw failure;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };

  t.post({ type: 'start', session, request, batchRows, window: WINDOW });
  try {
    const first = await next();
    if (first.type !== 'response') throw new Error(`the snapshot feed began with ${first.type}`);
  } catch (err) {
    close();
      // It failed before it started: none can start here. The caller falls back.
    if (!t.ready && !signal?.aborted) {
      startFeed = undefined;
      return undefined;
    }
    throw err;
  }

  async function* events(m: RawModule): AsyncGenerator<StagedEvent, void, undefined> {
    /** The batch's bytes in the module's memory. */
    let arena = 0;
    let arenaBytes = 0;
    try {
      for (;;) {
        const message = await next();
        if (message.type === 'end') return;
        if (message.type === 'header') {
          yield { kind: 'header', header: message.header };
          continue;
        }
        if (message.type !== 'rows') throw new Error(`the snapshot feed sent ${message.type} in the stream`);
        const { buffers, used } = message;
        if (used > arenaBytes) {
          if (arena) m._sqlite3_free(arena);
          arenaBytes = Math.max(used, arenaBytes * 2, 1 << 20);
          arena = m._sqlite3_malloc(arenaBytes);
          if (!arena) throw new Error('SQLite out of memory for the snapshot arena');
        }
        m.HEAPU8.set(buffers.bytes.subarray(0, used), arena);
        yield {
          kind: 'rows',
          section: message.section,
          staged: { rows: message.rows, kinds: buffers.kinds, offsets: buffers.offsets, lengths: buffers.lengths, arena },
          progress: message.progress,
          done: () => {
            if (!closed && !t.dead) t.post({ type: 'ack', session, buffers }, [buffers.kinds.buffer, buffers.offsets.buffer, buffers.lengths.buffer, buffers.bytes.buffer] as ArrayBuffer[]);
          },
        };
      }
    } finally {
      if (arena) m._sqlite3_free(arena);
      close();
    }
  }
  return { events, close };
}

/** The error the feed thread sent, as it was thrown there (matched by name and code). */
function rebuild(error: FeedError): Error {
  if (error.name === 'SnapshotError') return new SnapshotError(error.code as SnapshotErrorCode, error.message);
  if (error.name === 'TreesyncError') return new TreesyncError(error.code as ErrorCode, error.message, error.details ?? {});
  const err = new Error(error.message);
  err.name = error.name;
  return err;
}

// In a browser: started with the replica's worker (prepareFeed).
if (startFeed) prepareFeed();
