/**
 * One `LISTEN treesync_seq` connection per server process. `apply_ops` sends
 * `pg_notify('treesync_seq', '{"tree":…,"seq":…}')` at commit, so every process sharing the
 * database hears of every push, whichever process stored it.
 *
 * The connection is its own (a pooled one would lose the LISTEN when released). When it
 * breaks it is made again, with a growing delay (up to 30 s); notifications sent meanwhile are
 * lost, so `onConnect` runs after every (re)connect to let the caller catch up (read the seqs
 * of the trees it cares about).
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
}

export class SeqListener {
  private client: pg.Client | undefined;
  private retry: NodeJS.Timeout | undefined;
  private delayMs: number;
  private stopped = false;
  private connected = false;

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
    const client = new pg.Client({ connectionString: this.opts.connectionString, application_name: 'treesync-listen' });
    this.client = client;
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost || this.client !== client) return;
      lost = true;
      this.connected = false;
      this.client = undefined;
      client.end().catch(() => {});
      if (this.stopped) return;
      this.opts.logger.warn('LISTEN connection lost; reconnecting', { err, retryMs: this.delayMs });
      this.schedule();
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
    try {
      await this.opts.onConnect();
    } catch (err) {
      this.opts.logger.error('catching up after LISTEN failed', { err });
    }
  }

  private schedule(): void {
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), this.delayMs);
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
