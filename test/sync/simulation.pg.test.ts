// The sync simulation (simulation.ts), several seeds: 5 clients with random schedules of
// edits, offline spells, a server restart and a forced reset, pushes delivered twice (retried
// after a lost answer, or replayed after newer ones) by a faulty link, all through the real
// server, real Postgres and real wa-sqlite in worker threads. After sync() on all:
// - every client's tree (children from ROOT and TRASH down) equals the server's GET /state,
//   and both equal the reference model's replay of every op the server holds;
// - the server holds exactly the ops the clients made, less those the restore threw away
//   (an unpushed edit is never lost, a retried push lands once);
// - no client ever showed a cycle;
// - every edit is in the final tree or overridden: a set's value stands unless a later set of
//   the field exists; a move's place stands unless a later move of the node exists or the
//   model skipped it (its parent was gone, or it would have made a cycle).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Op } from '../../protocol/ops.ts';
import { canonicalJson, replayState, toSnapshot } from '../model/reference.ts';
import { useTestDb } from '../pg/db.ts';
import { makeToken } from '../server/harness.ts';
import { runSimulation } from './simulation.ts';
import { clientView, stateView } from './tree-view.ts';

const db = useTestDb();
let token: string;
const SEEDS = [1, 2, 3];

beforeAll(async () => {
  token = await makeToken();
});

describe('simulation', () => {
  test.each(SEEDS)('seed %i: 5 clients converge to the server and the model, nothing lost, no cycle', async (seed) => {
    const sim = await runSimulation({ seed, clients: 5, steps: 70, db, token });
    try {
      await Promise.all(sim.clients.map((c) => c.sync()));
      // A second round: edits that arrived at others during the first are pulled by all.
      await Promise.all(sim.clients.map((c) => c.sync()));
      // Edit events travel on their own channel: let the last ones land.
      await new Promise((r) => setTimeout(r, 50));

      const state = (await sim.server.call('GET', `/v1/trees/${sim.tree}/state`, { token })).body;
      const serverView = stateView(state);
      for (const c of sim.clients) expect(await clientView(c)).toEqual(serverView);

      const held = (
        await db.query(
          `select ts, type, node, parent, pos, key, value::text as value from treesync.ops where tree = $1 order by seq`,
          [sim.tree],
        )
      ).rows.map((r): Op =>
        r.type === 'move'
          ? { ts: r.ts, type: 'move', node: r.node, parent: r.parent, pos: r.pos }
          : { ts: r.ts, type: 'set', node: r.node, key: r.key, value: JSON.parse(r.value) },
      );
      const heldTs = held.map((o) => o.ts);
      expect(new Set(heldTs).size).toBe(heldTs.length);
      // Exactly what the clients made, less what the restore lost, plus the server's own
      // restores (docs/deletes.md): moves by replica `server` of nodes the clients made.
      const isRestore = (op: Op) => op.ts.endsWith('.server');
      for (const op of held.filter(isRestore)) {
        expect(op.type, `server op ${op.ts}`).toBe('move');
        expect([...sim.made.values()].some((m) => m.node === op.node), `restore ${op.ts} of a node no client made`).toBe(true);
      }
      for (const op of held.filter((o) => !isRestore(o))) {
        expect(sim.made.has(op.ts), `server op ${op.ts} made by no client`).toBe(true);
      }
      const missing = [...sim.made.keys()].filter((ts) => !heldTs.includes(ts) && !sim.lost.has(ts));
      expect(missing).toEqual([]);
      for (const op of held.filter((o) => !isRestore(o))) expect(canonicalJson(sim.made.get(op.ts))).toBe(canonicalJson(op));

      // The reference model of every op the server holds.
      const { state: model, outcomes } = replayState(held);
      const snapshot = toSnapshot(model);
      expect(stateView({ nodes: snapshot.nodes, values: snapshot.fields })).toEqual(serverView);
      expect(state.nodes).toEqual(snapshot.nodes);

      expect(sim.cycles).toEqual([]);

      // Every edit stands or was overridden by a later one (or was skipped by the merge).
      const byTs = [...held].sort((a, b) => (a.ts < b.ts ? -1 : 1));
      for (const [i, op] of byTs.entries()) {
        const later = byTs.slice(i + 1);
        if (op.type === 'set') {
          if (later.some((o) => o.type === 'set' && o.node === op.node && o.key === op.key)) continue;
          const field = model.fields.get(`${op.node}\u0000${op.key}`);
          expect(canonicalJson(field?.value), op.ts).toBe(canonicalJson(op.value));
        } else {
          if (later.some((o) => o.type === 'move' && o.node === op.node)) continue;
          if (outcomes.get(op.ts) !== 'applied') continue;
          expect(model.nodes.get(op.node), op.ts).toEqual({ parent: op.parent, pos: op.pos });
        }
      }
      // The schedule did what it is for.
      expect(sim.lost.size).toBeGreaterThan(0);
      expect(sim.twice.lostAnswers, 'pushes retried after a lost answer').toBeGreaterThan(0);
      expect(sim.twice.replays, 'pushes replayed after newer ones').toBeGreaterThan(0);
      expect(sim.made.size).toBeGreaterThan(50);
    } finally {
      await sim.close();
    }
  });
});

afterAll(() => undefined);
