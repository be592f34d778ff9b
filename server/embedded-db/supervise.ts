/**
 * Keeps the embedded Postgres running under a server: when it exits without being asked to
 * (killed, crashed, stopped by hand), it is started again on the same folder and port, so the
 * server's pools and LISTEN connection find it where they left it. Meanwhile requests answer
 * 503, as for any database that went away. Attempts go on, a second apart and slowing to ten,
 * until it runs or the server stops.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../logger.ts';
import type { EmbeddedDb } from '../embedded-db.ts';

export interface Supervised {
  /** Stops Postgres for good (waiting for a restart under way to finish first). */
  stop(): Promise<void>;
}

export function supervise(first: EmbeddedDb, startAgain: (port: number) => Promise<EmbeddedDb>, logger: Logger): Supervised {
  let current = first;
  let stopping = false;
  let restarting: Promise<void> | undefined;

  const restart = async (port: number) => {
    for (let attempt = 1; !stopping; attempt++) {
      logger.error('embedded Postgres exited; starting it again', { port, attempt });
      try {
        current = await startAgain(port);
        watch(current);
        logger.info('embedded Postgres running again', { port, pid: current.pid });
        return;
      } catch (err) {
        logger.error('embedded Postgres did not start again', { err: err instanceof Error ? err.message : String(err) });
        await delay(Math.min(1000 * attempt, 10_000));
      }
    }
  };
  const watch = (db: EmbeddedDb) =>
    void db.exited.then(() => {
      if (!stopping) restarting = restart(db.port);
    });
  watch(first);

  return {
    stop: async () => {
      stopping = true;
      await restarting;
      await current.stop();
    },
  };
}
