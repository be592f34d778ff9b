/**
 * One `LISTEN treesync_seq` connection per server process. `apply_ops` sends
 * `pg_notify('treesync_seq', '{"tree":…,"seq":…}')` at commit, so every process sharing the
 * database hears of every push, whichever process stored it.
 *
 * The connection is its own (a pooled one would lose the LISTEN when released). When it
 * breaks (a database restart, a failover, a network cut) it is made again, with a delay that
 * doubles from `minRetryMs` up to `maxRetryMs`, each one stretched at random by up to a half so
 * that many servers losing the same database do not all knock at the same moment when it comes
 * back. Notifications sent meanwhile are lost, so `onConnect` runs after every (re)connect to
 * let the caller catch up (read the seqs of the trees it cares about). Nothing here throws or
 * emits unhandled: a database that is away only ever costs retries.
 */
import pg from 'pg';
import type { Logger } from '../logger.ts';

export const SEQ_CHANNEL = 'treesync_seq';

export interface SeqListenerOptions {
  connectionString: string;
  logger: Logger;
  onSeq: (tree: string, seq: number) => void;
  onConnect: () => void | Promise<void>;
  /** First retry delay (default 250 ms), doubled up to `maxRetryMs` (default 30 s). */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** How long a connection attempt may take (default 5 s). */
  connectTimeoutMs?: number;
}

export class SeqListener {
  private client: pg.Client | undefined;
  private retry: NodeJS.Timeout | undefined;
  private delayMs: number;
  private stopped = false;
  private connected = false;
  /** Set by a loss, so the next successful connect is logged as a recovery. */
  private lostAt: number | undefined;

  constructor(private readonly opts: SeqListenerOptions) {
    this.delayMs = opts.minRetryMs ?? 250;
  }

  /** Connects; resolves once listening, or after the first attempt failed (it keeps trying). */
  async start(): Promise<void> {
    await this.connect();
  }

  get up(): boolean {
    return this.connected;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.opts.connectionString,
      application_name: 'treesync-listen',
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? 5_000,
    });
    this.client = client;
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost || this.client !== client) return;
      lost = true;
      this.connected = false;
      this.client = undefined;
      client.end().catch(() => {});
      if (this.stopped) return;
      this.lostAt ??= Date.now();
      this.schedule(err);
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (msg) => {
      if (msg.channel !== SEQ_CHANNEL || !msg.payload) return;
      const parsed = parsePayload(msg.payload);
      if (parsed) this.opts.onSeq(parsed.tree, parsed.seq);
      else this.opts.logger.warn('unexpected notification payload', { payload: msg.payload });
    });
    try {
      await client.connect();
      await client.query(`listen ${SEQ_CHANNEL}`);
    } catch (err) {
      onLost(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.stopped || lost) return;
    this.connected = true;
    this.delayMs = this.opts.minRetryMs ?? 250;
    if (this.lostAt !== undefined) {
      this.opts.logger.info('LISTEN connection restored; poking every subscriber', { downMs: Date.now() - this.lostAt });
      this.lostAt = undefined;
    }
    try {
      await this.opts.onConnect();
    } catch (err) {
      this.opts.logger.error('catching up after LISTEN failed', { err });
    }
  }

  private schedule(err: Error | undefined): void {
    clearTimeout(this.retry);
    const waitMs = Math.round(this.delayMs * (1 + Math.random() / 2));
    this.opts.logger.warn('LISTEN connection lost; reconnecting', { err, retryMs: waitMs });
    this.retry = setTimeout(() => void this.connect(), waitMs);
    this.retry.unref();
    this.delayMs = Math.min(this.delayMs * 2, this.opts.maxRetryMs ?? 30_000);
  }
}

function parsePayload(payload: string): { tree: string; seq: number } | undefined {
  try {
    const { tree, seq } = JSON.parse(payload) as { tree?: unknown; seq?: unknown };
    return typeof tree === 'string' && typeof seq === 'number' ? { tree, seq } : undefined;
  } catch {
    return undefined;
  }
}
