/**
 * The writers of bench:server's push cases, run in a process of their own (forked by
 * server.bench.ts), so that the server's CPU time is measured apart from theirs and their work
 * (making batches, JSON both ways) does not queue on the server's thread, as remote clients'
 * would not.
 *
 * Asked `{ base, token, tree, clients, batch, total, createOnly }`, `clients` replicas push
 * `total` operations between them into `tree`, in batches, and it answers what they stored,
 * each push's latency and this process's CPU time over the run.
 */
import { GrowingTree } from './growing-tree.ts';

export interface ClientsRun {
  base: string;
  token: string;
  tree: string;
  clients: number;
  batch: number;
  total: number;
  createOnly: boolean;
}

export interface ClientsResult {
  stored: number;
  latencies: number[];
  seconds: number;
  /** CPU time of this process over the run, ms. */
  cpuMs: number;
}

async function push(base: string, token: string, tree: string, body: string) {
  const res = await fetch(`${base}/v1/trees/${tree}/push`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`push to ${tree}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function run({ base, token, tree, clients, batch, total, createOnly }: ClientsRun): Promise<ClientsResult> {
  const perClient = Math.ceil(total / clients);
  const latencies: number[] = [];
  let stored = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      // Real-time clocks: concurrent batches overlap in time, so some arrive late and redo.
      const replica = new GrowingTree(`r${c}`, c + 1, 0, 'realtime');
      let seen = 0;
      for (let done = 0; done < perClient; done += batch) {
        const ops = replica.moves(Math.min(batch, perClient - done), { createOnly });
        const t0 = performance.now();
        const answer = await push(base, token, tree, JSON.stringify({ replica: replica.replica, seen, floor: ops[0]!.ts, ops }));
        latencies.push(performance.now() - t0);
        stored += answer.accepted as number;
        // What the replica has applied now: the page it was sent, and its own ops only when
        // the page was the last (protocol/push.ts). It never pulls: the next push's answer
        // brings the next page.
        const page = answer.ops as Array<{ seq: number }>;
        seen = answer.more ? page.at(-1)!.seq : (answer.seq as number);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { stored, latencies, seconds, cpuMs: (used.user + used.system) / 1000 };
}

process.on('message', (msg: ClientsRun) => {
  run(msg).then(
    (result) => process.send!({ ok: true, result }),
    (err: Error) => process.send!({ ok: false, error: err.stack ?? String(err) }),
  );
});
