/**
 * The WebSocket subscribers of each tree, poked with `{"type":"poke","seq":N}` when the tree's
 * seq grows. Pokes carry no operations (the client pulls), so losing or merging some is
 * harmless: a subscriber only ever needs the latest seq, and never gets a seq lower than or
 * equal to one it already got (notifications and the initial read may arrive in any order).
 *
 * Heartbeats: every `heartbeatMs` each socket is pinged; one that has not answered the
 * previous ping (a dead peer, a dropped network) is terminated, so subscribers do not pile up.
 */
import type { PokeMessage } from '../../protocol/poke.ts';
import type { Logger } from '../logger.ts';
import type { Counter } from '../metrics/registry.ts';

/** The part of a WebSocket the hub uses (the `ws` package's WebSocket has it). */
export interface PokeSocket {
  send(text: string): void;
  ping(): void;
  terminate(): void;
  close(code: number, reason: string): void;
}

export interface Subscriber {
  readonly tree: string;
  readonly socket: PokeSocket;
  /** The highest seq sent, -1 before the first. */
  lastSeq: number;
  /** Answered the last ping. */
  alive: boolean;
}

export interface PokeHubOptions {
  heartbeatMs: number;
  pokesSent: Counter;
  logger: Logger;
}

export class PokeHub {
  private readonly byTree = new Map<string, Set<Subscriber>>();
  private heartbeat: NodeJS.Timeout | undefined;
  private count = 0;

  constructor(private readonly opts: PokeHubOptions) {}

  subscribe(tree: string, socket: PokeSocket): Subscriber {
    const sub: Subscriber = { tree, socket, lastSeq: -1, alive: true };
    let set = this.byTree.get(tree);
    if (!set) this.byTree.set(tree, (set = new Set()));
    set.add(sub);
    this.count++;
    this.heartbeat ??= setInterval(() => this.beat(), this.opts.heartbeatMs).unref();
    return sub;
  }

  unsubscribe(sub: Subscriber): void {
    const set = this.byTree.get(sub.tree);
    if (!set?.delete(sub)) return;
    this.count--;
    if (set.size === 0) this.byTree.delete(sub.tree);
    if (this.count === 0 && this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  /** The peer answered a ping. */
  pong(sub: Subscriber): void {
    sub.alive = true;
  }

  /** Tells every subscriber of `tree` that its seq is now `seq`. */
  poke(tree: string, seq: number): void {
    for (const sub of this.byTree.get(tree) ?? []) this.offer(sub, seq);
  }

  /** Sends `seq` to one subscriber unless it has had it (or a later one) already. */
  offer(sub: Subscriber, seq: number): void {
    if (seq <= sub.lastSeq) return;
    sub.lastSeq = seq;
    const message: PokeMessage = { type: 'poke', seq };
    try {
      sub.socket.send(JSON.stringify(message));
      this.opts.pokesSent.inc();
    } catch (err) {
      // A socket closing under us: its close event unsubscribes it.
      this.opts.logger.debug('poke not sent', { tree: sub.tree, err });
    }
  }

  /** The trees that have subscribers. */
  trees(): string[] {
    return [...this.byTree.keys()];
  }

  get size(): number {
    return this.count;
  }

  /** Closes every socket (`1001 going away` at shutdown); sockets that have not closed
   * within `graceMs` are terminated. Resolves when all are gone. */
  async closeAll(code = 1001, reason = 'server shutting down', graceMs = 1000): Promise<void> {
    const all = [...this.byTree.values()].flatMap((set) => [...set]);
    for (const sub of all) sub.socket.close(code, reason);
    const deadline = Date.now() + graceMs;
    while (this.count > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const sub of [...this.byTree.values()].flatMap((set) => [...set])) {
      sub.socket.terminate();
      this.unsubscribe(sub);
    }
  }

  private beat(): void {
    for (const set of [...this.byTree.values()]) {
      for (const sub of [...set]) {
        if (!sub.alive) {
          this.opts.logger.info('websocket dropped: no answer to ping', { tree: sub.tree });
          sub.socket.terminate();
          this.unsubscribe(sub);
          continue;
        }
        sub.alive = false;
        try {
          sub.socket.ping();
        } catch {
          // closing already
        }
      }
    }
  }
}
