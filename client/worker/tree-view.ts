/**
 * The tree as one merge sees it: what SQLite holds, with the merge's own changes laid over it.
 *
 * A merge decides every move's outcome here, in memory, and writes only the net difference at
 * the end (bulk-write.ts): SQLite's rows do not change while the merge runs, so a row read once
 * stays true for the whole merge, and nothing is written twice (a node created and then moved
 * in one batch is inserted once, where it ends; a late batch's window is undone and redone
 * here, and only the nodes whose place really changed are written).
 *
 * Held in memory, and only for one merge: the places the merge changed (the batch's nodes and,
 * for a late batch, the window's), the rows it read for them (loaded in chunks by key), and the
 * ancestors its cycle checks read, at most READ_LIMIT of those. Never the tree.
 */
import { ROOT, TRASH } from '../../protocol/ops.ts';
import type { Db } from './sqlite-db.ts';

/** Where a node is: under `parent` (null only for ROOT and TRASH) at order key `pos`. */
export interface Place {
  parent: string | null;
  pos: string;
}

/** ROOT and TRASH always exist and never move. */
const FIXED: Place = { parent: null, pos: '' };
/** Keys read per statement: a chunk's ids are bound as one JSON array (one bind, however many
 * keys), so the chunk only bounds the text bound at once. */
const CHUNK = 5_000;
/** Ancestor rows a merge's cycle checks keep (beyond the batch's own rows). */
const READ_LIMIT = 50_000;

/** The keys as one JSON array, each looked up in `nodes` by its key (CROSS JOIN keeps the array
 * the outer loop). A row names its node by its index in the array: the id is the string the
 * merge already holds (no text read back out of SQLite and made a new string). Measured against
 * the keys bound one by one in a VALUES list joined to the table (two interleaved runs): a
 * tenth to a fifth less CPU for a batch's ~2,000 keys. (`id in (…)` was slower than the VALUES
 * list.) */
const LOAD_SQL = `select v.key, n.parent, n.pos from json_each(?) v cross join nodes n on n.id = v.value`;

const same = (a: Place | null, b: Place | null): boolean =>
  a === b || (a !== null && b !== null && a.parent === b.parent && a.pos === b.pos);

/** The net difference between SQLite's rows and the merge's tree. */
export interface TreeChanges {
  inserted: Array<[string, string | null, string]>;
  updated: Array<[string, string | null, string]>;
  deleted: string[];
}

export class TreeView {
  /** Places the merge set (null: the node does not exist at this point of the merge). */
  private readonly changed = new Map<string, Place | null>();
  /** What SQLite holds for a node (null: no row), for every node in `changed` and more. */
  private readonly stored = new Map<string, Place | null>();
  /** Nodes the merge put a node under (a superset of the nodes that have children only
   * through the merge's changes). */
  private readonly adopters = new Set<string>();
  private walked = 0;

  constructor(private readonly db: Db) {}

  /** Reads the places of the given nodes that are not known yet, many keys per statement. */
  async load(ids: Iterable<string>): Promise<void> {
    // Each missing id once: it is marked as read (no row) before the chunks are read.
    const missing: string[] = [];
    for (const id of ids) {
      if (this.stored.has(id) || this.changed.has(id) || id === ROOT || id === TRASH) continue;
      this.stored.set(id, null);
      missing.push(id);
    }
    for (let i = 0; i < missing.length; i += CHUNK) {
      const chunk = JSON.stringify(missing.slice(i, i + CHUNK));
      for (const row of await this.db.all(LOAD_SQL, [chunk])) {
        this.stored.set(missing[i + (row[0] as number)]!, { parent: row[1] as string | null, pos: row[2] as string });
      }
    }
  }

  /** A node's place now (null: it does not exist). The node must have been loaded. */
  place(id: string): Place | null {
    if (id === ROOT || id === TRASH) return FIXED;
    const changed = this.changed.get(id);
    if (changed !== undefined) return changed;
    const stored = this.stored.get(id);
    if (stored === undefined) throw new Error(`the merge did not load node ${id}`);
    return stored;
  }

  /** Puts a loaded node at `place` (null: removes it). */
  set(id: string, place: Place | null): void {
    this.place(id);
    this.changed.set(id, place);
    if (place !== null) this.adopters.add(place.parent!);
  }

  /** Starts a node at `place` when SQLite holds it at `stored` (a late batch's undo, which
   * knows both from the log without reading the node). */
  start(id: string, stored: Place | null, place: Place | null): void {
    this.stored.set(id, stored);
    this.changed.set(id, place);
    if (place !== null) this.adopters.add(place.parent!);
  }

  /**
   * True when `node` is `from` or one of its ancestors in the merge's tree. The walk reads the
   * merge's changes and the rows read before from memory, the rest from SQLite by key (no
   * depth limit: the tree has no cycle, so the walk ends at ROOT or TRASH).
   */
  async isAncestorOrSelf(node: string, from: string): Promise<boolean> {
    let at: string | null = from;
    let leafChecked = false;
    while (at !== null) {
      if (at === node) return true;
      if (at === ROOT || at === TRASH) return false;
      const known: Place | null | undefined = this.changed.has(at) ? this.changed.get(at) : this.stored.get(at);
      if (known !== undefined) {
        at = known === null ? null : known.parent;
        continue;
      }
      // Before the first read: a node without children is no one's ancestor. It has none when
      // SQLite holds no row under it and the merge put nothing under it (a child SQLite holds
      // may have moved away in the merge: then the walk decides).
      if (!leafChecked) {
        leafChecked = true;
        if (!this.adopters.has(node) && (await this.db.get('select 1 from nodes where parent = ? limit 1', [node])) === undefined) {
          return false;
        }
      }
      // Not known: read it (kept for the next walks, up to READ_LIMIT rows). The upper
      // ancestors are shared by most walks, so after a few walks most steps are in memory.
      const row = await this.db.get('select parent, pos from nodes where id = ?', [at]);
      const place = row === undefined ? null : { parent: row[0] as string | null, pos: row[1] as string };
      if (this.walked < READ_LIMIT) {
        this.stored.set(at, place);
        this.walked++;
      }
      at = place === null ? null : place.parent;
    }
    return false;
  }

  /** What to write so that SQLite holds the merge's tree. */
  changes(): TreeChanges {
    const out: TreeChanges = { inserted: [], updated: [], deleted: [] };
    for (const [id, now] of this.changed) {
      const before = this.stored.get(id)!;
      if (same(before, now)) continue;
      if (now === null) out.deleted.push(id);
      else if (before === null) out.inserted.push([id, now.parent, now.pos]);
      else out.updated.push([id, now.parent, now.pos]);
    }
    return out;
  }
}
