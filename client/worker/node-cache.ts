/**
 * Places of nodes kept from one merge to the next, at most LIMIT of them: what SQLite holds for
 * the nodes the last merges read or wrote. A batch's parents are mostly nodes a recent batch
 * created or read, and its cycle checks walk up through the same upper ancestors every time;
 * found here, they are not read from SQLite again (each read is a statement: a call into
 * WebAssembly, a B-tree probe, a row made into strings).
 *
 * Contract: an entry is exactly the row SQLite holds, or the cache is empty. Rows reach `nodes`
 * only through the merge (merge-moves.ts, which puts what it writes here as it writes it) and
 * the snapshot load (Db.exec and Db.runBound); the schema's ROOT and TRASH are never cached.
 * Db counts the other ways the table can change behind the merge's back (`Db.epoch`: every exec,
 * every runBound, every rollback), and `of(db)` empties the cache when the count moved since the
 * last merge. Only rows (nodes that exist) are kept, never the absence of one.
 *
 * Bounded: nothing proportional to the tree is kept. At most LIMIT entries (in two generations
 * of LIMIT / 2: the older half goes when the newer one fills).
 */
import type { Db } from './sqlite-db.ts';
import type { Place } from './tree-view.ts';

/** The most places kept (about 150 bytes each with their strings: a few MB at most). */
const LIMIT = 50_000;

const caches = new WeakMap<Db, NodeCache>();

export class NodeCache {
  /** Two generations: entries go into `young`; when it is full it becomes `old` and the old one
   * goes, whole (cheaper than dropping entries one by one from a large Map). A lookup tries
   * `young` first, so an entry put again shadows its older copy. */
  private young = new Map<string, Place>();
  private old = new Map<string, Place>();
  private epoch = -1;

  /** The cache of `db`'s replica, emptied when the table may have changed since it was filled. */
  static of(db: Db): NodeCache {
    let cache = caches.get(db);
    if (cache === undefined) caches.set(db, (cache = new NodeCache()));
    if (cache.epoch !== db.epoch) {
      cache.young = new Map();
      cache.old = new Map();
      cache.epoch = db.epoch;
    }
    return cache;
  }

  get(id: string): Place | undefined {
    return this.young.get(id) ?? this.old.get(id);
  }

  /** SQLite holds `id` at `place` now (read, or just written); null: it holds no such node. */
  put(id: string, place: Place | null): void {
    if (place === null) {
      this.young.delete(id);
      this.old.delete(id);
      return;
    }
    this.young.set(id, place);
    if (this.young.size >= LIMIT / 2) {
      this.old = this.young;
      this.young = new Map();
    }
  }
}
