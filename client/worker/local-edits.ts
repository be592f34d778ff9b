/**
 * Local edits on the replica: create, move, delete (a move into TRASH) and set, each made into
 * operations stamped by the replica's hybrid logical clock (hlc.ts), placed among siblings with
 * order keys (order-key.ts), merged by the same merge as every other operation, and recorded in
 * the outbox until the server acknowledges them. One transaction per edit: its ops, the merge,
 * the outbox rows and the clock's new state commit together.
 *
 * Placement: `after` puts the node after that sibling and before the next sibling with a
 * greater order key; `before`, after the previous sibling with a smaller key; neither, after the
 * last child. Siblings sharing a key (two replicas inserted at one spot at once) keep their
 * order by id, and a new key never falls between them.
 */
import { TreesyncError } from '../../protocol/errors.ts';
import { ROOT, TRASH, type MoveOp, type Op, type SetOp } from '../../protocol/ops.ts';
import { mergeBatch, type ApplyOptions } from './apply-ops.ts';
import { validateBatch } from './batch.ts';
import { formatTimestamp, HybridClock } from './hlc.ts';
import { keyBetween } from './order-key.ts';
import type { Db } from './sqlite-db.ts';
import { readState, writeState } from './sync-state.ts';
import { newNodeId } from '../node-id.ts';

export interface Placement {
  after?: string;
  before?: string;
}

function refuse(message: string): TreesyncError {
  return new TreesyncError('invalid_request', message);
}

async function parentOf(db: Db, id: string): Promise<string | null | undefined> {
  const row = await db.get('select parent from nodes where id = ?', [id]);
  return row === undefined ? undefined : (row[0] as string | null);
}

async function posOf(db: Db, id: string, parent: string): Promise<string> {
  const row = await db.get('select pos from nodes where id = ?1 and parent = ?2', [id, parent]);
  if (row === undefined) throw refuse(`${id} is not a child of ${parent}`);
  return row[0] as string;
}

/** The order key for `node` under `parent` at `placement` (the node itself is not a neighbour). */
async function placeKey(db: Db, node: string, parent: string, placement: Placement): Promise<string> {
  if (placement.after !== undefined && placement.before !== undefined) throw refuse('give after or before, not both');
  if (placement.after !== undefined) {
    const low = await posOf(db, placement.after, parent);
    const next = await db.get('select pos from nodes where parent = ?1 and pos > ?2 and id <> ?3 order by pos, id limit 1', [parent, low, node]);
    return keyBetween(low, next === undefined ? null : (next[0] as string));
  }
  if (placement.before !== undefined) {
    const high = await posOf(db, placement.before, parent);
    const prev = await db.get('select pos from nodes where parent = ?1 and pos < ?2 and id <> ?3 order by pos desc, id desc limit 1', [parent, high, node]);
    return keyBetween(prev === undefined ? null : (prev[0] as string), high);
  }
  const last = await db.get('select pos from nodes where parent = ?1 and id <> ?2 order by pos desc, id desc limit 1', [parent, node]);
  return keyBetween(last === undefined ? null : (last[0] as string), null);
}

export class LocalEdits {
  private constructor(
    private readonly db: Db,
    private readonly clock: HybridClock,
    private readonly options: ApplyOptions,
  ) {}

  /** The replica's editor, its clock restored from the database (or made for `replica`). */
  static async load(db: Db, replica: string, options: ApplyOptions): Promise<LocalEdits> {
    const saved = await readState<unknown>(db, 'clock');
    const clock = saved === undefined ? HybridClock.create(replica) : HybridClock.restore(saved);
    if (clock.replica !== replica) throw refuse(`this replica is ${clock.replica}, not ${replica}`);
    await writeState(db, 'replica', replica);
    await writeState(db, 'clock', clock.state);
    return new LocalEdits(db, clock, options);
  }

  get replica(): string {
    return this.clock.replica;
  }

  /** Moves the clock past every ts of a batch received (inside the batch's transaction). */
  async observe(ops: readonly { ts: string }[]): Promise<void> {
    let newest: string | undefined;
    for (const op of ops) if (newest === undefined || op.ts > newest) newest = op.ts;
    if (newest === undefined) return;
    this.clock.observe(newest);
    await writeState(this.db, 'clock', this.clock.state);
  }

  /** Stamps, merges and records ops made by `make` (called inside the transaction). A failed
   * edit stores nothing; the clock in memory may stay ahead of the saved one, which only skips
   * timestamps. */
  /** The ops of the last edit that committed (what an app may keep for undo, or log). */
  lastOps: Op[] = [];

  private async edit(make: () => Promise<Op[]>): Promise<void> {
    this.lastOps = [];
    await this.db.transaction(async () => {
      const ops = await make();
      this.lastOps = ops;
      await mergeBatch(this.db, validateBatch(ops, this.options.maxValueBytes));
      for (const op of ops) await this.db.run('insert into outbox (ts, op) values (?, ?)', [op.ts, JSON.stringify(op)]);
      await writeState(this.db, 'clock', this.clock.state);
    });
  }

  private async checkMovable(id: string, parent: string): Promise<void> {
    if (id === ROOT || id === TRASH) throw refuse(`${id} can never be moved`);
    if ((await parentOf(this.db, id)) === undefined) throw refuse(`node ${id} does not exist`);
    if ((await parentOf(this.db, parent)) === undefined) throw refuse(`parent ${parent} does not exist`);
    const cycle = await this.db.get(
      `with recursive up(id) as (select ?1 union all select n.parent from nodes n join up on n.id = up.id where n.parent is not null)
       select 1 from up where id = ?2 limit 1`,
      [parent, id],
    );
    if (cycle !== undefined) throw refuse(`${id} cannot move under ${parent}: it is ${parent === id ? 'the node itself' : 'one of its ancestors'}`);
  }

  /** A new node under `parent`; `options.id` names it (the app's thread made the id to draw
   * the node at once), else a new id is made. An id that exists already is refused. */
  async create(parent: string, options: Placement & { fields?: Record<string, unknown>; id?: string } = {}): Promise<string> {
    const id = options.id ?? newNodeId();
    await this.edit(async () => {
      if (options.id !== undefined && (await parentOf(this.db, id)) !== undefined) throw refuse(`node ${id} exists already`);
      if ((await parentOf(this.db, parent)) === undefined) throw refuse(`parent ${parent} does not exist`);
      const move: MoveOp = { ts: this.clock.now(), type: 'move', node: id, parent, pos: await placeKey(this.db, id, parent, options) };
      const sets = Object.entries(options.fields ?? {}).map(
        ([key, value]): SetOp => ({ ts: this.clock.now(), type: 'set', node: id, key, value: value as SetOp['value'] }),
      );
      return [move, ...sets];
    });
    return id;
  }

  async move(id: string, parent: string, options: Placement = {}): Promise<void> {
    await this.edit(async () => {
      await this.checkMovable(id, parent);
      return [{ ts: this.clock.now(), type: 'move', node: id, parent, pos: await placeKey(this.db, id, parent, options) }];
    });
  }

  async delete(id: string): Promise<void> {
    await this.move(id, TRASH);
  }

  /** A move to an order key given rather than placed (undelete: back to the key the node was
   * taken from; siblings that share it keep their order by id). */
  async moveToKey(id: string, parent: string, pos: string): Promise<void> {
    await this.edit(async () => {
      await this.checkMovable(id, parent);
      return [{ ts: this.clock.now(), type: 'move', node: id, parent, pos }];
    });
  }

  async set(id: string, key: string, value: unknown): Promise<void> {
    await this.edit(async () => [{ ts: this.clock.now(), type: 'set', node: id, key, value: value as SetOp['value'] }]);
  }

  /** The oldest ts this replica may still send (the push's and pull's `floor`): its oldest
   * unacknowledged op, else its clock as it stands (every later op is greater). */
  async floor(): Promise<string> {
    const oldest = await this.db.get('select ts from outbox order by ts limit 1');
    if (oldest !== undefined) return oldest[0] as string;
    const { wall, counter } = this.clock.state;
    return formatTimestamp({ wall, counter, replica: this.replica });
  }

  /**
   * Gives the outbox ops with the timestamps `stale` (refused by the server as older than its
   * frontier) fresh timestamps past `frontier`, in their old order, with the same content: the
   * edits survive as new operations. The old ones leave the outbox; the caller then reloads
   * the tree from a snapshot, which merges the outbox again, so the replica's log holds only
   * what the server will hold. Returns how many ops were re-stamped. Inside a transaction.
   */
  async restamp(stale: readonly string[], frontier: string): Promise<number> {
    this.clock.observe(frontier);
    let count = 0;
    for (const ts of [...stale].sort()) {
      const row = await this.db.get('select op from outbox where ts = ?', [ts]);
      if (row === undefined) continue;
      const op = { ...(JSON.parse(row[0] as string) as Op), ts: this.clock.now() };
      await this.db.run('delete from outbox where ts = ?', [ts]);
      await this.db.run('insert into outbox (ts, op) values (?, ?)', [op.ts, JSON.stringify(op)]);
      count++;
    }
    await writeState(this.db, 'clock', this.clock.state);
    return count;
  }

  /** Moves the clock toward the server's time (a push answer's `now`), saved. */
  async observeServerTime(ms: number): Promise<void> {
    this.clock.observeWall(ms);
    await writeState(this.db, 'clock', this.clock.state);
  }

  /** The local ops not yet acknowledged, in ts order. */
  async outbox(): Promise<Op[]> {
    return (await this.db.all('select op from outbox order by ts')).map((r) => JSON.parse(r[0] as string) as Op);
  }
}
