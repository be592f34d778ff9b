/**
 * The feed thread: a second worker, started by the replica's worker for a bootstrap
 * (snapshot-feed.ts), that fetches the snapshot stream, parses its COPY data and stages its rows
 * (snapshot-stage.ts), while the replica's worker inserts the batches it already handed over.
 * The two overlap on two cores: SQLite's B-tree work on one, everything before the binds on
 * the other.
 *
 * A batch crosses as transferred ArrayBuffers (no copy): its staged bytes and the kinds,
 * offsets and lengths of its values. The replica's worker sends the buffers back with its ack
 * once the batch is inserted, and at most `window` batches are out at a time: the feed thread
 * stops reading the stream until an ack comes, so a slow SQLite slows the fetch (backpressure)
 * and memory stays a few batches whatever the snapshot's size.
 *
 * Everything the stream is checked for (readSnapshotWith, the stage's decoders) is checked
 * here; an error crosses by name, code, message and details, and the replica's worker throws
 * it again (it has not committed: its previous replica stays).
 */
import { readSnapshotWith } from '../../snapshot-reader.ts';
import type { SnapshotProgress } from '../../snapshot-reader.ts';
import type { SectionName, SnapshotHeader } from '../../../protocol/snapshot-format.ts';
import { SnapshotStage, type StageMemory } from './snapshot-stage.ts';
import { snapshotBody, type SnapshotRequest } from './snapshot-request.ts';

/** The buffers of one batch: they go over with it and come back with its ack. */
export interface FeedBuffers {
  kinds: Uint8Array;
  offsets: Int32Array;
  lengths: Int32Array;
  /** The staged bytes (the arena), from offset 0. */
  bytes: Uint8Array;
}

/** The replica's worker to the feed thread. A thread serves one bootstrap after the other (it
 * is kept for the next), each a `session`. */
export type ToFeed =
  | { type: 'start'; session: number; request: SnapshotRequest; batchRows: number; window: number }
  /** A batch is inserted: its buffers, for the next. */
  | { type: 'ack'; session: number; buffers: FeedBuffers }
  /** The bootstrap ended early (failed, aborted): stop reading, end the request. */
  | { type: 'cancel'; session: number };

/** An error as it crosses: rebuilt on the other side (snapshot-feed.ts). */
export interface FeedError {
  name: string;
  code?: string;
  message: string;
  details?: Record<string, unknown>;
}

/** The feed thread to the replica's worker: `ready` once, when it has started; the rest for one
 * session. */
export type FromFeed =
  | { type: 'ready' }
  | ({ session: number } & FromSession);

type FromSession =
  /** The server answered with a snapshot: its body is being read. */
  | { type: 'response' }
  | { type: 'header'; header: SnapshotHeader }
  | {
      type: 'rows';
      section: SectionName;
      rows: number;
      values: number;
      /** Staged bytes in `buffers.bytes`. */
      used: number;
      buffers: FeedBuffers;
      progress: SnapshotProgress;
    }
  /** The stream ended as it should: every check passed. */
  | { type: 'end' }
  | { type: 'error'; error: FeedError };

/** How the feed thread talks to the replica's worker (a worker's global scope, or Node's
 * parentPort), whichever runtime it is in. */
export interface FeedPort {
  post(message: FromFeed, transfer?: ArrayBuffer[]): void;
  listen(handler: (message: ToFeed) => void): void;
}

/** The arena in a plain ArrayBuffer: always at offset 0 of `heap`, which grows by copying. */
class BufferMemory implements StageMemory {
  heap: Uint8Array = new Uint8Array(0);
  grow(_arena: number, keep: number, bytes: number): number {
    const next = new Uint8Array(bytes);
    next.set(this.heap.subarray(0, keep));
    this.heap = next;
    return 0;
  }
  free(): void {}
}

/** A stage whose batch can be handed over whole, and refilled with buffers that came back. */
class HandOverStage extends SnapshotStage {
  constructor(private readonly buffer: BufferMemory) {
    super(buffer);
  }

  /** This batch's buffers (the stage is cleared and takes `next` for the following one). */
  handOver(next: FeedBuffers | undefined): { buffers: FeedBuffers; values: number; used: number } {
    const out = { buffers: { kinds: this.kinds, offsets: this.offsets, lengths: this.lengths, bytes: this.buffer.heap }, values: this.values, used: this.used };
    const spare = next ?? { kinds: new Uint8Array(this.kinds.length), offsets: new Int32Array(this.offsets.length), lengths: new Int32Array(this.lengths.length), bytes: new Uint8Array(this.buffer.heap.length) };
    this.kinds = spare.kinds;
    this.offsets = spare.offsets;
    this.lengths = spare.lengths;
    this.buffer.heap = spare.bytes;
    this.arenaBytes = spare.bytes.length;
    this.clear();
    return out;
  }
}

function transferOf(b: FeedBuffers): ArrayBuffer[] {
  return [b.kinds.buffer, b.offsets.buffer, b.lengths.buffer, b.bytes.buffer] as ArrayBuffer[];
}

/** Serves bootstraps, one after the other, until the thread is ended. */
export function serveFeed(port: FeedPort): void {
  /** Buffers that came back, for the next batches (of any session). */
  const spares: FeedBuffers[] = [];
  /** The session being fed: its batches out, and what wakes it (an ack, a cancel). */
  let current: { session: number; inFlight: number; abort: AbortController; wake?: () => void } | undefined;
  port.listen((message) => {
    if (message.type === 'start') {
      current?.abort.abort();
      const session = { session: message.session, inFlight: 0, abort: new AbortController() };
      current = session;
      const { request, batchRows, window } = message;
      feed(session, request, batchRows, window).catch((err: unknown) => {
        if (!session.abort.signal.aborted) port.post({ session: session.session, type: 'error', error: feedError(err) });
      });
      return;
    }
    if (message.type === 'ack') spares.push(message.buffers);
    const session = current;
    if (!session || session.session !== message.session) return;
    if (message.type === 'ack') session.inFlight--;
    else session.abort.abort();
    session.wake?.();
    session.wake = undefined;
  });
  port.post({ type: 'ready' });

  async function feed(s: NonNullable<typeof current>, request: SnapshotRequest, batchRows: number, window: number): Promise<void> {
    const { signal } = s.abort;
    const res = await fetch(request.url, { headers: request.headers, signal });
    const body = await snapshotBody(res, request.url);
    port.post({ session: s.session, type: 'response' });
    const stage = new HandOverStage(new BufferMemory());
    for await (const event of readSnapshotWith(body, stage.decoders, { batchSize: batchRows })) {
      if (event.kind === 'header') {
        port.post({ session: s.session, type: 'header', header: event.header });
        continue;
      }
      // Backpressure: no more than `window` batches out; the stream waits meanwhile.
      while (s.inFlight >= window && !signal.aborted) await new Promise<void>((resolve) => (s.wake = resolve));
      if (signal.aborted) return; // leaving the loop cancels the stream
      const rows = stage.rows;
      const { buffers, values, used } = stage.handOver(spares.pop());
      s.inFlight++;
      port.post({ session: s.session, type: 'rows', section: event.section, rows, values, used, buffers, progress: event.progress }, transferOf(buffers));
    }
    port.post({ session: s.session, type: 'end' });
  }
}

function feedError(err: unknown): FeedError {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; details?: unknown };
    return {
      name: e.name,
      message: e.message,
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(e.details && typeof e.details === 'object' ? { details: e.details as Record<string, unknown> } : {}),
    };
  }
  return { name: 'Error', message: String(err) };
}
