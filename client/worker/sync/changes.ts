/**
 * Which parents' children changed when a batch is merged: the parents a node left and joined,
 * a node's new place among its siblings, and the parent of a node whose fields changed (an
 * app showing a parent's children shows their fields). A batch that arrives late undoes and
 * redoes the moves logged after it, which may move nodes the batch does not name, so those
 * nodes are looked at too. Past LIMIT nodes the answer is "everything" (`all`).
 */
import type { Db } from '../sqlite-db.ts';

const LIMIT = 5_000;

export interface Changes {
  parents: string[];
  /** Too much changed to name: read again what you show. */
  all: boolean;
}

interface Place {
  parent: string | null;
  pos: string;
}

export interface Watch {
  /** Call after the merge (same transaction): the parents whose children changed. */
  after(): Promise<Changes>;
}

async function placeOf(db: Db, id: string): Promise<Place | undefined> {
  const row = await db.get('select parent, pos from nodes where id = ?', [id]);
  return row === undefined ? undefined : { parent: row[0] as string | null, pos: row[1] as string };
}

/** Notes where the batch's nodes (and those it may undo) stand, before the merge. */
export async function watch(db: Db, ops: readonly { ts: string; type: string; node: string }[]): Promise<Watch> {
  const moved = new Set<string>();
  const fielded = new Set<string>();
  let oldest: string | undefined;
  for (const op of ops) {
    if (op.type === 'move') {
      moved.add(op.node);
      if (oldest === undefined || op.ts < oldest) oldest = op.ts;
    } else fielded.add(op.node);
  }
  let all = moved.size + fielded.size > LIMIT;
  if (!all && oldest !== undefined) {
    const later = await db.all('select node from moves where ts >= ? limit ?', [oldest, LIMIT + 1]);
    if (later.length > LIMIT) all = true;
    for (const r of later) moved.add(r[0] as string);
  }
  if (all) return { after: async () => ({ parents: [], all: true }) };
  const before = new Map<string, Place | undefined>();
  for (const id of new Set([...moved, ...fielded])) before.set(id, await placeOf(db, id));
  return {
    async after() {
      const parents = new Set<string>();
      for (const [id, was] of before) {
        const now = await placeOf(db, id);
        if (fielded.has(id)) {
          if (now?.parent) parents.add(now.parent);
          continue;
        }
        if (was?.parent === now?.parent && was?.pos === now?.pos) continue;
        if (was?.parent) parents.add(was.parent);
        if (now?.parent) parents.add(now.parent);
      }
      return { parents: [...parents].sort(), all: false };
    },
  };
}
