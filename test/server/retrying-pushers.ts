/**
 * Replicas that keep pushing through a fault, as a client's sync loop does: each pushes its
 * history in small batches and retries a batch until the server acknowledges it. A `503
 * unavailable` or a failed connection (the server gone) means "retry the same batch";
 * anything else that is not 200 fails the run (and is reported with its body).
 *
 * The server to talk to is read before every attempt (`base()`), so a test can replace the
 * server process under the pushers.
 */
import fc from 'fast-check';
import type { Op } from '../../protocol/ops.ts';
import { arbHistory } from '../model/arbitraries.ts';
import { call } from './harness.ts';

export interface Refusal {
  /** When the attempt started and how long its answer took (ms, from the run's start). */
  at: number;
  ms: number;
  /** The HTTP status, or 0 when no answer came (connection refused or cut). */
  status: number;
}

export interface PushRun {
  /** Every replica's ops: once the run resolves, each has been acknowledged. */
  all: Op[];
  acked: number;
  /** When each acknowledgement arrived (ms from the run's start), in order. */
  ackTimes: number[];
  batches: number;
  refusals: Refusal[];
  /** ms since the run started. */
  now(): number;
}

/** `count` replicas' histories of `minOps`..`maxOps` ops each, deterministic by `seed`: one
 * sample per replica on purpose (fixture data, not a property run). */
export function histories(
  count: number,
  seed: number,
  minOps = 50,
  maxOps = 70,
  replicaId = (i: number) => `r${i}`,
): Op[][] {
  return Array.from({ length: count }, (_, i) => {
    const replica = replicaId(i);
    // One seeded sample per replica on purpose: a fixed history to push, not a property run.
    return fc.sample(arbHistory({ replicas: [replica], minOps, maxOps }), { seed: seed + i, numRuns: 1 })[0]!;
  });
}

const oldest = (ops: readonly Op[]) => ops.reduce((min, op) => (op.ts < min ? op.ts : min), ops[0]!.ts);

/**
 * Registers every replica with its floor (oldest first), as clients do when they bootstrap, so
 * the stability frontier never passes an op not pushed yet.
 */
export async function registerFloors(base: string, tree: string, perReplica: Op[][]): Promise<void> {
  const floors = perReplica.map((ops) => ({ replica: ops[0]!.ts.slice(20), floor: oldest(ops) }));
  for (const { replica, floor } of floors.sort((a, b) => (a.floor < b.floor ? -1 : 1))) {
    const res = await call(base, 'GET', `/v1/trees/${tree}/pull?since=0&replica=${replica}&floor=${floor}`);
    if (res.status !== 200) throw new Error(`registering ${replica}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

export interface PushOptions {
  base: () => string;
  tree: string;
  perReplica: Op[][];
  /** Pause between a replica's batches (ms), so the run lasts long enough to be cut. */
  pauseMs?: number;
  /** Pause before retrying a refused batch (ms). */
  retryMs?: number;
  /** Give up (fail) when a batch is still not acknowledged after this long. */
  giveUpMs?: number;
}

export function startPushers(opts: PushOptions): { run: PushRun; done: Promise<void> } {
  const started = performance.now();
  const run: PushRun = {
    all: opts.perReplica.flat(),
    acked: 0,
    ackTimes: [],
    batches: 0,
    refusals: [],
    now: () => performance.now() - started,
  };
  const pushOne = async (ops: Op[]) => {
    const replica = ops[0]!.ts.slice(20);
    let seen = 0;
    for (let at = 0, b = 0; at < ops.length; b++) {
      const batch = ops.slice(at, at + 1 + ((b * 3 + replica.length) % 6));
      const floor = oldest(ops.slice(at));
      at += batch.length;
      run.batches++;
      const firstTry = run.now();
      for (;;) {
        const t0 = run.now();
        const res = await call(opts.base(), 'POST', `/v1/trees/${opts.tree}/push`, {
          body: { replica, seen, floor, ops: batch },
        }).catch(() => ({ status: 0, body: undefined }));
        if (res.status === 200) {
          const answer = res.body as { seq: number; more: boolean; ops: Array<{ seq: number }> };
          seen = answer.more ? answer.ops.at(-1)!.seq : answer.seq;
          break;
        }
        run.refusals.push({ at: t0, ms: run.now() - t0, status: res.status });
        if (res.status !== 503 && res.status !== 0) {
          throw new Error(`push of ${replica} refused with ${res.status}: ${JSON.stringify(res.body)}`);
        }
        if (run.now() - firstTry > (opts.giveUpMs ?? 120_000)) {
          throw new Error(`push of ${replica} not acknowledged after ${opts.giveUpMs ?? 120_000} ms`);
        }
        await new Promise((r) => setTimeout(r, opts.retryMs ?? 100));
      }
      run.acked++;
      run.ackTimes.push(run.now());
      await new Promise((r) => setTimeout(r, opts.pauseMs ?? 30));
    }
  };
  // Settled, so that one replica failing does not leave the others pushing after the test.
  const done = Promise.allSettled(opts.perReplica.map(pushOne)).then((results) => {
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  });
  return { run, done };
}

/** Waits until `count` batches are acknowledged; a run that failed before that fails this. */
export async function untilAcked(run: PushRun, done: Promise<void>, count: number): Promise<void> {
  let settled = false;
  done.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (run.acked < count) {
    if (settled) {
      await done; // throws the run's error
      throw new Error(`the pushers finished with ${run.acked} of ${count} batches acknowledged`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
