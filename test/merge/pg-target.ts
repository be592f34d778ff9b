/**
 * The Postgres runner of the shared merge scenarios (test/scenarios/): each tree is a new tree
 * in the test file's database, merged by treesync.apply_ops.
 */
import { SQLSTATE_CODES } from '../../protocol/errors.ts';
import type { MergeTarget, TargetError, TreeUnderTest } from '../scenarios/scenario.ts';
import { applyOps, applyOpsError, everything, readTree, treeFactory, type Queryable } from './pg-tree.ts';

export function pgTarget(db: Queryable, prefix: string): MergeTarget {
  const freshTree = treeFactory(db, prefix);
  return {
    name: 'postgres',
    async freshTree(): Promise<TreeUnderTest> {
      const tree = await freshTree();
      return {
        apply: (ops) => applyOps(db, tree, ops),
        async applyError(ops): Promise<TargetError> {
          const err = await applyOpsError(db, tree, ops);
          return { code: SQLSTATE_CODES[err.code] ?? err.code, message: err.message, details: err.detail ?? {} };
        },
        read: () => readTree(db, tree),
        everything: () => everything(db, tree),
      };
    },
  };
}
