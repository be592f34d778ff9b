// The tree is a function of the set of operations: order, batching and the collation of the
// database never change it. The shared scenarios (test/scenarios/delivery.ts) against Postgres,
// and the same ties in databases of both collations.
import { describe, expect, test } from 'vitest';
import { createTestDb, useTestDb } from '../pg/db.ts';
import { deliveryScenarios } from '../scenarios/delivery.ts';
import { runScenario } from '../scenarios/scenario.ts';
import { pgTarget } from './pg-target.ts';

const db = useTestDb();
const target = pgTarget(db, 'delivery');

describe('delivery', () => {
  for (const s of deliveryScenarios) test(s.name, () => runScenario(target, s), s.timeout);

  test('ties are broken by replica id bytewise in a database of either collation', async () => {
    const ties = deliveryScenarios.find((s) => s.name.startsWith('ties'))!;
    const icu = await createTestDb({ collation: 'icu' });
    const c = await createTestDb({ collation: 'c' });
    try {
      const { rows } = await icu.query<{ lt: boolean }>(`select 'amy' < 'Zed' as lt`);
      expect(rows[0]!.lt).toBe(true); // the ICU database really sorts by locale
      await runScenario(pgTarget(icu, 'ties-icu'), ties);
      await runScenario(pgTarget(c, 'ties-c'), ties);
    } finally {
      await icu.drop();
      await c.drop();
    }
  });
});
