// Batches larger than one statement's rows (the merge writes up to 100 rows per statement and
// reads the batch's nodes 100 at a time): 1,500 moves among 300 nodes (creations, moves that
// would close cycles, parents that never exist, the trash), delivered at once, in order in
// batches of 257, and with the second half first (the first half then arrives late and undoes
// and redoes the rest). Every delivery gives the reference model's tree and, row by row, the
// move log the model's replay describes (what each move found, and whether it applied).
import { describe, expect, test } from 'vitest';
import type { MoveLogRow } from '../../client/worker-api.ts';
import { formatTs, ROOT, TRASH, type MoveOp } from '../../protocol/ops.ts';
import { applyMove, emptyState, replay, replayState } from '../model/reference.ts';
import { useWorkerReplicas } from './worker-replicas.ts';

const replicas = useWorkerReplicas();

/** A fixed history (a seeded generator: the same ops every run). */
function history(count: number): MoveOp[] {
  let seed = 8;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const id = (i: number) => `n${i}`;
  const ops: MoveOp[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random();
    const parent =
      roll < 0.1 ? ROOT : roll < 0.13 ? TRASH : roll < 0.15 ? `missing${i % 7}` : id(Math.floor(random() * 300));
    ops.push({
      ts: formatTs(1_700_000_000_000 + i, 0, i % 2 === 0 ? 'a' : 'b'),
      type: 'move',
      node: id(Math.floor(random() * 300)),
      parent,
      pos: `p${Math.floor(random() * 1000)}`,
    });
  }
  return ops;
}

/** The move log the model's replay describes. */
function expectedLog(ops: MoveOp[]): MoveLogRow[] {
  const state = emptyState();
  return [...ops]
    .sort((a, b) => (a.ts < b.ts ? -1 : 1))
    .map((op) => {
      const found = state.nodes.get(op.node);
      const applied = applyMove(state, op) === 'applied';
      return { ...op, type: undefined, old_parent: found?.parent ?? null, old_pos: found?.pos ?? null, applied };
    })
    .map(({ type: _type, ...row }) => row);
}

const batches = (ops: MoveOp[], size: number) =>
  Array.from({ length: Math.ceil(ops.length / size) }, (_, i) => ops.slice(i * size, (i + 1) * size));

describe('replica: batches larger than one statement', () => {
  const ops = history(1_500);
  const half = ops.length / 2;
  const deliveries: Record<string, MoveOp[][]> = {
    'all at once': [ops],
    'in order, batches of 257': batches(ops, 257),
    'second half first, then the first half late': [...batches(ops.slice(half), 257), ops.slice(0, half)],
  };

  test('the history has every outcome', () => {
    const outcomes = [...replayState(ops).outcomes.values()];
    for (const outcome of ['applied', 'no-parent', 'self', 'cycle'] as const) {
      expect(outcomes.filter((o) => o === outcome).length, outcome).toBeGreaterThan(0);
    }
  });

  test.each(Object.keys(deliveries))('%s: the model tree and move log', async (name) => {
    const replica = await replicas.fresh();
    let undone = 0;
    for (const batch of deliveries[name]!) undone += (await replica.apply(batch)).undone;
    if (name.startsWith('second half')) expect(undone).toBe(half);
    expect(await replica.nodes()).toEqual(replay(ops).nodes);
    expect(await replica.moveLog()).toEqual(expectedLog(ops));
  });

  test('a leaf given a child in a batch cannot then move under that child\'s stored descendants', async () => {
    // X is a leaf as stored; the batch puts Y (with stored child W and grandchild V) under X,
    // then moves X under V: the cycle check must see X's new child, though SQLite holds none.
    const move = (t: number, node: string, parent: string): MoveOp => ({ ts: formatTs(1_700_000_000_000 + t, 0, 'a'), type: 'move', node, parent, pos: 'p' });
    const replica = await replicas.fresh();
    await replica.apply([move(1, 'X', ROOT), move(2, 'Y', ROOT), move(3, 'W', 'Y'), move(4, 'V', 'W')]);
    const result = await replica.apply([move(5, 'Y', 'X'), move(6, 'X', 'V')]);
    expect(result.skipped).toBe(1);
    expect((await replica.nodes()).map((n) => `${n.id}<${n.parent}`)).toEqual(['ROOT<null', 'TRASH<null', 'V<W', 'W<Y', 'X<ROOT', 'Y<X']);
  });
});
