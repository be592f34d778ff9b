/**
 * The replica runner of the shared merge scenarios (test/scenarios/): each tree is a new
 * replica in the real worker (see worker-replicas.ts).
 */
import type { Json } from '../../protocol/ops.ts';
import type { MergeTarget, TargetError } from '../scenarios/scenario.ts';
import type { ReplicaSource } from './worker-replicas.ts';

export function replicaTarget(replicas: ReplicaSource): MergeTarget {
  return {
    name: 'replica',
    answers: ['accepted', 'duplicates', 'undone', 'skipped'],
    async freshTree() {
      const replica = await replicas.fresh();
      return {
        apply: (ops) => replica.apply(ops as never),
        async applyError(ops): Promise<TargetError> {
          try {
            await replica.apply(ops as never);
          } catch (err) {
            const e = err as { code: string; message: string; details?: Record<string, unknown> };
            return { code: e.code, message: e.message, details: e.details ?? {} };
          }
          throw new Error('expected the replica to refuse the batch, but it applied it');
        },
        async read() {
          const values = await replica.values();
          return {
            nodes: await replica.nodes(),
            fields: values.map((v) => ({ node: v.node, key: v.key, value: v.value as Json })),
          };
        },
        everything: () => replica.dump(),
      };
    },
  };
}
