/**
 * A random tree, built in timestamp order, for benchmarks and the merge's read guards: each new
 * node goes under a uniformly random earlier node (or ROOT), and re-parenting moves take a
 * random existing node under another random one (the merge skips those that would make a
 * cycle). Its depth grows like the logarithm of its size, so cycle checks walk a few dozen
 * ancestors. Deterministic for a seed.
 */
import { formatTs, ROOT, type MoveOp, type SetOp } from '../protocol/ops.ts';

const BASE_WALL = 1_700_000_000_000;

export class RandomTree {
  private ids: string[] = [];
  private created = 0;
  private wall: number;
  private random: () => number;

  constructor(
    readonly replica: string,
    seed: number,
    /** Milliseconds after a fixed base at which this replica's clock starts. */
    clockOffset = 0,
  ) {
    this.random = mulberry32(seed);
    this.wall = BASE_WALL + clockOffset;
  }

  get size(): number {
    return this.ids.length;
  }

  /** Milliseconds after the base that the next operation will carry. */
  get clock(): number {
    return this.wall - BASE_WALL;
  }

  /** A replica that knows the same nodes, with its own id, seed and clock (ms after the base). */
  fork(replica: string, seed: number, clockOffset: number): RandomTree {
    const other = new RandomTree(replica, seed, clockOffset);
    other.ids = [...this.ids];
    return other;
  }

  /** `count` new nodes, each under a uniformly random earlier one (ROOT for the first). */
  creations(count: number): MoveOp[] {
    const out: MoveOp[] = [];
    for (let i = 0; i < count; i++) {
      const parent = this.ids.length === 0 ? ROOT : this.pick();
      const node = `${this.replica}-${++this.created}`;
      out.push({ ts: this.tick(), type: 'move', node, parent, pos: this.pos() });
      this.ids.push(node);
    }
    return out;
  }

  /** `count` moves of random existing nodes under random existing nodes. */
  reparents(count: number): MoveOp[] {
    return Array.from({ length: count }, () => ({
      ts: this.tick(), type: 'move' as const, node: this.pick(), parent: this.pick(), pos: this.pos(),
    }));
  }

  /** `count` sets of a field of random existing nodes. */
  sets(count: number): SetOp[] {
    return Array.from({ length: count }, (_, i) => ({
      ts: this.tick(), type: 'set' as const, node: this.pick(), key: 'title', value: `v${i}`,
    }));
  }

  private pick(): string {
    return this.ids[Math.floor(this.random() * this.ids.length)]!;
  }

  private pos(): string {
    return `a${Math.floor(this.random() * 1e6).toString(36)}`;
  }

  private tick(): string {
    return formatTs(this.wall++, 0, this.replica);
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
