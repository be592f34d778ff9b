/**
 * `GET /v1/trees/:tree/snapshot?replica=R&floor=TS`: a device that bootstraps says who it is and
 * the oldest ts it may still send (its clock), and the server records that floor
 * (`treesync.note_replica`, with the token's subject) before it opens the snapshot. From then on
 * the tree's stability frontier cannot pass the floor, so the edits the new device makes
 * offline right after loading the snapshot are never refused as `stale_ops`.
 *
 * Why before the snapshot's transaction and not inside it: the snapshot reads in a `READ ONLY`
 * transaction that lasts as long as its reader (minutes on a slow link); noting the replica in
 * it would hold the replica's row lock, and so its pushes, for that long. Committed first, the
 * floor is in place before the snapshot's seq is read, which is all the guarantee needs; a
 * snapshot that then fails leaves a registered floor, which is harmless (it ages out after the
 * retention window like any replica's).
 *
 * Both parameters or neither (an observer that never pushes): one alone is `400
 * invalid_request`. The replica id must belong to the token's subject (`403 forbidden`).
 */
import type { Context } from 'hono';
import type pg from 'pg';
import { z } from 'zod';
import { TreesyncError } from '../../protocol/errors.ts';
import { replicaIdSchema, timestampField } from '../../protocol/op-schema.ts';
import type { AppEnv } from '../deps.ts';
import { parse } from '../http/read-body.ts';

const snapshotQuerySchema = z.object({
  replica: replicaIdSchema.optional(),
  floor: timestampField('floor').optional(),
});

export async function registerReplica(pool: pg.Pool, c: Context<AppEnv>): Promise<void> {
  const query = parse(snapshotQuerySchema, c.req.query());
  if ((query.replica === undefined) !== (query.floor === undefined)) {
    throw new TreesyncError('invalid_request', 'give replica and floor together, or neither', {
      field: query.replica === undefined ? 'replica' : 'floor',
    });
  }
  if (query.replica === undefined || query.floor === undefined) return;
  await pool.query('select treesync.note_replica($1, $2, $3, $4)', [
    c.req.param('tree') ?? '',
    query.replica,
    query.floor,
    c.get('principal').sub,
  ]);
}
