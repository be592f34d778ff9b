/**
 * A replica that makes plausible edits to a growing tree, for benchmarks: mostly new nodes
 * under existing ones, some nodes moved elsewhere, some deleted. It keeps its own view of the
 * tree (applying its moves with the same cycle rule) so that it only refers to nodes it has
 * seen and can report the tree's depth. Deterministic for a seed.
 */
import { formatTs, ROOT, TRASH, type MoveOp } from '../protocol/ops.ts';

const BASE_WALL = 1_700_000_000_000;

export class GrowingTree {
  private parent = new Map<string, string>();
  private ids: string[] = [];
  private created = 0;
  private movedCount = 0;
  private deletedCount = 0;
  private wall: number;
  private counter = 0;
  private random: () => number;

  constructor(
    readonly replica: string,
    seed: number,
    /** Milliseconds after a fixed base at which this replica's clock starts. */
    clockOffset = 0,
    /** `synthetic`: every op one ms after the last, from the base on (repeatable runs);
     * `realtime`: a hybrid logical clock on the real clock, as an app makes them (many ops in
     * one ms share the wall time and count up). */
    private readonly clock: 'synthetic' | 'realtime' = 'synthetic',
  ) {
    this.random = mulberry32(seed);
    this.wall = BASE_WALL + clockOffset;
  }

  /** A replica that saw everything this one did, with its own id, seed and clock. */
  fork(replica: string, seed: number, clockOffset: number): GrowingTree {
    const other = new GrowingTree(replica, seed, clockOffset);
    other.parent = new Map(this.parent);
    other.ids = [...this.ids];
    return other;
  }

  /** Moves this replica's clock to `clockOffset` ms after the base (forward only). */
  setClock(clockOffset: number): void {
    this.wall = Math.max(this.wall, BASE_WALL + clockOffset);
  }

  /** The next `count` moves: 88% new nodes, 10% moves, 2% deletes (or only new nodes). */
  moves(count: number, opts: { createOnly?: boolean } = {}): MoveOp[] {
    const out: MoveOp[] = [];
    for (let i = 0; i < count; i++) {
      const roll = this.random();
      const ts = this.tick();
      const pos = `a${Math.floor(this.random() * 1e6).toString(36)}`;
      if (opts.createOnly || roll < 0.88 || this.ids.length < 10) {
        const node = `${this.replica}-${++this.created}`;
        out.push(this.apply({ ts, type: 'move', node, parent: this.pick(true), pos }));
      } else if (roll < 0.98) {
        this.movedCount++;
        out.push(this.apply({ ts, type: 'move', node: this.pick(false), parent: this.pick(true), pos }));
      } else {
        this.deletedCount++;
        out.push(this.apply({ ts, type: 'move', node: this.pick(false), parent: TRASH, pos }));
      }
    }
    return out;
  }

  private tick(): string {
    if (this.clock === 'synthetic') return formatTs(this.wall++, 0, this.replica);
    const now = Date.now();
    if (now > this.wall) {
      this.wall = now;
      this.counter = 0;
    } else {
      this.counter++;
    }
    return formatTs(this.wall, this.counter, this.replica);
  }

  /** The longest path from a node to ROOT or TRASH in this replica's view. */
  depth(): number {
    const memo = new Map<string, number>([[ROOT, 0], [TRASH, 0]]);
    const depthOf = (id: string): number => {
      const path: string[] = [];
      let at = id;
      while (!memo.has(at)) {
        path.push(at);
        at = this.parent.get(at)!;
      }
      let d = memo.get(at)!;
      for (const p of path.reverse()) memo.set(p, ++d);
      return memo.get(id)!;
    };
    return this.ids.reduce((deepest, id) => Math.max(deepest, depthOf(id)), 0);
  }

  mix(): string {
    return `${this.created} created, ${this.movedCount} moved, ${this.deletedCount} deleted by this replica`;
  }

  private pick(orRoot: boolean): string {
    if (orRoot && (this.ids.length === 0 || this.random() < 0.02)) return ROOT;
    return this.ids[Math.floor(this.random() * this.ids.length)]!;
  }

  private apply(op: MoveOp): MoveOp {
    if (!this.parent.has(op.node)) this.ids.push(op.node);
    else if (this.isAncestor(op.node, op.parent)) return op; // skipped, like the merge would
    this.parent.set(op.node, op.parent);
    return op;
  }

  private isAncestor(node: string, of: string): boolean {
    for (let at: string | undefined = of; at !== undefined; at = this.parent.get(at)) {
      if (at === node) return true;
    }
    return false;
  }
}

/** The mulberry32 generator: small, fast, seedable. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
