// A late branch merged in one push lands as if every operation had arrived in timestamp order:
// the same tree, and the same move log (each entry's old parent, old position and outcome), as
// one in-order push of all of them, and the reference model's tree. The merge settles most
// redone moves without its loop (sql/000008-merge-in-bulk.sql, docs/merge.md); the branches
// here also name nodes across the fork both ways, which must make it redo every logged move.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { formatTs, type MoveOp, type Op } from '../../protocol/ops.ts';
import { RandomTree } from '../../bench/random-tree.ts';
import { fcRuns } from '../model/fc-runs.ts';
import { replay } from '../model/reference.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, createTree, readTree, treeProblems } from './pg-tree.ts';

const db = useTestDb();
let trees = 0;

interface Shape {
  seed: number;
  base: number;
  loggedRounds: number;
  branchCreations: number;
  branchMoves: number;
  /** the branch moves a node created after the fork (it cannot know it: a replayed id) */
  branchNamesLogged: boolean;
  /** a logged move names a node the branch creates */
  loggedNamesBranch: boolean;
  /** a logged move goes under a node that a later logged move creates (skipped in its time) */
  loggedNamesLater: boolean;
}

/** The base tree, the logged moves (newer than the fork) and the late branch. */
function history(s: Shape): { base: Op[]; logged: Op[][]; branch: Op[] } {
  const online = new RandomTree('online', s.seed);
  const base = online.creations(s.base);
  const offline = online.fork('offline', s.seed + 1, online.clock);
  const branch: MoveOp[] = [...offline.creations(s.branchCreations), ...offline.reparents(s.branchMoves)];
  const logged: MoveOp[][] = [];
  for (let r = 0; r < s.loggedRounds; r++) {
    const round = [...online.creations(6), ...online.reparents(3)];
    round.push({ ...online.reparents(1)[0]!, parent: 'TRASH' });
    logged.push(round);
  }
  const last = (ops: MoveOp[]) => ops.at(-1)!.ts;
  const after = (ts: string, replica: string) =>
    formatTs(Number(ts.slice(0, 13)), Number(ts.slice(14, 19)) + 1, replica);
  if (s.loggedNamesLater && logged.length > 1) {
    const round = logged[0]!;
    // round r creates online-(base + 6r + 1) … online-(base + 6r + 6)
    round.push({ ts: after(last(round), 'online'), type: 'move', node: round[1]!.node, parent: `online-${s.base + 7}`, pos: 'c' });
  }
  if (s.branchNamesLogged && logged.length > 0) {
    branch.push({ ts: after(last(branch), 'offline'), type: 'move', node: logged.at(-1)![0]!.node, parent: 'ROOT', pos: 'a' });
  }
  if (s.loggedNamesBranch && logged.length > 0 && s.branchCreations > 0) {
    const round = logged[0]!;
    round.push({ ts: after(last(round), 'online'), type: 'move', node: round[0]!.node, parent: 'offline-1', pos: 'b' });
  }
  return { base, logged, branch };
}

async function moveLog(tree: string): Promise<unknown[]> {
  const { rows } = await db.query(
    `select ts, node, parent, pos, old_parent, old_pos, applied from treesync.moves
      where tree = $1 order by ts collate "C"`,
    [tree],
  );
  return rows;
}

const arbShape: fc.Arbitrary<Shape> = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  base: fc.integer({ min: 1, max: 40 }),
  loggedRounds: fc.integer({ min: 1, max: 8 }),
  branchCreations: fc.integer({ min: 0, max: 20 }),
  branchMoves: fc.integer({ min: 1, max: 12 }),
  branchNamesLogged: fc.boolean(),
  loggedNamesBranch: fc.boolean(),
  loggedNamesLater: fc.boolean(),
});

describe('a late branch', () => {
  test('lands with the tree and the move log of an in-order push of the same operations', async () => {
    await fc.assert(
      fc.asyncProperty(arbShape, async (shape) => {
        const { base, logged, branch } = history(shape);
        const all = [...base, ...logged.flat(), ...branch];
        const late = `late-${++trees}`;
        const inOrder = `in-order-${trees}`;
        await createTree(db, late);
        await createTree(db, inOrder);
        await applyOps(db, late, base);
        for (const round of logged) await applyOps(db, late, round);
        const result = await applyOps(db, late, branch);
        expect(result.undone).toBe(logged.flat().length);
        await applyOps(db, inOrder, [...all].sort((a, b) => (a.ts < b.ts ? -1 : 1)));

        expect(await treeProblems(db, late)).toEqual([]);
        const tree = await readTree(db, late);
        expect(tree).toEqual(await readTree(db, inOrder));
        expect(tree).toEqual(replay(all));
        expect(await moveLog(late)).toEqual(await moveLog(inOrder));
      }),
      { numRuns: fcRuns(40) },
    );
  }, 15 * 60_000); // (as the other properties: FC_RUNS can raise the runs tenfold)
});
