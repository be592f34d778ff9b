/**
 * The server's periodic upkeep of every tree: truncation of the log at the stability frontier
 * (every `truncateIntervalMs`) and the purge of old trash (every `purgeIntervalMs`); an
 * interval of 0 turns that part off. A round runs the trees one after another; a round still
 * running when the next is due makes that one skip. Failures are logged and the next round
 * tries again: upkeep can always wait.
 */
import type pg from 'pg';
import type { Logger } from '../logger.ts';
import { purgeTree } from './purge-tree.ts';
import { truncateTree } from './truncate-tree.ts';

export interface LifecycleOptions {
  truncateIntervalMs: number;
  truncateBatchRows: number;
  purgeIntervalMs: number;
}

export interface LifecycleJob {
  /** Stops the timers and waits for a round under way. */
  stop(): Promise<void>;
}

export async function treeIds(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>('select id from treesync.trees order by id');
  return rows.map((r) => r.id);
}

export function startLifecycleJob(pool: pg.Pool, logger: Logger, opts: LifecycleOptions): LifecycleJob {
  let running: Promise<void> | undefined;
  let stopped = false;
  const every = (ms: number, round: () => Promise<void>) => {
    if (ms <= 0) return undefined;
    const timer = setInterval(() => {
      if (running || stopped) return;
      running = round()
        .catch((err: unknown) => logger.warn('lifecycle round failed', { err }))
        .finally(() => (running = undefined));
    }, ms);
    timer.unref();
    return timer;
  };
  const truncation = every(opts.truncateIntervalMs, async () => {
    for (const tree of await treeIds(pool)) {
      const r = await truncateTree(pool, tree, opts.truncateBatchRows);
      if (r.moves + r.ops > 0) logger.info('log truncated', { tree, ...r });
    }
  });
  const purge = every(opts.purgeIntervalMs, async () => {
    for (const tree of await treeIds(pool)) {
      const r = await purgeTree(pool, tree);
      if (r.purged > 0) logger.info('trash purged', { tree, ...r });
    }
  });
  return {
    async stop() {
      stopped = true;
      clearInterval(truncation);
      clearInterval(purge);
      await running;
    },
  };
}
