/**
 * `npm start`: read the configuration, open the database (embedded when there is no
 * DATABASE_URL), migrate it, serve. SIGINT, SIGTERM or SIGHUP (the terminal closed) stops it
 * gracefully (start-server.ts), then stops the embedded database, last; another signal a
 * second later exits at once.
 *
 * Logs are JSON lines on stdout; the start message for people is on stderr, in one write that
 * ends with the line `treesync: ready` (tests and scripts wait for that line). Exit codes: 0
 * after a stop, 1 when the start or the stop failed, 2 for a bad configuration.
 *
 * The embedded Postgres runs in a process group of its own (embedded-db.ts): a terminal's
 * Ctrl-C or hang-up reaches only this process, which finishes the requests in flight first.
 * While the server runs, the database may go away and come back (a restart, a failover):
 * requests answer 503 meanwhile, and nothing here exits over it.
 */
import pg from 'pg';
import { migrate } from '../sql/migrate.ts';
import { type Config, ConfigError, isDevMode, loadConfig } from './config.ts';
import { openDatabase } from './database.ts';
import { createLogger } from './logger.ts';
import { type RunningServer, startServer } from './start-server.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    say(`treesync: ${err.message}`);
    process.exit(2);
  }
}

const config = readConfig();
const logger = createLogger(config.logLevel);

// Signals are taken from the start: the embedded Postgres does not get the terminal's, so a
// Ctrl-C while it starts must not end this process by default (no `exit` hook would run and
// Postgres would be left behind). A stop asked for while starting happens once started.
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let onStopSignal = (signal: NodeJS.Signals) => {
  say(`treesync: ${signal} while starting; stopping as soon as started`);
  stopAsked ??= signal;
};
let stopAsked: NodeJS.Signals | undefined;
for (const signal of STOP_SIGNALS) process.on(signal, (s) => onStopSignal(s));

const database = await openDatabase(config, logger).catch((err: unknown) => {
  say(`treesync: could not open the database: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
async function migrateAndServe(): Promise<RunningServer> {
  const client = new pg.Client({ connectionString: database.url });
  client.on('error', () => {}); // the migration under way fails with it, and says so below
  await client.connect();
  try {
    await migrate(client, { log: (msg) => logger.info(msg) });
  } finally {
    await client.end();
  }
  return startServer({ config, databaseUrl: database.url, logger });
}

const running = await migrateAndServe().catch(async (err: unknown) => {
  say(`treesync: could not start: ${err instanceof Error ? err.message : String(err)}`);
  await database.stop();
  process.exit(1);
});

say(
  [
    `treesync listening on ${running.url}`,
    `  database: ${database.description}`,
    ...(isDevMode(config)
      ? [
          '  development mode: no TREESYNC_JWT_SECRET, so requests need no token and only loopback is served.',
          '  Set TREESYNC_JWT_SECRET (32+ characters) to require tokens; then `npm run token -- --tree <id> --scope write` prints one.',
        ]
      : ['  auth: JWT (HS256). A token: `npm run token -- --tree <id> --scope write` (same TREESYNC_JWT_SECRET).']),
    'treesync: ready',
  ].join('\n'),
);
logger.info('listening', { url: running.url, devMode: isDevMode(config) });

// Wrappers relay signals (npm, tsx, a terminal's Ctrl-C reaching the whole process group), so
// one stop request often arrives two or three times at once: only a signal a second after the
// first means "stop now, don't wait".
let stoppingSince: number | undefined;
const stop = async (signal: NodeJS.Signals) => {
  if (stoppingSince !== undefined) {
    if (Date.now() - stoppingSince < 1000) return;
    say(`treesync: ${signal} again, exiting now`);
    process.exit(1);
  }
  stoppingSince = Date.now();
  say(`treesync: ${signal}, stopping (finishing requests in flight)`);
  try {
    await running.close();
    await database.stop();
    say('treesync: stopped');
  } catch (err) {
    say(`treesync: error while stopping: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
  // Everything is closed, so the process ends by itself; if a stray handle keeps it alive,
  // do not hang a deployment's restart over it.
  setTimeout(() => process.exit(), 2000).unref();
};
onStopSignal = (s) => void stop(s);
if (stopAsked) void stop(stopAsked);
