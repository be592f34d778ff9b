// The merge at a size the properties do not reach: the shared scenario (test/scenarios/large.ts)
// against Postgres.
import { test } from 'vitest';
import { useTestDb } from '../pg/db.ts';
import { largeScenarios } from '../scenarios/large.ts';
import { runScenario } from '../scenarios/scenario.ts';
import { pgTarget } from './pg-target.ts';

const target = pgTarget(useTestDb(), 'large');

for (const s of largeScenarios) test(s.name, () => runScenario(target, s), s.timeout);
