// A late branch changes what some logged moves did and leaves others as they were: a late move
// can close a cycle that a logged move then meets (applied before, skipped now), open one that a
// logged move had met (skipped before, applied now), or change only a logged move's old parent.
// The merge decides by slot which logged moves keep their outcome without the loop and rewrites
// only the log entries whose outcome changed (sql/000016-late-branch.sql, docs/merge.md). Each
// case lands with the tree and the move log of one in-order push of the same operations, and
// every log entry says what the reference model did with that move. Logged creations of nodes
// that did not exist before the branch, which step 5 settles, are checked as untouched, named by
// a new move, the new parent of logged re-parentings, and on the walk of one a late move changes.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { formatTs, ROOT, TRASH, type MoveOp } from '../../protocol/ops.ts';
import { fcRuns } from '../model/fc-runs.ts';
import { replay, replayState } from '../model/reference.ts';
import { useTestDb } from '../pg/db.ts';
import { applyOps, createTree, readTree, treeProblems } from './pg-tree.ts';

const db = useTestDb();
let trees = 0;

const at = (tick: number, replica: string) => formatTs(1_700_000_000_000 + tick, 0, replica);
const move = (tick: number, replica: string, node: string, parent: string, pos = 'a'): MoveOp => ({
  ts: at(tick, replica), type: 'move', node, parent, pos,
});

interface LogEntry {
  ts: string;
  node: string;
  parent: string;
  pos: string;
  old_parent: string | null;
  old_pos: string | null;
  applied: boolean;
}

async function moveLog(tree: string): Promise<LogEntry[]> {
  const { rows } = await db.query<LogEntry>(
    `select ts, node, parent, pos, old_parent, old_pos, applied from treesync.moves
      where tree = $1 order by ts collate "C"`,
    [tree],
  );
  return rows;
}

/** Pushes `base`, then `logged` (one push), then the late `branch`; checks the result against an
 * in-order push and the model, and returns the log entries of `logged` before and after. */
async function mergeLate(base: MoveOp[], logged: MoveOp[], branch: MoveOp[]) {
  const all = [...base, ...logged, ...branch];
  const late = `late-${++trees}`;
  const inOrder = `in-order-${trees}`;
  await createTree(db, late);
  await createTree(db, inOrder);
  await applyOps(db, late, base);
  await applyOps(db, late, logged);
  const before = await moveLog(late);
  const result = await applyOps(db, late, branch);
  const oldest = branch.map((m) => m.ts).sort()[0]!;
  expect(result.undone).toBe(logged.filter((m) => m.ts > oldest).length);
  await applyOps(db, inOrder, [...all].sort((a, b) => (a.ts < b.ts ? -1 : 1)));

  expect(await treeProblems(db, late)).toEqual([]);
  const tree = await readTree(db, late);
  expect(tree).toEqual(await readTree(db, inOrder));
  expect(tree).toEqual(replay(all));
  const after = await moveLog(late);
  expect(after).toEqual(await moveLog(inOrder));
  const { outcomes } = replayState([...all].sort((a, b) => (a.ts < b.ts ? -1 : 1)));
  for (const e of after) expect({ ts: e.ts, applied: e.applied }).toEqual({ ts: e.ts, applied: outcomes.get(e.ts) === 'applied' });
  const entry = (log: LogEntry[], ts: string) => log.find((e) => e.ts === ts)!;
  return { before: (ts: string) => entry(before, ts), after: (ts: string) => entry(after, ts) };
}

describe('a late branch and the outcomes of the logged moves', () => {
  test('a late move closes a cycle that a logged move meets: applied before, skipped now', async () => {
    const base = [move(1, 'a', 'x', ROOT), move(2, 'a', 'y', ROOT)];
    const logged = [move(20, 'online', 'x', 'y'), move(21, 'online', 'n1', ROOT)];
    const branch = [move(10, 'offline', 'y', 'x')];
    const log = await mergeLate(base, logged, branch);
    expect(log.before(logged[0]!.ts).applied).toBe(true);
    expect(log.after(logged[0]!.ts)).toMatchObject({ applied: false, old_parent: ROOT });
    expect(log.after(logged[1]!.ts)).toEqual(log.before(logged[1]!.ts));
  });

  test('a late move opens a cycle that a logged move had met: skipped before, applied now', async () => {
    const base = [move(1, 'a', 'x', ROOT), move(2, 'a', 'y', 'x')];
    const logged = [move(20, 'online', 'x', 'y', 'b')];
    const branch = [move(10, 'offline', 'y', ROOT, 'c')];
    const log = await mergeLate(base, logged, branch);
    expect(log.before(logged[0]!.ts).applied).toBe(false);
    expect(log.after(logged[0]!.ts)).toMatchObject({ applied: true, old_parent: ROOT, old_pos: 'a' });
  });

  test('a late move elsewhere leaves a logged move as it was; one of its node changes only the old parent', async () => {
    const base = [move(1, 'a', 'x', ROOT), move(2, 'a', 'y', ROOT), move(3, 'a', 'z', ROOT), move(4, 'a', 'w', ROOT)];
    const logged = [move(20, 'online', 'x', 'y', 'b'), move(21, 'online', 'w', 'y', 'b')];
    const branch = [move(10, 'offline', 'z', 'x', 'c'), move(11, 'offline', 'w', 'z', 'c')];
    const log = await mergeLate(base, logged, branch);
    expect(log.after(logged[0]!.ts)).toEqual(log.before(logged[0]!.ts));
    expect(log.before(logged[1]!.ts)).toMatchObject({ applied: true, old_parent: ROOT });
    expect(log.after(logged[1]!.ts)).toMatchObject({ applied: true, old_parent: 'z', old_pos: 'c' });
  });

  test('a logged creation under a node the branch creates: skipped before, applied now (every logged move redone)', async () => {
    const base = [move(1, 'a', 'x', ROOT)];
    const logged = [move(20, 'online', 'n1', ROOT), move(21, 'online', 'n2', 'b1', 'b')];
    const branch = [move(10, 'offline', 'b1', 'x')];
    const log = await mergeLate(base, logged, branch);
    expect(log.before(logged[1]!.ts).applied).toBe(false);
    expect(log.after(logged[1]!.ts)).toMatchObject({ applied: true, old_parent: null });
    expect(log.after(logged[0]!.ts)).toEqual(log.before(logged[0]!.ts));
  });

  // Logged creations of nodes that did not exist before the branch, which step 5 settles when no
  // new move names such a node: (a) named by nothing else, (b) named by a new move (then every
  // logged move is redone), (c) the new parent of a logged re-parenting, (d) on the walk of a
  // logged re-parenting whose outcome a late move changes.
  test('logged creations that nothing else names keep their entries', async () => {
    const base = [move(1, 'a', 'x', ROOT), move(2, 'a', 'y', ROOT)];
    const logged = [move(20, 'online', 'n1', ROOT), move(21, 'online', 'n2', 'n1'), move(22, 'online', 'n3', 'x'),
      move(23, 'online', 'y', 'x', 'b')];
    const branch = [move(10, 'offline', 'b1', 'x'), move(11, 'offline', 'x', 'y', 'c')];
    const log = await mergeLate(base, logged, branch);
    for (const m of logged.slice(0, 3)) expect(log.after(m.ts)).toEqual(log.before(m.ts));
    expect(log.after(logged[3]!.ts)).toMatchObject({ applied: false, old_parent: ROOT });
  });

  test('a logged creation that a new move names, before and after it is created', async () => {
    const base = [move(1, 'a', 'x', ROOT)];
    const logged = [move(20, 'online', 'n1', 'x'), move(25, 'online', 'n2', 'n1'), move(26, 'online', 'n3', ROOT)];
    const branch = [move(10, 'offline', 'b1', 'n1'), move(30, 'offline', 'b2', 'n1'), move(31, 'offline', 'n2', 'b2')];
    const log = await mergeLate(base, logged, branch);
    for (const m of logged) expect(log.after(m.ts)).toEqual(log.before(m.ts));
    const { nodes } = await readTree(db, `late-${trees}`);
    const parentOf = (id: string) => nodes.find((n) => n.id === id)?.parent;
    expect(parentOf('b1')).toBeUndefined();
    expect(parentOf('b2')).toBe('n1');
    expect(parentOf('n2')).toBe('b2');
  });

  test('a logged creation that logged re-parentings move a node under, before and after it is created', async () => {
    const base = [move(1, 'a', 'x', ROOT), move(2, 'a', 'y', ROOT)];
    const logged = [move(19, 'online', 'y', 'n1', 'd'), move(20, 'online', 'n1', ROOT), move(22, 'online', 'x', 'n1', 'b'),
      move(23, 'online', 'n2', 'y')];
    const branch = [move(10, 'offline', 'x', 'y', 'c')];
    const log = await mergeLate(base, logged, branch);
    expect(log.after(logged[0]!.ts)).toMatchObject({ applied: false, old_parent: ROOT });
    expect(log.after(logged[1]!.ts)).toEqual(log.before(logged[1]!.ts));
    expect(log.before(logged[2]!.ts)).toMatchObject({ applied: true, old_parent: ROOT, old_pos: 'a' });
    expect(log.after(logged[2]!.ts)).toMatchObject({ applied: true, old_parent: 'y', old_pos: 'c' });
    expect(log.after(logged[3]!.ts)).toEqual(log.before(logged[3]!.ts));
  });

  test('logged creations on the walk of a logged re-parenting that a late move turns into a cycle', async () => {
    const base = [move(1, 'a', 'x', ROOT), move(2, 'a', 'y', ROOT)];
    const logged = [move(20, 'online', 'n1', 'x'), move(21, 'online', 'n2', 'n1'), move(22, 'online', 'y', 'n2', 'b')];
    const branch = [move(10, 'offline', 'x', 'y', 'c')];
    const log = await mergeLate(base, logged, branch);
    expect(log.after(logged[0]!.ts)).toEqual(log.before(logged[0]!.ts));
    expect(log.after(logged[1]!.ts)).toEqual(log.before(logged[1]!.ts));
    expect(log.before(logged[2]!.ts).applied).toBe(true);
    expect(log.after(logged[2]!.ts)).toMatchObject({ applied: false, old_parent: ROOT });
  });

  // Few nodes and many re-parentings of them on both sides, so cycles open and close and many
  // logged outcomes change; creations on both sides, trash moves, and now and then an id across
  // the fork (a logged move naming a node the branch creates, or the other way round).
  test('random re-parentings of a few nodes on both sides land as an in-order push and as the model', async () => {
    const pool = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    const arbMove = (nodes: string[], parents: string[]) =>
      fc.record({ node: fc.constantFrom(...nodes), parent: fc.constantFrom(...parents), pos: fc.constantFrom('a', 'b') });
    const arbCase = fc.record({
      size: fc.integer({ min: 2, max: pool.length }),
      shape: fc.array(fc.nat(), { minLength: pool.length, maxLength: pool.length }),
      logged: fc.array(fc.oneof(arbMove(pool, [...pool, ROOT, TRASH]), arbMove(['l1', 'l2'], [...pool, ROOT]),
        arbMove(pool, ['l1', 'l2', 'b1'])), { minLength: 1, maxLength: 12 }),
      branch: fc.array(fc.oneof(arbMove(pool, [...pool, ROOT, TRASH]), arbMove(['b1', 'b2'], [...pool, ROOT]),
        arbMove(pool, ['b1', 'b2', 'l1'])), { minLength: 1, maxLength: 8 }),
    });
    await fc.assert(
      fc.asyncProperty(arbCase, async (c) => {
        const nodes = pool.slice(0, c.size);
        // a random tree of the first `size` nodes, each under ROOT or an earlier one
        const base = nodes.map((n, i) => move(i + 1, 'a', n, [ROOT, ...nodes.slice(0, i)][c.shape[i]! % (i + 1)]!));
        // the branch's moves are older than all logged moves but the first, interleaved with them
        const logged = c.logged.map((m, i) => move(100 + 2 * i, 'online', m.node, m.parent, m.pos));
        const branch = c.branch.map((m, i) => move(101 + 2 * i, 'offline', m.node, m.parent, m.pos));
        await mergeLate(base, logged, branch);
      }),
      { numRuns: fcRuns(60) },
    );
  }, 15 * 60_000); // (as the other properties: FC_RUNS can raise the runs tenfold)
});
