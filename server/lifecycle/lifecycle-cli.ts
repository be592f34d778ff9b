/**
 * `npm run purge [-- <tree>…]` and `npm run truncate [-- <tree>…]`: the server's periodic
 * upkeep (lifecycle-job.ts) run once, now, on the database at `DATABASE_URL`, for the trees
 * named or every tree. Prints one JSON line per tree; exits 0, or 1 on any failure. The
 * retention window is the database setting `treesync.retention` (default 30 days).
 */
import pg from 'pg';
import { TREE_ID } from '../../protocol/ops.ts';
import { treeIds } from './lifecycle-job.ts';
import { purgeTree } from './purge-tree.ts';
import { truncateTree } from './truncate-tree.ts';

const [command, ...named] = process.argv.slice(2);
const url = process.env.DATABASE_URL;
const fail = (message: string): never => {
  console.error(message);
  process.exit(1);
};
if (command !== 'purge' && command !== 'truncate') fail('usage: lifecycle-cli.ts purge|truncate [tree…]');
if (!url) fail('DATABASE_URL is not set (e.g. postgres://user:password@localhost:5432/treesync)');
const bad = named.filter((t) => !TREE_ID.test(t));
if (bad.length > 0) fail(`not tree ids ([A-Za-z0-9_-]{1,64}): ${bad.join(', ')}`);

const pool = new pg.Pool({ connectionString: url, max: 1 });
try {
  const trees = named.length > 0 ? named : await treeIds(pool);
  for (const tree of trees) {
    const result = command === 'purge' ? await purgeTree(pool, tree) : await truncateTree(pool, tree);
    console.log(JSON.stringify({ tree, ...result }));
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
} finally {
  await pool.end();
}
