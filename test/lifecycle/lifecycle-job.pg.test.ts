// The server's upkeep: with the intervals set, a running server truncates and purges by itself;
// `npm run truncate` / `npm run purge` do the same once, from the command line.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { move, set, ts } from '../merge/ops.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer } from '../server/harness.ts';
import { waitFor } from '../snapshot/poll.ts';

const db = useTestDb();
const NOW = 1_732_212_345_000 + 3_600_000;
const server = useTestServer(db, {
  clock: { now: () => NOW },
  env: { TREESYNC_TRUNCATE_INTERVAL_MS: '100', TREESYNC_TRUNCATE_BATCH: '3', TREESYNC_PURGE_INTERVAL_MS: '150' },
});
const count = async (sql: string, params: unknown[]) => Number((await db.query(sql, params)).rows[0].n);

async function history(tree: string, token: string) {
  await server.call('PUT', `/v1/trees/${tree}`, { token, body: {} });
  const ops: Op[] = [
    move(ts(1, 'alice'), 'a', 'ROOT'),
    move(ts(2, 'alice'), 'b', 'a'),
    set(ts(3, 'alice'), 'b', 'k', 1),
    move(ts(4, 'alice'), 'c', 'ROOT'),
    move(ts(5, 'alice'), 'a', 'TRASH'),
  ];
  const res = await server.call('POST', `/v1/trees/${tree}/push`, {
    token, body: { replica: 'alice', seen: 0, floor: ops[0]!.ts, ops },
  });
  expect(res.status).toBe(200);
  return ops.length;
}

test('a running server truncates below the frontier and purges old trash by itself', async () => {
  const token = await server.token();
  const seq = await history('job', token);
  expect(await count(`select count(*) as n from treesync.moves where tree = 'job'`, [])).toBe(4);
  // alice's floor moves past everything: F passes the delete.
  await server.call('GET', `/v1/trees/job/pull?since=${seq}&replica=alice&floor=${ts(100, 'alice')}`, { token });
  await waitFor('the trashed subtree to be purged', async () =>
    (await count(`select count(*) as n from treesync.nodes where tree = 'job'`, [])) === 3);
  await waitFor('the log to be truncated', async () =>
    (await count(`select count(*) as n from treesync.moves where tree = 'job'`, [])) === 0);
  expect(await count(`select count(*) as n from treesync.fields where tree = 'job'`, [])).toBe(0);
  const pull = await server.call('GET', '/v1/trees/job/pull?since=0', { token });
  expect(pull.body).toEqual({ reset: true, seq });
});

test('npm run truncate and npm run purge do it once, for the trees named', async () => {
  await server.running.close(); // no upkeep from the server meanwhile
  // Written straight in SQL: the server is stopped.
  await db.query(`select treesync.create_tree('cli')`);
  await db.query(`select treesync.apply_ops('cli', $1::jsonb)`, [
    JSON.stringify([move(ts(1, 'alice'), 'a', 'ROOT'), move(ts(2, 'alice'), 'a', 'TRASH')]),
  ]);
  await db.query(`select treesync.note_replica('cli', 'alice', $1)`, [ts(100, 'alice')]);
  const run = (command: string, ...trees: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'server/lifecycle/lifecycle-cli.ts', command, ...trees], {
      env: { ...process.env, DATABASE_URL: db.url },
    });
  const truncated = JSON.parse((await run('truncate', 'cli')).stdout);
  expect(truncated).toMatchObject({ tree: 'cli', frontier: ts(100, 'alice'), moves: 2, ops: 2 });
  const purged = JSON.parse((await run('purge', 'cli')).stdout);
  expect(purged).toMatchObject({ tree: 'cli', purged: 1, nodes: 1 });
  await expect(run('purge', 'not a tree')).rejects.toMatchObject({ stderr: expect.stringMatching(/not tree ids/) });
});
