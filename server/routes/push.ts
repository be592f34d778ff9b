/**
 * `POST /v1/trees/:tree/push`: store a replica's operations, answer what others stored.
 *
 * Steps, each refusing before anything is written: the body (size, UTF-8, JSON, strings the
 * database can store, depth), the batch size (413), the schema (400 `invalid_op` with the
 * index), then check-push.ts (value depth, every ts names the pushing replica, wall times
 * against the server's clock: 400 `invalid_op` / `clock_skew`); then one transaction: the
 * replica's subject and floor (`note_replica`: 403 when the replica id belongs to another
 * subject), `apply_ops` (atomic; duplicates counted; 404 and 409 `ts_conflict` from the
 * database), and `seen` checked against the tree before the commit (409 `reset_required`:
 * rolled back).
 *
 * A `seen` below what the server keeps (`kept_seq`: truncated or purged, sql/000006) is
 * refused before anything is stored (409 `reset_required`): the operations it lacks are gone.
 * (Read in the group's transaction, just before the merge: `admit`.)
 * If truncation passes it while the push runs, the answer has no ops and `more`, and the pull
 * that follows answers `reset`.
 *
 * The answer's `ops` are those stored after `seen` by others: seqs `seen+1 .. base`, where
 * `base` is the seq the tree had when this push took the tree's lock (its own ops are
 * `base+1 .. seq`, and the replica has them). Those were all committed before this push could
 * take the lock, so they are read after the commit, without holding the lock longer: by the
 * group commit, for every push of the group in one statement (group-commit.ts).
 */
import { Hono } from 'hono';
import { TreesyncError } from '../../protocol/errors.ts';
import { pushRequestSchema, type PushResponse } from '../../protocol/push.ts';
import { allow } from '../auth.ts';
import { GroupCommit } from '../db/group-commit.ts';
import type { AppDeps, AppEnv } from '../deps.ts';
import { checkPush } from '../http/check-push.ts';
import { jsonWithOps } from '../http/json-with-ops.ts';
import { parse, readJson } from '../http/read-body.ts';

export function pushRoutes(deps: AppDeps): Hono<AppEnv> {
  const { config, pool, clock, metrics } = deps;
  const app = new Hono<AppEnv>();
  // Pushes waiting for the same tree are merged in one transaction (group-commit.ts).
  const pushes = new GroupCommit(pool, config.maxValueBytes, (merge) => metrics.pushGroups.inc({ merge }));

  app.post('/v1/trees/:tree/push', allow('write'), async (c) => {
    const tree = c.req.param('tree');
    const body = await readJson(c);
    const count = countOps(body);
    if (count > config.maxOpsPerPush) {
      throw new TreesyncError(
        'payload_too_large',
        `a push holds at most ${config.maxOpsPerPush} operations, this one ${count}; split it`,
        { maxOps: config.maxOpsPerPush },
      );
    }
    const push = parse(pushRequestSchema, body);

    checkPush(push, clock.now(), config.maxClockSkewMs);
    const pusher = { replica: push.replica, floor: push.floor, seen: push.seen, subject: c.get('principal').sub };
    const { result, page: read } = await pushes.apply(tree, push.ops, pusher, {
      admit: (kept) => {
        if (push.seen < kept) {
          throw new TreesyncError(
            'reset_required',
            `seen ${push.seen} is below what the server keeps (seq ${kept}): bootstrap again from a snapshot`,
            { seq: kept },
          );
        }
      },
      beforeCommit: (r) => {
        // `base`, the seq before this batch, is at least every seq a replica can have seen.
        const base = r.seq - r.accepted;
        if (push.seen > base) {
          throw new TreesyncError(
            'reset_required',
            `seen ${push.seen} is ahead of the tree's seq ${base}: bootstrap again from a snapshot`,
            { seq: base },
          );
        }
      },
      // Read even when there is nothing to send: the answer carries the frontier.
      page: (r) => {
        const base = r.seq - r.accepted;
        return { after: push.seen, upTo: base, limit: push.seen < base ? config.pullLimit : 1, maxBytes: config.pullMaxBytes };
      },
    });
    metrics.opsMerged.inc({}, result.accepted);
    metrics.opsDuplicate.inc({}, result.duplicates);

    const page = push.seen < read.keptSeq ? { ops: [], more: true } : read;
    return jsonWithOps<PushResponse>(c, {
      seq: result.seq,
      accepted: result.accepted,
      duplicates: result.duplicates,
      skipped: result.skipped,
      ops: page.ops,
      more: page.more,
      now: clock.now(),
      frontier: read.frontier,
    });
  });

  return app;
}

/** How many ops the body claims to carry, before parsing them (a too-big batch is refused
 * without the cost of validating it). */
function countOps(body: unknown): number {
  const ops = (body as { ops?: unknown } | null)?.ops;
  return Array.isArray(ops) ? ops.length : 0;
}
