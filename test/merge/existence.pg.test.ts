// A move is skipped when its parent does not exist at that point in timestamp order: the
// shared scenarios (test/scenarios/existence.ts) against Postgres.
import { describe, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { existenceScenarios } from '../scenarios/existence.ts';
import { runScenario } from '../scenarios/scenario.ts';
import { pgTarget } from './pg-target.ts';

const target = pgTarget(useTestDb(), 'exist');

describe('existence', () => {
  for (const s of existenceScenarios) test(s.name, () => runScenario(target, s), s.timeout);
});
