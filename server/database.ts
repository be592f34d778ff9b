/**
 * The database `npm start` serves: `DATABASE_URL` when set, else an embedded Postgres whose
 * data lives in `<TREESYNC_DATA_DIR>/postgres` and survives restarts (its superuser password,
 * made at the first start, in `<TREESYNC_DATA_DIR>/postgres.password`, readable by the owner
 * only). The embedded cluster serves a database named `treesync`, created at the first start,
 * and is started again if it exits while the server runs (embedded-db/supervise.ts).
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Config } from './config.ts';
import { newPassword, startEmbeddedDb } from './embedded-db.ts';
import { supervise } from './embedded-db/supervise.ts';
import type { Logger } from './logger.ts';

export interface Database {
  url: string;
  /** For the start message: where the data is, no password. */
  description: string;
  /** Stops the embedded database; nothing for a DATABASE_URL. */
  stop(): Promise<void>;
}

const DATABASE_NAME = 'treesync';

export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  if (config.databaseUrl !== undefined) {
    return { url: config.databaseUrl, description: redact(config.databaseUrl), stop: async () => {} };
  }
  await mkdir(config.dataDir, { recursive: true });
  if (userInfo().uid === 0) {
    // As root, Postgres runs as the `postgres` user (embedded-db.ts), which must be able to pass
    // through this folder to its own; it cannot read it (the password file stays 0600).
    const { mode } = await stat(config.dataDir);
    await chmod(config.dataDir, (mode & 0o7777) | 0o111);
  }
  const dir = join(config.dataDir, 'postgres');
  const pw = await password(config.dataDir);
  const db = await startEmbeddedDb({ dir, password: pw });
  try {
    const url = new URL(db.url);
    await ensureDatabase(url);
    url.pathname = `/${DATABASE_NAME}`;
    const running = supervise(db, (port) => startEmbeddedDb({ dir, password: pw, port }), logger);
    return {
      url: url.toString(),
      description: `embedded Postgres, data in ${dir} (127.0.0.1:${db.port}/${DATABASE_NAME})`,
      stop: running.stop,
    };
  } catch (err) {
    await db.stop();
    throw err;
  }
}

async function password(dataDir: string): Promise<string> {
  const file = join(dataDir, 'postgres.password');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
    const made = newPassword();
    await writeFile(file, `${made}\n`, { mode: 0o600, flag: 'wx' });
    return made;
  }
}

async function ensureDatabase(adminUrl: URL): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl.toString() });
  client.on('error', () => {}); // the query under way fails with it, which is what is reported
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [DATABASE_NAME]);
    if (rowCount === 0) await client.query(`create database ${DATABASE_NAME}`);
  } finally {
    await client.end();
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}
