/**
 * The checks of a push that its schema cannot make, each refusing the whole batch before
 * anything is written, naming the first bad operation (`invalid_op` / `clock_skew`, `index`):
 *
 * - a `set` value nests at most MAX_VALUE_DEPTH levels (the shared rule, same sentence as the
 *   database's TS001);
 * - every op's ts names the pushing replica: a replica's operations are its own, so no writer
 *   can claim another replica's future timestamps and make its later pushes fail with
 *   `ts_conflict`. (Who may push as which replica is the database's part: note_replica.)
 * - every op's wall time is at most `maxClockSkewMs` ahead of the server's clock;
 * - the replica is not `server`: that id stamps the server's restores (sql/000005-restore.sql).
 */
import { TreesyncError } from '../../protocol/errors.ts';
import { jsonDepth, MAX_VALUE_DEPTH } from '../../protocol/json-limits.ts';
import { SERVER_REPLICA, tsReplica, tsWall } from '../../protocol/ops.ts';
import type { PushRequest } from '../../protocol/push.ts';

export function checkPush(push: PushRequest, now: number, maxClockSkewMs: number): void {
  if (push.replica === SERVER_REPLICA) {
    throw new TreesyncError('invalid_request', `replica id ${SERVER_REPLICA} is reserved for the server's own operations (restores)`);
  }
  push.ops.forEach((op, index) => {
    if (op.type === 'set' && jsonDepth(op.value, MAX_VALUE_DEPTH) > MAX_VALUE_DEPTH) {
      throw new TreesyncError('invalid_op', `operation ${index}: value nests deeper than ${MAX_VALUE_DEPTH} levels`, {
        index,
      });
    }
    const named = tsReplica(op.ts);
    if (named !== push.replica) {
      throw new TreesyncError(
        'invalid_op',
        `operation ${index}: ts ${op.ts} names replica ${named}, but the push is from replica ${push.replica}; ` +
          `a replica pushes only its own operations`,
        { index, ts: op.ts },
      );
    }
    const ahead = tsWall(op.ts) - now;
    if (ahead > maxClockSkewMs) {
      throw new TreesyncError(
        'clock_skew',
        `operation ${index}: ts ${op.ts} is ${ahead} ms ahead of the server's clock ` +
          `(at most ${maxClockSkewMs} ms allowed); set your clock from the answers' "now"`,
        { index, ts: op.ts, now },
      );
    }
  });
}
