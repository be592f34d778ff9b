// `apply` sends a batch of plain ops to the worker as one string (client/packed-ops.ts) and any
// other batch as it is (a structured clone per op). The two ways must give the same replica and
// the same errors: the packed one holds exactly what a clone would, and the worker validates
// both alike. Against the real worker.
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { rpc } from '../../client/errors.ts';
import { spawnWorker } from '../../client/node/spawn-node-worker.ts';
import { packOps, unpackOps } from '../../client/packed-ops.ts';
import { applyOn } from '../../client/replica.ts';
import { GrowingTree } from '../../bench/growing-tree.ts';
import type { Op } from '../../protocol/ops.ts';
import { move, set, ts } from '../merge/ops.ts';
import { badOps } from '../scenarios/invalid.ts';

const worker = spawnWorker();
const { api } = worker;
afterAll(() => worker.terminate());

/** A fresh replica in the worker (the one before is closed). */
let open = false;
async function fresh(): Promise<void> {
  if (open) await rpc(() => api.close());
  await rpc(() => api.open({ storage: 'memory', replica: 'packing' }));
  open = true;
}

/** Applies a batch one way, answering the result or the error as the app would see it. */
function applyAs(way: 'packed' | 'cloned', ops: unknown): Promise<unknown> {
  const send = way === 'packed' ? () => applyOn(api, ops as Op[]) : () => api.apply(ops as Op[]);
  return rpc(send).then(
    (result) => ({ result }),
    (err: { name: string; code: string; message: string; index?: number; ts?: string }) => ({
      error: { name: err.name, code: err.code, message: err.message, index: err.index, ts: err.ts },
    }),
  );
}

/** The batches applied one way, then every table of the replica. */
async function replicaAfter(way: 'packed' | 'cloned', batches: unknown[]): Promise<unknown> {
  await fresh();
  const answers = [];
  for (const batch of batches) answers.push(await applyAs(way, batch));
  return { answers, tables: await rpc(() => api.dump()) };
}

describe('packing a batch', () => {
  test('a packed batch unpacks to what a structured clone of it is', () => {
    const text = fc.string({ unit: 'binary' });
    const op = fc.oneof(
      fc.record({ ts: text, type: fc.constant('move' as const), node: text, parent: text, pos: text }),
      fc.record({
        ts: text,
        type: fc.constant('set' as const),
        node: text,
        key: text,
        value: fc.oneof(text, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null)),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 20 }), (ops) => {
        const packed = packOps(ops);
        // Only a string holding the separator, or -0, keeps a batch of these from packing.
        const packable = !JSON.stringify(ops).includes('\\u0000') && !ops.some((o) => o.type === 'set' && Object.is(o.value, -0));
        expect(packed !== undefined).toBe(packable);
        if (packed !== undefined) expect(unpackOps(packed)).toEqual(structuredClone(ops));
      }),
      { numRuns: 200 },
    );
  });

  test('anything but a batch of plain ops is sent as it is', () => {
    const m = move(ts(1), 'a', 'ROOT', 'p');
    class Move {
      constructor(readonly ts: string, readonly type: string, readonly node: string, readonly parent: string, readonly pos: string) {}
    }
    for (const batch of [
      'ops',
      { 0: m, length: 1 },
      [m, undefined],
      [m, null],
      [{ ...m, seen: 3 }],
      [{ ...m, extra: undefined }],
      [{ ...m, pos: undefined }],
      [{ ...m, pos: 1 }],
      [new Move(m.ts, m.type, m.node, m.parent, m.pos)],
      [{ ...m, type: 'delete' }],
      [set(ts(2), 'a', 'k', { text: 'x' })],
      [set(ts(2), 'a', 'k', [1])],
      [set(ts(2), 'a', 'k', Number.NaN)],
      [set(ts(2), 'a', 'k', -0)],
      [{ ...m, node: 'a\u0000b' }],
    ]) {
      expect(packOps(batch), JSON.stringify(batch)).toBeUndefined();
    }
    expect(packOps([m, set(ts(2), 'a', 'k', 'x'), set(ts(3), 'a', 'n', 1.5), set(ts(4), 'a', 'b', false), set(ts(5), 'a', 'z', null)])).toBeTypeOf('string');
    expect(packOps([Object.assign(Object.create(null) as object, m)])).toBeTypeOf('string');
  });
});

describe('packed and cloned batches in the worker', () => {
  test('every bad operation gets the same error either way, and changes nothing', async () => {
    await fresh();
    await applyAs('packed', [move(ts(0), 'existing', 'ROOT')]);
    const before = await rpc(() => api.dump());
    const good = move(ts(100), 'fine', 'ROOT');
    let packed = 0;
    for (const [name, bad] of badOps) {
      const batch = [good, bad];
      if (packOps(batch) !== undefined) packed++;
      const answer = await applyAs('packed', batch);
      expect(answer, name).toEqual(await applyAs('cloned', batch));
      expect((answer as { error?: { index?: number } }).error?.index, name).toBe(1);
    }
    expect(await rpc(() => api.dump())).toEqual(before);
    // Most of the bad cases are plain objects of strings: they went the packed way.
    expect(packed).toBeGreaterThanOrEqual(20);
  });

  test('a repeated ts, in the batch or against the replica, is the same conflict either way', async () => {
    const batches = [
      [move(ts(1), 'a', 'ROOT', 'p'), set(ts(2), 'a', 'k', 'v')],
      [move(ts(3), 'b', 'a'), move(ts(3), 'b', 'ROOT')],
      [set(ts(2), 'a', 'k', 'other')],
      [set(ts(2), 'a', 'k', 'v'), move(ts(1), 'a', 'ROOT', 'p')],
    ];
    const [packed, cloned] = [await replicaAfter('packed', batches), await replicaAfter('cloned', batches)];
    expect(packed).toEqual(cloned);
    expect((packed as { answers: Array<{ error?: { code: string } }> }).answers.map((a) => a.error?.code)).toEqual([undefined, 'ts_conflict', 'ts_conflict', undefined]);
  });

  test('a growing tree with moves, deletes and sets of every scalar gives the same replica either way', async () => {
    const grower = new GrowingTree('r', 7);
    const batches: Op[][] = [];
    for (let b = 0; b < 6; b++) {
      const moves = grower.moves(300);
      const sets = moves.slice(0, 40).map((m, i): Op => set(`${m.ts.slice(0, 14)}00001.r`, m.node, `k${i % 3}`, [`t${i}`, i * 0.25, i % 2 === 0, null, 'ü\u{1F600}'][i % 5]!));
      batches.push([...moves, ...sets]);
    }
    // A late batch too (undone and redone), older than everything above.
    batches.push(grower.moves(5).map((m, i) => ({ ...m, ts: ts(-1000 + i, 'late') })));
    const packed = await replicaAfter('packed', batches);
    expect(packed).toEqual(await replicaAfter('cloned', batches));
    expect(batches.every((b) => packOps(b) !== undefined)).toBe(true);
  });
});
