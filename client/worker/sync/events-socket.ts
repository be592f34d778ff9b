/**
 * The events WebSocket (`/v1/trees/:tree/events`): pokes carry the tree's seq, and the loop
 * pulls when one is ahead of the replica. Reconnects with backoff when the connection drops
 * (a server restart closes it with 1001) until stopped. The WebSocket class is given: the
 * browser's global one, or the `ws` package's in Node 20 (injected by the Node entry, so this
 * file uses no Node API).
 */
import { Backoff, type BackoffOptions } from './backoff.ts';

/** The little of the WebSocket interface used here; the browser's and `ws`'s both have it. */
export interface SocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number): void;
}
export type SocketClass = new (url: string) => SocketLike;

export interface EventsSocketOptions {
  url: string;
  tree: string;
  WebSocket: SocketClass;
  /** The bearer token; `refresh` when the last connection closed before it opened (a refused
   * upgrade looks like that: a browser's WebSocket does not show the 401). */
  token(refresh: boolean): Promise<string | undefined>;
  onPoke(seq: number): void;
  /** The socket (re)opened: the loop pulls, in case pokes were missed while it was down. */
  onOpen(): void;
  backoff?: BackoffOptions;
}

export class EventsSocket {
  private socket: SocketLike | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  /** The last attempt closed without opening: ask for a fresh token before the next. */
  private refused = false;
  private readonly backoff: Backoff;

  constructor(private readonly options: EventsSocketOptions) {
    this.backoff = new Backoff(options.backoff);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connect();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      socket.onclose = socket.onmessage = socket.onopen = null;
      // Keep an error handler: `ws` throws on an 'error' event nobody listens to.
      socket.onerror = () => {};
      socket.close(1000);
    }
  }

  private async connect(): Promise<void> {
    let token: string | undefined;
    try {
      token = await this.options.token(this.refused);
    } catch {
      token = undefined;
    }
    if (!this.running) return;
    const base = this.options.url.replace(/\/+$/, '').replace(/^http/, 'ws');
    const query = token ? `?token=${encodeURIComponent(token)}` : '';
    let socket: SocketLike;
    try {
      socket = new this.options.WebSocket(`${base}/v1/trees/${encodeURIComponent(this.options.tree)}/events${query}`);
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.refused = false;
      this.backoff.reset();
      this.options.onOpen();
    };
    socket.onmessage = (event) => {
      try {
        const message = JSON.parse(String(event.data)) as { type?: unknown; seq?: unknown };
        if (message.type === 'poke' && typeof message.seq === 'number') this.options.onPoke(message.seq);
      } catch {
        // not a poke: ignored (the protocol may add messages)
      }
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      // A server that is down closes it unopened too: then the app is asked once per attempt,
      // at the backoff's pace.
      if (!opened) this.refused = true;
      this.retry();
    };
  }

  private retry(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running) void this.connect();
    }, this.backoff.next());
  }
}
