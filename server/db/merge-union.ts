/**
 * A group of pushes of one tree merged as ONE batch: the union of their operations in one
 * `apply_ops` call, which sorts them by ts, so no push of the group undoes and redoes the
 * moves of another (merged push after push, interleaved real-time timestamps make nearly every
 * push a late merge of the ones just before it).
 *
 * The union is the same input as the pushes one after the other, written so the database
 * cannot tell it apart:
 * - knowledge: every op carries its own `seen` (its own, else its push's), which apply_ops
 *   stores per op (sql/000005), so each push keeps what its author had seen; the call's
 *   `seen` (the least of the group) only says "not informed of everything";
 * - seqs: the pushes go in queue order and apply_ops numbers new ops in batch order, so each
 *   push's new ops take the seqs they would have taken alone (restores come after the group
 *   instead of after each push);
 * - identity: every pusher is noted (note_replica) before the merge.
 *
 * Anything the union cannot answer exactly as the pushes alone would is left to them: when
 * the union fails (a bad batch, a stale op, a replica of another subject, a retry of one op
 * with other content) or a push's own check (`beforeCommit`) refuses its share, the caller
 * rolls the union back to its savepoint and merges the pushes one by one, each with its own
 * error. The union's guarantees being at least as strict as each push's (the frontier only
 * grows as floors are noted; a push's `base` is not raised by restores of the others), a
 * union that succeeds is one every push would have passed alone.
 */
import type pg from 'pg';
import type { Op } from '../../protocol/ops.ts';
import type { ApplyResult, Pusher } from './apply-ops.ts';

export interface Member {
  ops: Op[];
  pusher: Pusher;
  /** Throws to refuse this push's result (then the union is rolled back). */
  beforeCommit: (result: ApplyResult) => void;
}

/** Sets the savepoint the union is rolled back to when it fails; the caller runs it in the
 * round trip that begins its transaction, right before `mergeUnion`. */
export const UNION_SAVEPOINT = 'savepoint union_of_pushes';

/** Merges `group` as one batch inside the caller's transaction, just after UNION_SAVEPOINT;
 * answers each member's result, in order, or undefined after rolling the union back (then
 * merge them one by one). On success the savepoint is left to the commit, which follows. */
export async function mergeUnion(client: pg.PoolClient, tree: string, group: Member[]): Promise<ApplyResult[] | undefined> {
  try {
    const results = await applyUnion(client, tree, group);
    group.forEach((member, i) => member.beforeCommit(results[i]!));
    return results;
  } catch {
    // (When the connection itself is gone, this throws, and the caller's transaction fails.)
    await client.query('rollback to savepoint union_of_pushes');
    return undefined;
  }
}

async function applyUnion(client: pg.PoolClient, tree: string, group: Member[]): Promise<ApplyResult[]> {
  const union = group.flatMap((m) => m.ops.map((op) => (op.seen === undefined ? { ...op, seen: m.pusher.seen } : op)));
  const least = Math.min(...group.map((m) => m.pusher.seen));
  const { rows } = await client.query<{ result: Record<string, number | null> }>(
    // Every pusher is noted first: the aggregate over them is complete before the merge it
    // feeds is called. As a single push (group-commit.ts): the text overload, so bad JSON is
    // TS001.
    `select treesync.apply_ops($1, $5::text, $6::bigint) as result
       from (select count(treesync.note_replica($1, p.replica, p.floor, p.subject)) as noted
               from unnest($2::text[], $3::text[], $4::text[]) as p(replica, floor, subject)) n`,
    [
      tree,
      group.map((m) => m.pusher.replica),
      group.map((m) => m.pusher.floor),
      group.map((m) => m.pusher.subject),
      JSON.stringify(union),
      least,
    ],
  );
  const r = rows[0]!.result;
  const total = { seq: Number(r.seq), accepted: Number(r.accepted), duplicates: Number(r.duplicates), skipped: Number(r.skipped) };
  const before = total.seq - total.accepted;

  // Which of the union's ops are new (stored now), and which of its moves changed nothing:
  // read back only when the totals cannot say (no duplicate: every op is new; no skip: none).
  let fresh: Map<string, boolean> | undefined; // ts of each op stored now -> skipped
  if (total.duplicates > 0 || total.skipped > 0) {
    const stored = await client.query<{ ts: string; skipped: boolean }>(
      // one probe per stored op into the move log (a lateral that cannot be flattened)
      `select o.ts, coalesce(not m.applied, false) as skipped
         from treesync.ops o
         left join lateral (select l.applied from treesync.moves l
                             where l.tree = $1 and l.ts = o.ts offset 0) m on true
        where o.tree = $1 and o.seq > $2 and o.seq <= $3`,
      [tree, before, total.seq],
    );
    fresh = new Map(stored.rows.map((row) => [row.ts, row.skipped]));
  }

  let seq = before;
  const results = group.map((m): ApplyResult => {
    let accepted = m.ops.length;
    let skipped = 0;
    if (fresh) {
      accepted = 0;
      for (const op of m.ops) {
        const skip = fresh.get(op.ts);
        if (skip === undefined) continue; // stored before, or earlier in the union
        fresh.delete(op.ts);
        accepted++;
        if (skip) skipped++;
      }
    }
    seq += accepted;
    // undone and restored are the group's: counted once, on its last push (below).
    return { seq, accepted, duplicates: m.ops.length - accepted, undone: 0, skipped, restored: 0 };
  });
  if (seq !== total.seq) throw new Error(`union of pushes: ${seq - before} ops attributed, ${total.accepted} stored`);
  const last = results.at(-1)!;
  last.undone = Number(r.undone);
  last.restored = Number(r.restored);
  return results;
}
