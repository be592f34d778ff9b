/**
 * The bytes of one snapshot as a Node Readable: the preamble, then each section's tag and its
 * `COPY … TO STDOUT (FORMAT binary)` bytes passed through, then the end marker
 * (protocol/snapshot-format.ts). It owns a pooled connection whose transaction (REPEATABLE READ,
 * begun by open-snapshot.ts) every COPY reads from, so all sections show one database state.
 *
 * Backpressure, all the way: a COPY's chunks are pushed into this stream and the COPY stream is
 * paused as soon as this stream's buffer is full; paused, it stops reading the connection's
 * socket, the socket's buffers fill, and Postgres blocks in its write (`wait_event` ClientWrite).
 * Memory per snapshot is a few buffers, never a section.
 *
 * Ending early (`destroy()`, or the reader stalled past `stallTimeoutMs`): a running COPY is
 * cancelled in the database from another connection, its bytes in flight are drained and
 * dropped, the transaction is rolled back and the connection goes back to the pool. If that
 * does not happen within `cancelTimeoutMs`, the connection is closed instead (Postgres then
 * ends the backend at its next write). `finished` settles once the connection is given back.
 */
import { Readable } from 'node:stream';
import type pg from 'pg';
import copyStreams, { type CopyToStreamQuery } from 'pg-copy-streams';
import { END_TAG } from '../../protocol/snapshot-format.ts';
import { cancelBackend } from './cancel-backend.ts';

export interface SnapshotStreamOptions {
  /** End the snapshot when its reader has taken nothing for this long while data waits
   * (default 60 s; 0 never): a stalled reader must not hold a connection and an old database
   * snapshot (which holds back vacuum) for ever. */
  stallTimeoutMs?: number;
  /** How long an ended snapshot waits for its cancelled COPY to stop before closing the
   * connection instead of returning it (default 5 s). */
  cancelTimeoutMs?: number;
  /** Bytes this stream buffers ahead of its reader (default 64 KiB). */
  highWaterMark?: number;
}

/** A section to stream: its tag byte and the COPY statement producing its rows. */
export interface SectionCopy {
  tag: number;
  sql: string;
}

export interface SnapshotResult {
  /** `complete`: every byte was produced; `aborted`: the reader went away (or stalled);
   * `failed`: the database failed mid-way. */
  outcome: 'complete' | 'aborted' | 'failed';
  /** Bytes of the framed stream produced (before any compression). */
  bytes: number;
  /** `reused`: the connection went back to the pool; `closed`: it was discarded. */
  connection: 'reused' | 'closed';
  error?: Error;
}

export interface SnapshotLease {
  client: pg.PoolClient;
  /** Its backend's process id, for the cancel. */
  pid: number;
  /** How to open another connection to the same database (the pool's settings). */
  config: pg.ClientConfig;
}

export class SnapshotStream extends Readable {
  /** Settles when the connection has been given back (never rejects). */
  readonly finished: Promise<SnapshotResult>;
  private settle!: (result: SnapshotResult) => void;
  /** Index of the section being streamed; `sections.length` while committing. */
  private section = -1;
  /** The COPY running now, from its start to its 'end' or 'error'. */
  private copy: CopyToStreamQuery | undefined;
  private released = false;
  private bytes = 0;
  /** When the reader last stopped taking data (a COPY paused by backpressure); 0 = it takes. */
  private pausedSince = 0;
  private readonly stallTimer: NodeJS.Timeout | undefined;
  private readonly onClientError = (err: Error) => this.destroy(err);

  constructor(
    private readonly lease: SnapshotLease,
    preamble: Uint8Array,
    private readonly sections: readonly SectionCopy[],
    private readonly opts: SnapshotStreamOptions = {},
  ) {
    super({ highWaterMark: opts.highWaterMark ?? 64 * 1024 });
    this.finished = new Promise((resolve) => (this.settle = resolve));
    // Checked out, a pg client's connection error has no listener (the pool's is for idle
    // clients) and would crash the process; here it ends the snapshot.
    lease.client.on('error', this.onClientError);
    const stallMs = opts.stallTimeoutMs ?? 60_000;
    if (stallMs > 0) {
      this.stallTimer = setInterval(() => {
        if (this.pausedSince && performance.now() - this.pausedSince > stallMs) {
          this.destroy(new Error(`snapshot reader stalled for more than ${stallMs} ms`));
        }
      }, Math.min(1000, Math.max(10, stallMs / 4)));
      this.stallTimer.unref();
    }
    this.produce(Buffer.from(preamble.buffer, preamble.byteOffset, preamble.byteLength));
  }

  override _read(): void {
    this.pausedSince = 0;
    if (this.copy) this.copy.resume();
    else if (this.section < 0) this.next();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    clearInterval(this.stallTimer);
    // The reader learns at once; giving the connection back happens behind its back.
    callback(err);
    if (!this.released) void this.stop(err ?? undefined);
  }

  /** Starts the next section's COPY, or commits after the last one. */
  private next(): void {
    if (this.destroyed) return;
    this.section++;
    const spec = this.sections[this.section];
    if (!spec) {
      // Read-only: the commit changes nothing, but the end marker promises a clean finish.
      this.lease.client.query('commit').then(
        () => {
          if (this.destroyed) return; // stop() gives the connection back
          this.release('complete');
          this.produce(Buffer.of(END_TAG));
          this.push(null);
        },
        (err: Error) => this.destroy(err),
      );
      return;
    }
    this.produce(Buffer.of(spec.tag));
    const copy = this.lease.client.query(copyStreams.to(spec.sql));
    this.copy = copy;
    copy.on('data', (chunk: Buffer) => {
      if (this.destroyed) return; // draining a cancelled COPY: dropped
      if (!this.produce(chunk)) {
        copy.pause();
        this.pausedSince ||= performance.now();
      }
    });
    copy.on('end', () => {
      this.copy = undefined;
      this.next();
    });
    copy.on('error', (err: Error) => {
      this.copy = undefined;
      this.destroy(err);
    });
  }

  private produce(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    return this.push(chunk);
  }

  /** After destroy: stop the COPY if one runs, roll back, give the connection back. */
  private async stop(err: Error | undefined): Promise<void> {
    const outcome = err ? 'failed' : 'aborted';
    const copy = this.copy;
    if (copy) {
      const stopped = new Promise<void>((resolve) => {
        copy.once('end', resolve);
        copy.once('error', () => resolve());
      });
      copy.resume(); // drain what is in flight; the data handler drops it
      try {
        await cancelBackend(this.lease.config, this.lease.pid);
      } catch (cancelErr) {
        // No connection for the cancel (max_connections?): closing this one stops the backend.
        return this.release(outcome, err, asError(cancelErr));
      }
      if (!(await settlesWithin(stopped, this.opts.cancelTimeoutMs ?? 5000))) {
        return this.release(outcome, err, new Error('the cancelled COPY did not stop in time'));
      }
    }
    try {
      await this.lease.client.query('rollback');
      this.release(outcome, err);
    } catch (rollbackErr) {
      this.release(outcome, err, asError(rollbackErr));
    }
  }

  /** Gives the connection back: to the pool, or closed when `broken` says it is unusable. */
  private release(outcome: SnapshotResult['outcome'], error?: Error, broken?: Error): void {
    if (this.released) return;
    this.released = true;
    clearInterval(this.stallTimer);
    this.lease.client.off('error', this.onClientError);
    this.lease.client.release(broken);
    this.settle({ outcome, bytes: this.bytes, connection: broken ? 'closed' : 'reused', ...(error ? { error } : {}) });
  }
}

function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
