// The merge scenarios shared with Postgres (test/scenarios/), against the client's replica: the
// real worker with wa-sqlite, through comlink.
import { describe, test } from 'vitest';
import { contentScenarios } from '../scenarios/content.ts';
import { cycleScenarios } from '../scenarios/cycles.ts';
import { deliveryScenarios } from '../scenarios/delivery.ts';
import { existenceScenarios } from '../scenarios/existence.ts';
import { identityScenarios } from '../scenarios/identity.ts';
import { invalidBatchScenarios, invalidOpScenarios, limitScenarios } from '../scenarios/invalid.ts';
import { largeScenarios } from '../scenarios/large.ts';
import { runScenario, type Scenario } from '../scenarios/scenario.ts';
import { replicaTarget } from './replica-target.ts';
import { useWorkerReplicas } from './worker-replicas.ts';

const target = replicaTarget(useWorkerReplicas());

const lists: Record<string, Scenario[]> = {
  cycles: cycleScenarios,
  existence: existenceScenarios,
  content: contentScenarios,
  identity: identityScenarios,
  delivery: deliveryScenarios,
  'invalid input': [...invalidOpScenarios, ...invalidBatchScenarios, ...limitScenarios],
  large: largeScenarios,
};

for (const [name, scenarios] of Object.entries(lists)) {
  describe(`replica: ${name}`, () => {
    for (const s of scenarios) test(s.name, () => runScenario(target, s), s.timeout);
  });
}
