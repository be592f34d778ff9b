// Moves that would make a cycle are skipped, whatever order they arrive in: the shared
// scenarios (test/scenarios/cycles.ts) against Postgres.
import { describe, test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { cycleScenarios } from '../scenarios/cycles.ts';
import { runScenario } from '../scenarios/scenario.ts';
import { pgTarget } from './pg-target.ts';

const target = pgTarget(useTestDb(), 'cycles');

describe('cycles', () => {
  for (const s of cycleScenarios) test(s.name, () => runScenario(target, s), s.timeout);
});
