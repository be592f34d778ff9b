/**
 * Group commit of pushes: the pushes waiting for the same tree in this server process are
 * merged in one transaction, as one batch (merge-union.ts), else one after the other, each in
 * a savepoint of its own.
 *
 * Why: merges of a tree are serialised by its lock (apply_ops), held to commit, so a push
 * waits for every push before it, each paying a transaction and a commit flush. Pushes that
 * queue up behind one another share one transaction and one commit instead; and merged as one
 * batch, sorted by ts, none of them is a late merge that undoes and redoes the moves of the
 * others (their clients' real-time timestamps interleave).
 *
 * Contract, per push, as if it were merged alone (note_replica with its subject, then apply_ops
 * with its `seen`):
 * - its own answer: the result of its own apply_ops (seqs are per push, in queue order; the
 *   union reports its moves that changed nothing as the group's merge left them);
 * - its own errors: a push that fails (a bad batch, a conflict, `beforeCommit` throwing) is
 *   rolled back to its savepoint and rejected with its error; the others go on. (A group
 *   whose union fails is merged again push by push, which says whose error it is.)
 * - atomic and durable: it is answered only after the commit. If the commit (or the
 *   connection) fails, every push of the group is rejected and nothing of it is stored: each
 *   retries, and duplicates make retries land once.
 * - its own page: the ops stored by others that its answer carries (`page`), read after the
 *   commit.
 *
 * A group costs few round trips whatever its size: `begin` (with the union's savepoint and the
 * tree's kept_seq, which admits the pushes: `admit`), one statement that notes the pushers and
 * merges the union, the union's read-back when its totals cannot say whose ops are new
 * (merge-union.ts), `commit`, and one statement that reads every push's page (read-ops.ts), on
 * the group's connection. That read overlaps the next group's merge: the next group starts as
 * soon as this one is committed.
 */
import type pg from 'pg';
import type { Op } from '../../protocol/ops.ts';
import type { ApplyResult, Pusher } from './apply-ops.ts';
import { mergeUnion, UNION_SAVEPOINT } from './merge-union.ts';
import { type Page, type PageRequest, readPages } from './read-ops.ts';

/** What a push asks of the group commit, beyond its ops and who pushes them. */
export interface PushHooks {
  /** Throws to refuse the push before anything of it is stored, given the tree's kept_seq
   * (sql/000006) as the group's transaction reads it before merging. */
  admit: (keptSeq: number) => void;
  /** Throws to refuse the push's result: its share is rolled back and it is rejected. */
  beforeCommit: (result: ApplyResult) => void;
  /** The page of stored ops its answer carries, given its result. */
  page: (result: ApplyResult) => PageRequest;
}

/** A merged push: its own result, and its page read after the commit. */
export interface PushAnswer {
  result: ApplyResult;
  page: Page;
}

interface Waiting extends PushHooks {
  ops: Op[];
  pusher: Pusher;
  resolve: (answer: PushAnswer) => void;
  reject: (err: unknown) => void;
}

/** A group is cut at this many pushes, or once it holds this many operations (at least one
 * push), so that no transaction grows without bound. */
const MAX_GROUP = 64;
const MAX_GROUP_OPS = 10_000;

export class GroupCommit {
  /** Per tree: the pushes waiting while a group of that tree is being merged. */
  private readonly queues = new Map<string, Waiting[]>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly maxValueBytes: number,
    /** Counts the transactions, by how they merged: `alone` (a group of one push), `union`
     * (several, as one batch), `each` (several, one after the other). */
    private readonly counted: (merge: 'alone' | 'union' | 'each') => void = () => {},
  ) {
    if (!Number.isSafeInteger(maxValueBytes)) throw new Error(`maxValueBytes ${maxValueBytes} is not an integer`);
  }

  /** Merges `ops` into `tree`, grouped with other pushes of the same tree that are waiting;
   * answers the push's result and page once committed. */
  apply(tree: string, ops: Op[], pusher: Pusher, hooks: PushHooks): Promise<PushAnswer> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(tree);
      const push = { ops, pusher, ...hooks, resolve, reject };
      if (queue) {
        queue.push(push);
        return;
      }
      this.queues.set(tree, [push]);
      void this.drain(tree);
    });
  }

  /** Merges groups of `tree` until none is waiting. */
  private async drain(tree: string): Promise<void> {
    for (;;) {
      const queue = this.queues.get(tree)!;
      if (queue.length === 0) {
        this.queues.delete(tree);
        return;
      }
      let count = 1;
      for (let ops = queue[0]!.ops.length; count < Math.min(queue.length, MAX_GROUP); count++) {
        ops += queue[count]!.ops.length;
        if (ops > MAX_GROUP_OPS) break;
      }
      const group = queue.splice(0, count);
      await this.merge(tree, group);
    }
  }

  /** Merges and commits `group`, then leaves its answers to `answer` (not awaited: the next
   * group need not wait for this one's pages). */
  private async merge(tree: string, queued: Waiting[]): Promise<void> {
    let group = queued;
    let outcomes: Outcome[];
    let way: 'alone' | 'union' | 'each' = 'alone';
    let client: pg.PoolClient | undefined;
    try {
      client = await this.pool.connect();
      // One round trip: the transaction, the union's savepoint, and the tree's kept_seq for
      // the pushes' admission (a statement with no parameters: the tree's id as a literal).
      const begun = (await client.query(
        `begin; set local treesync.max_value_bytes = ${this.maxValueBytes}${group.length > 1 ? `; ${UNION_SAVEPOINT}` : ''};
         select kept_seq from treesync.trees where id = ${client.escapeLiteral(tree)}`,
      )) as unknown as Array<pg.QueryResult<{ kept_seq: string }>>;
      const kept = begun.at(-1)!.rows[0]?.kept_seq;
      // (No such tree: apply_ops says so, to each push.)
      if (kept !== undefined) group = admitted(group, Number(kept));
      if (group.length > 1) {
        const union = await mergeUnion(client, tree, group);
        way = union ? 'union' : 'each';
        outcomes = union ? union.map((result) => ({ ok: true, result })) : await mergeEach(client, tree, group);
      } else if (group.length === 1) {
        // Alone, a failure is the push's own: the transaction is rolled back (below).
        const push = group[0]!;
        const result = await applyPush(client, tree, push);
        push.beforeCommit(result);
        outcomes = [{ ok: true, result }];
      } else {
        outcomes = [];
      }
      await client.query('commit');
      if (group.length > 0) this.counted(way);
    } catch (err) {
      // The transaction (or the connection) failed: nothing of the group is stored.
      let broken: Error | undefined;
      await client?.query('rollback').catch((e: Error) => (broken = e));
      // A connection whose rollback failed is in an unknown state: do not pool it again.
      client?.release(broken);
      for (const push of group) push.reject(err);
      return;
    }
    void this.answer(client, tree, group, outcomes);
  }

  /** Rejects the pushes that failed; reads the pages of those merged, in one statement on the
   * group's connection, and answers them. */
  private async answer(client: pg.PoolClient, tree: string, group: Waiting[], outcomes: Outcome[]): Promise<void> {
    const merged: Array<{ push: Waiting; result: ApplyResult }> = [];
    group.forEach((push, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) merged.push({ push, result: outcome.result });
      else push.reject(outcome.err);
    });
    let pages: Page[];
    try {
      pages = merged.length === 0 ? [] : await readPages(client, tree, merged.map(({ push, result }) => push.page(result)));
    } catch (err) {
      // Stored, but unanswered: each retries, and its ops land once (duplicates).
      client.release(err as Error);
      for (const { push } of merged) push.reject(err);
      return;
    }
    client.release();
    merged.forEach(({ push, result }, i) => push.resolve({ result, page: pages[i]! }));
  }
}

type Outcome = { ok: true; result: ApplyResult } | { ok: false; err: unknown };

/** The pushes `admit` lets in, given the tree's kept_seq; the others are rejected with its
 * error, before anything of theirs is stored. */
function admitted(group: Waiting[], keptSeq: number): Waiting[] {
  return group.filter((push) => {
    try {
      push.admit(keptSeq);
      return true;
    } catch (err) {
      push.reject(err);
      return false;
    }
  });
}

/** Notes the pusher and merges its ops (apply_ops with its `seen`), in the caller's
 * transaction. */
async function applyPush(client: pg.PoolClient, tree: string, push: Waiting): Promise<ApplyResult> {
  const { rows } = await client.query<{ result: Record<string, number | null> }>(
    // The ops go as text (the apply_ops(text, text, bigint) overload, sql/000005): a
    // document the database cannot parse is then TS001, not a failed cast outside the
    // function. The push's `seen` is what its ops had seen unless they say (restores).
    'select treesync.note_replica($1, $3, $4, $5), treesync.apply_ops($1, $2::text, $6::bigint) as result',
    [tree, JSON.stringify(push.ops), push.pusher.replica, push.pusher.floor, push.pusher.subject, push.pusher.seen],
  );
  const r = rows[0]!.result;
  return {
    seq: Number(r.seq),
    accepted: Number(r.accepted),
    duplicates: Number(r.duplicates),
    undone: Number(r.undone),
    skipped: Number(r.skipped),
    restored: Number(r.restored),
  };
}

/** Merges the pushes one after the other, each in a savepoint of its own, in the caller's
 * transaction. */
async function mergeEach(client: pg.PoolClient, tree: string, group: Waiting[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const push of group) {
    await client.query('savepoint push');
    try {
      const result = await applyPush(client, tree, push);
      push.beforeCommit(result);
      await client.query('release savepoint push');
      outcomes.push({ ok: true, result });
    } catch (err) {
      // When the savepoint cannot be rolled back (the connection is gone), the whole group
      // fails with this push's error, the one that says why.
      await client.query('rollback to savepoint push').catch(() => {
        throw err;
      });
      outcomes.push({ ok: false, err });
    }
  }
  return outcomes;
}
