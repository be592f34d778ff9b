/**
 * A Node Readable as a web ReadableStream (what a Hono Response body is), with backpressure:
 * the Node stream is paused whenever the web stream's queue is full and resumed only when its
 * reader pulls, so a slow socket pauses the source. Cancelling the web stream (the HTTP client
 * went away) destroys the Node stream.
 *
 * Not `Readable.toWeb`: Node 20's copies every chunk, and this one also counts bytes as they
 * leave (`onChunk`), for the metrics.
 */
import type { Readable } from 'node:stream';

export interface WebStreamOptions {
  /** Bytes the web stream may queue ahead of its reader (default 64 KiB). */
  highWaterMark?: number;
  /** Called with each chunk's size as it is handed to the reader's side. */
  onChunk?(bytes: number): void;
  /** Called once when the web stream is finished: `end` (all of it handed over), `error` (the
   * source failed or closed early), `cancel` (the reader went away). */
  onSettled?(how: 'end' | 'error' | 'cancel'): void;
  /** Called when the source fails, before the web stream errors (see the handler for why). */
  onError?(err: Error): void;
}

export function toWebStream(source: Readable, opts: WebStreamOptions = {}): ReadableStream<Uint8Array> {
  let settled = false;
  const settle = (how: 'end' | 'error' | 'cancel', fn: () => void) => {
    if (settled) return;
    settled = true;
    fn();
    opts.onSettled?.(how);
  };
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, err: Error) =>
    settle('error', () => {
      opts.onError?.(err);
      controller.error(err);
    });
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        source.on('data', (chunk: Buffer) => {
          if (settled) return;
          opts.onChunk?.(chunk.length);
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 0) <= 0) source.pause();
        });
        source.once('end', () => settle('end', () => controller.close()));
        source.on('error', (err: Error) => fail(controller, err));
        // Destroyed without an error and without reaching its end: the body is incomplete, and
        // the reader must see that rather than a clean end of stream.
        source.once('close', () => fail(controller, new Error('the stream closed before its end')));
        // Attaching 'data' switched the stream to flowing; nothing flows before the first pull.
        source.pause();
      },
      pull() {
        source.resume();
      },
      cancel() {
        // The reader went away: for the source that is an early end, not a failure of its own.
        settle('cancel', () => source.destroy());
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: opts.highWaterMark ?? 64 * 1024 }),
  );
}
