/**
 * The sync loop, in the worker next to the database. One cycle at a time:
 *
 * 1. bootstrap when the replica has never loaded the tree (or the server asked for a reset):
 *    the snapshot, with this replica's id and floor so the server registers the floor first;
 *    unacknowledged local edits are kept and merged again on top (load-snapshot.ts);
 * 2. push the outbox in batches of at most `maxOpsPerPush`, oldest first, with `seen` and
 *    `floor`; apply the answer's ops, drop the acknowledged ops from the outbox and advance
 *    `seen`, in one transaction; a retried push is idempotent (the server counts duplicates);
 * 3. pull pages from `seen` until `more` is false.
 *
 * Every answer (push, pull page, snapshot header) carries the tree's stability frontier F: in
 * the transaction applying it the replica keeps F, moves its clock to F or past it, and drops
 * its own log rows older than F (frontier.ts).
 *
 * Cycles run when something asks (a local edit, a poke ahead of the replica, the socket
 * reopening, `sync()`, going online). Failures:
 *
 * - no answer, 5xx, 429 → retry after exponential backoff with jitter (at least the
 *   `Retry-After` the server gave);
 * - 401 → ask the app for a fresh token and retry once at once, then back off; the events
 *   socket asks for a fresh one before reconnecting when its last attempt never opened (a
 *   refused upgrade: a browser does not show its status);
 * - pull `reset` / push `409 reset_required` → bootstrap again, keeping the outbox;
 * - push `409 stale_ops` → give exactly the refused ops fresh timestamps past the frontier,
 *   reload the tree (so the replica forgets the refused stamps as the server never had them),
 *   push again: nothing a person did is lost;
 * - push `413` → halve the batch and try again;
 * - anything else (403, 400, 404) is for the app: `lastError`, and `sync()` waiters reject;
 *   the loop tries again on the next request.
 *
 * Offline (`setOnline(false)`, or the browser's offline event): in-flight requests are
 * aborted, the socket closed, timers cleared; nothing goes out until online again.
 *
 * `sync()` resolves after a cycle that *started* after the call has completed: every edit in
 * the outbox at the call was then acknowledged, and pulling until `more` was false means the
 * replica reached the server's seq of that moment.
 */
import { TreesyncError } from '../../../protocol/errors.ts';
import type { Op } from '../../../protocol/ops.ts';
import type { BootstrapProgress, SyncConfig, SyncStatus } from '../../worker-api.ts';
import { mergeBatch, type ApplyOptions } from '../apply-ops.ts';
import { validateBatch } from '../batch.ts';
import { followFrontier } from '../frontier.ts';
import type { LocalEdits } from '../local-edits.ts';
import type { Db } from '../sqlite-db.ts';
import { readState, writeState } from '../sync-state.ts';
import { Backoff } from './backoff.ts';
import { bootstrap } from './bootstrap.ts';
import { watch, type Changes } from './changes.ts';
import { EventsSocket, type SocketClass } from './events-socket.ts';
import { callJson, errorStatus, isRetryable } from './http.ts';

interface StoredOp {
  seq: number;
  [field: string]: unknown;
}
interface PushAnswer {
  seq: number;
  ops: StoredOp[];
  more: boolean;
  now: number;
  frontier?: string | null;
}
type PullAnswer = { reset: true; seq: number } | { seq: number; ops: StoredOp[]; more: boolean; frontier?: string | null };

export interface SyncHooks {
  /** The bearer token; `refresh` after a 401 (the app's token function is called again). */
  token(refresh: boolean): Promise<string | undefined>;
  status(status: SyncStatus): void;
  changes(changes: Changes): void;
  progress(progress: BootstrapProgress): void;
}

export interface SyncContext {
  db: Db;
  edits: LocalEdits;
  applyOptions: ApplyOptions;
  /** Runs a database task in the worker's queue (never interleaved with RPC calls). */
  queue: <T>(task: () => Promise<T>) => Promise<T>;
  WebSocket: SocketClass | undefined;
}

/** Thrown inside a cycle when going offline aborted it: not an error. */
class Offline extends Error {}

interface Waiter {
  cycle: number;
  resolve(): void;
  reject(err: unknown): void;
}

export class SyncLoop {
  private appOnline: boolean;
  private networkOnline = true;
  private running = false;
  private wanted = false;
  private needsBootstrap = false;
  private started = 0;
  private waiters: Waiter[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private abort = new AbortController();
  private token: string | undefined;
  private haveToken = false;
  private lastError: { code: string; message: string } | null = null;
  private readonly backoff: Backoff;
  private readonly socket: EventsSocket | undefined;
  private maxOps: number;
  private stopped = false;
  private seq: number | null = null;
  private pending = 0;

  constructor(
    private readonly ctx: SyncContext,
    private readonly config: SyncConfig,
    private readonly hooks: SyncHooks,
  ) {
    this.appOnline = config.online ?? true;
    this.maxOps = config.maxOpsPerPush ?? 1000;
    this.backoff = new Backoff(config.backoff);
    this.socket = ctx.WebSocket
      ? new EventsSocket({
          url: config.url,
          tree: config.tree,
          WebSocket: ctx.WebSocket,
          token: (refresh) => this.currentToken(refresh),
          onPoke: (seq) => {
            if (this.seq === null || seq > this.seq) this.kick();
          },
          onOpen: () => this.kick(),
          backoff: config.backoff,
        })
      : undefined;
  }

  get online(): boolean {
    return this.appOnline && this.networkOnline && !this.stopped;
  }

  async start(): Promise<void> {
    const [seq, pending] = await this.ctx.queue(async () => [await readState<number>(this.ctx.db, 'seq'), await this.countOutbox()] as const);
    this.seq = seq ?? null;
    this.pending = pending;
    this.publish();
    this.goOnline();
  }

  /** The app's switch. */
  setOnline(online: boolean): void {
    this.appOnline = online;
    this.applyOnline();
  }

  /** The browser's online/offline events. */
  setNetwork(online: boolean): void {
    this.networkOnline = online;
    this.applyOnline();
  }

  /** A local edit was made: push it soon. */
  edited(pending: number): void {
    this.pending = pending;
    this.publish();
    this.kick();
  }

  sync(): Promise<void> {
    if (this.stopped) return Promise.reject(new TreesyncError('invalid_request', 'the tree is closed'));
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ cycle: this.started + 1, resolve, reject });
      this.kick();
    });
  }

  status(): SyncStatus {
    return { online: this.online, syncing: this.running, pending: this.pending, lastError: this.lastError, seq: this.seq };
  }

  stop(): void {
    this.stopped = true;
    this.goOffline();
    for (const w of this.waiters.splice(0)) w.reject(new TreesyncError('invalid_request', 'the tree is closed'));
  }

  private applyOnline(): void {
    if (this.online) this.goOnline();
    else this.goOffline();
    this.publish();
  }

  private goOnline(): void {
    if (!this.online) return;
    this.socket?.start();
    this.kick();
  }

  private goOffline(): void {
    this.abort.abort();
    this.abort = new AbortController();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.socket?.stop();
  }

  private kick(): void {
    this.wanted = true;
    if (!this.running && this.online && this.timer === undefined) void this.run();
  }

  private publish(): void {
    try {
      this.hooks.status(this.status());
    } catch {
      // the app's side is gone (closing): nothing to tell
    }
  }

  private async run(): Promise<void> {
    this.running = true;
    this.publish();
    try {
      while (this.wanted && this.online) {
        this.wanted = false;
        const cycle = ++this.started;
        await this.cycle(this.abort.signal);
        this.backoff.reset();
        this.lastError = null;
        this.waiters = this.waiters.filter((w) => {
          if (w.cycle > cycle) return true;
          w.resolve();
          return false;
        });
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.running = false;
      this.publish();
    }
  }

  private fail(err: unknown): void {
    if (err instanceof Offline || !this.online) {
      // Aborted by going offline: the work waits for online, and so do sync() callers.
      this.wanted = true;
      return;
    }
    const e = err as { code?: string; message?: string; details?: { retryAfter?: number } };
    this.lastError = { code: typeof e.code === 'string' ? e.code : 'internal', message: String(e.message ?? err) };
    if (isRetryable(err)) {
      this.wanted = true;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, this.backoff.next(e.details?.retryAfter));
      return;
    }
    // For the app to see: callers of sync() hear it; the next request tries again.
    this.publish();
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private async currentToken(refresh = false): Promise<string | undefined> {
    if (!this.haveToken || refresh) {
      try {
        this.token = await this.hooks.token(refresh);
      } catch (err) {
        // The app's token source failing (its backend away) is worth retrying like a network error.
        throw new TreesyncError('unavailable', `the token function failed: ${(err as Error)?.message ?? String(err)}`, { network: true });
      }
      this.haveToken = true;
    }
    return this.token;
  }

  /** An HTTP call with the token; a 401 refreshes the token and tries once more. */
  private async call<T>(signal: AbortSignal, init: { method: 'GET' | 'POST'; path: string; body?: unknown }): Promise<T> {
    const attempt = async (refresh: boolean) => callJson<T>(this.config, { ...init, token: await this.currentToken(refresh), signal });
    try {
      return await attempt(false);
    } catch (err) {
      if (signal.aborted) throw new Offline();
      if (errorStatus(err) !== 401) throw err;
      try {
        return await attempt(true);
      } catch (again) {
        if (signal.aborted) throw new Offline();
        throw again;
      }
    }
  }

  private countOutbox(): Promise<number> {
    return this.ctx.db.get('select count(*) from outbox').then((r) => Number(r?.[0] ?? 0));
  }

  private async cycle(signal: AbortSignal): Promise<void> {
    if (this.seq === null || this.needsBootstrap) await this.bootstrap(signal);
    // A push answered with `more: false` brought everything stored up to its `seq`: a pull
    // right after it would find nothing and cost a round trip and a commit.
    if (!(await this.pushAll(signal))) await this.pullAll(signal);
  }

  private async bootstrap(signal: AbortSignal): Promise<void> {
    let refreshed = false;
    for (;;) {
      try {
        await this.bootstrapOnce(signal, await this.currentToken(refreshed));
        return;
      } catch (err) {
        if (signal.aborted) throw new Offline();
        const status = errorStatus(err);
        if (status === 401 && !refreshed) {
          refreshed = true;
          continue;
        }
        // A stream cut midway (a server going down) says so without a status: try again later.
        if (status === undefined) {
          throw new TreesyncError('unavailable', `snapshot: ${(err as Error).message}`, { network: true });
        }
        throw err;
      }
    }
  }

  private async bootstrapOnce(signal: AbortSignal, token: string | undefined): Promise<void> {
    const result = await this.ctx.queue(async () => {
      const floor = await this.ctx.edits.floor();
      const loaded = await bootstrap(
        this.ctx.db,
        {
          url: this.config.url,
          tree: this.config.tree,
          ...(token === undefined ? {} : { token }),
          ...(this.config.compression === undefined ? {} : { compression: this.config.compression }),
          replica: this.ctx.edits.replica,
          floor,
          signal,
        },
        this.ctx.applyOptions.maxValueBytes,
        (p) => this.hooks.progress(p),
        this.ctx.edits,
      );
      return { loaded, pending: await this.countOutbox() };
    });
    this.needsBootstrap = false;
    this.seq = result.loaded.seq;
    this.pending = result.pending;
    this.hooks.changes({ parents: [], all: true });
    this.publish();
  }

  /** Applies ops received (their `seq` dropped), advances `seen`, drops acknowledged outbox
   * ops, follows the answer's frontier (frontier.ts: kept, the clock past it, the log below it
   * dropped): one transaction. */
  private async receive(stored: StoredOp[], seen: number, acknowledged: readonly string[], frontier: unknown, serverNow?: number): Promise<void> {
    const ops = stored.map(({ seq: _seq, ...op }) => op as unknown as Op);
    const changes = await this.ctx.queue(() =>
      this.ctx.db.transaction(async () => {
        const watched = await watch(this.ctx.db, ops);
        if (ops.length > 0) {
          const batch = validateBatch(ops, this.ctx.applyOptions.maxValueBytes);
          await mergeBatch(this.ctx.db, batch);
          await this.ctx.edits.observe(batch);
        }
        for (const ts of acknowledged) await this.ctx.db.run('delete from outbox where ts = ?', [ts]);
        await writeState(this.ctx.db, 'seq', seen);
        if (serverNow !== undefined) await this.ctx.edits.observeServerTime(serverNow);
        await followFrontier(this.ctx.db, this.ctx.edits, frontier);
        const changed = await watched.after();
        this.pending = await this.countOutbox();
        return changed;
      }),
    );
    this.seq = seen;
    if (changes.all || changes.parents.length > 0) this.hooks.changes(changes);
    this.publish();
  }

  /** Pushes the outbox; true when it pushed and its last answer left the replica current. */
  private async pushAll(signal: AbortSignal): Promise<boolean> {
    let current = false;
    for (;;) {
      const { ops, floor, seen } = await this.ctx.queue(async () => ({
        ops: (await this.ctx.db.all('select op from outbox order by ts limit ?', [this.maxOps])).map((r) => JSON.parse(r[0] as string) as Op),
        floor: await this.ctx.edits.floor(),
        seen: (await readState<number>(this.ctx.db, 'seq')) ?? 0,
      }));
      if (ops.length === 0) return current;
      let answer: PushAnswer;
      try {
        answer = await this.call<PushAnswer>(signal, {
          method: 'POST',
          path: '/push',
          body: { replica: this.ctx.edits.replica, seen, floor, ops },
        });
      } catch (err) {
        const e = err as { code?: string; details?: { stale?: string[]; frontier?: string } };
        if (e.code === 'reset_required') {
          this.needsBootstrap = true;
          await this.bootstrap(signal);
          continue;
        }
        if (e.code === 'stale_ops' && Array.isArray(e.details?.stale) && typeof e.details?.frontier === 'string') {
          const { stale, frontier } = e.details as { stale: string[]; frontier: string };
          await this.ctx.queue(() => this.ctx.db.transaction(() => this.ctx.edits.restamp(stale, frontier)));
          // The replica's log still holds the refused stamps: reload it from the server.
          this.needsBootstrap = true;
          await this.bootstrap(signal);
          continue;
        }
        if (e.code === 'payload_too_large' && this.maxOps > 1) {
          this.maxOps = Math.max(1, Math.floor(ops.length / 2));
          continue;
        }
        throw err;
      }
      const last = answer.ops.at(-1);
      await this.receive(answer.ops, answer.more && last ? last.seq : answer.seq, ops.map((o) => o.ts), answer.frontier, answer.now);
      if (answer.more) await this.pullAll(signal);
      current = true;
    }
  }

  private async pullAll(signal: AbortSignal): Promise<void> {
    for (;;) {
      const { seen, floor } = await this.ctx.queue(async () => ({
        seen: (await readState<number>(this.ctx.db, 'seq')) ?? 0,
        floor: await this.ctx.edits.floor(),
      }));
      const query = new URLSearchParams({ since: String(seen), replica: this.ctx.edits.replica, floor });
      if (this.config.pullLimit !== undefined) query.set('limit', String(this.config.pullLimit));
      const page = await this.call<PullAnswer>(signal, { method: 'GET', path: `/pull?${query}` });
      if ('reset' in page) {
        this.needsBootstrap = true;
        await this.bootstrap(signal);
        continue;
      }
      const last = page.ops.at(-1);
      await this.receive(page.ops, page.more && last ? last.seq : page.seq, [], page.frontier);
      if (!page.more) return;
    }
  }
}
