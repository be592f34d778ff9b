// Bad input gets a clear error naming the operation, and changes nothing: the shared scenarios
// (test/scenarios/invalid.ts) against Postgres, and what only the server has (trees, settings).
import { describe, expect, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { invalidBatchScenarios, invalidOpScenarios, limitScenarios } from '../scenarios/invalid.ts';
import { runScenario } from '../scenarios/scenario.ts';
import { applyOps, applyOpsError, createTree } from './pg-tree.ts';
import { pgTarget } from './pg-target.ts';
import { move, set, ts } from './ops.ts';

const db = useTestDb();
const target = pgTarget(db, 'invalid');
const good = move(ts(100), 'fine', 'ROOT');

describe('invalid input', () => {
  for (const s of [...invalidOpScenarios, ...invalidBatchScenarios, ...limitScenarios]) test(s.name, () => runScenario(target, s), s.timeout);

  test('an invalid op is SQLSTATE TS001 with its index in the detail', async () => {
    await createTree(db, 'sqlstate');
    const err = await applyOpsError(db, 'sqlstate', [good, 42]);
    expect(err.code).toBe('TS001');
    expect(err.detail).toEqual({ index: 1 });
  });

  test('an unknown tree is TS003; a bad tree id is TS004', async () => {
    expect((await applyOpsError(db, 'no-such-tree', [good])).code).toBe('TS003');
    await expect(db.query('select treesync.create_tree($1)', ['bad tree'])).rejects.toMatchObject({ code: 'TS004' });
    await expect(db.query('select treesync.create_tree($1)', [null])).rejects.toMatchObject({ code: 'TS004' });
    await expect(db.query('select treesync.create_tree($1)', ['t'.repeat(65)])).rejects.toMatchObject({ code: 'TS004' });
  });

  test('the value limit can be set per transaction', async () => {
    await createTree(db, 'limit');
    const client = await db.client();
    try {
      await client.query('begin');
      await client.query(`set local treesync.max_value_bytes = 10`);
      await expect(
        client.query('select treesync.apply_ops($1, $2)', ['limit', JSON.stringify([set(ts(1), 'a', 'k', 'x'.repeat(20))])]),
      ).rejects.toMatchObject({ code: 'TS001' });
      await client.query('rollback');
    } finally {
      client.release();
    }
    // Outside that transaction the default (64 KiB) holds again.
    await applyOps(db, 'limit', [set(ts(1), 'a', 'k', 'x'.repeat(20))]);
  });
});
