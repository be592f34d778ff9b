// The oracle of the restore rule (restore-rule.ts) on hand-made histories: it must flag a
// concurrent delete that buries an edit, and only that.
import { describe, expect, test } from 'vitest';
import { move, set, ts } from '../merge/ops.ts';
import { hadSeen, type KnownOp, wronglyLostEdits } from './restore-rule.ts';

const base: KnownOp[] = [
  { op: move(ts(1), 'X', 'ROOT', 'x'), seq: 1, seen: 0 },
  { op: move(ts(2), 'Y', 'X', 'y'), seq: 2, seen: 0 },
];
const del = (seen: number, seq: number): KnownOp => ({ op: move(ts(10, 'carol'), 'X', 'TRASH', 't'), seq, seen });
const add = (seen: number, seq: number): KnownOp => ({ op: move(ts(11, 'bob'), 'C', 'Y', 'c'), seq, seen });

describe('hadSeen', () => {
  test('by seq, or by replica and ts', () => {
    expect(hadSeen(del(3, 4), add(2, 3))).toBe(true);
    expect(hadSeen(del(2, 4), add(2, 3))).toBe(false);
    const own = { op: set(ts(12, 'carol'), 'Y', 'k', 1), seq: 3, seen: 0 };
    // carol's delete (ts 10) is older than her set (ts 12): the set had seen it, whatever the seqs.
    expect(hadSeen(own, del(2, 4))).toBe(true);
    expect(hadSeen(del(2, 4), own)).toBe(false);
    expect(hadSeen({ ...own, op: set(ts(13, 'carol'), 'Y', 'k', 1) }, { ...own })).toBe(true);
  });
});

describe('wronglyLostEdits', () => {
  test('flags a concurrent delete that buries an edit', () => {
    const lost = wronglyLostEdits([...base, add(2, 3), del(2, 4)]);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toContain(`edit ${ts(11, 'bob')}`);
  });

  test('accepts a delete that had seen the edit', () => {
    expect(wronglyLostEdits([...base, add(2, 3), del(3, 4)])).toEqual([]);
  });

  test('accepts the tree once a restore (which saw everything) moved it back', () => {
    const restore: KnownOp = { op: move('9999999999999.00000.server', 'X', 'ROOT', 'x'), seq: 5, seen: 4 };
    expect(wronglyLostEdits([...base, add(2, 3), del(2, 4), restore])).toEqual([]);
  });

  test('a later delete that had seen the restore wins', () => {
    const restore: KnownOp = { op: move('9999999999999.00000.server', 'X', 'ROOT', 'x'), seq: 5, seen: 4 };
    const again: KnownOp = { op: move('9999999999999.00001.carol', 'X', 'TRASH', 't'), seq: 6, seen: 5 };
    expect(wronglyLostEdits([...base, add(2, 3), del(2, 4), restore, again])).toEqual([]);
  });

  test('with the merges\' ends: a delete that could not be undone when it met the edit is left alone', () => {
    // alice deletes Y; bob, concurrently, moves X (Y's old parent) into Y and renames Y: undoing
    // the delete would make a cycle when they meet. carol then takes X out of the trash.
    const delY: KnownOp = { op: move(ts(10, 'alice'), 'Y', 'TRASH', 't'), seq: 3, seen: 2 };
    const xIntoY: KnownOp = { op: move(ts(11, 'bob'), 'X', 'Y', 'x'), seq: 4, seen: 2 };
    const rename: KnownOp = { op: set(ts(12, 'bob'), 'Y', 'title', 'new'), seq: 5, seen: 2 };
    const xOut: KnownOp = { op: move(ts(20, 'carol'), 'X', 'ROOT', 'x'), seq: 6, seen: 5 };
    const history = [...base, delY, xIntoY, rename, xOut];
    // The final tree alone: Y's delete could be undone now, and buries bob's rename.
    expect(wronglyLostEdits(history)).toHaveLength(1);
    expect(wronglyLostEdits(history, [2, 3, 5, 6])).toEqual([]);
    // Had the pair met once carol's move was in, the delete could have been undone then.
    expect(wronglyLostEdits([...base, delY, xIntoY, xOut, { ...rename, seq: 7 }], [2, 3, 4, 6, 7])).toHaveLength(1);
  });

  test('with the merges\' ends: a delete that could be undone when it met the edit is still flagged', () => {
    expect(wronglyLostEdits([...base, add(2, 3), del(2, 4)], [2, 3, 4])).toHaveLength(1);
    expect(wronglyLostEdits([...base, add(2, 3), del(2, 4)], [2, 4])).toHaveLength(1);
  });

  test('with the merges\' ends: an edit moved into a deleted subtree later, by a third replica, is left alone', () => {
    const z: KnownOp = { op: move(ts(3), 'Z', 'ROOT', 'z'), seq: 3, seen: 2 };
    const delX: KnownOp = { op: move(ts(10, 'carol'), 'X', 'TRASH', 't'), seq: 4, seen: 3 };
    const rename: KnownOp = { op: set(ts(11, 'bob'), 'Z', 'title', 'new'), seq: 5, seen: 3 };
    // dave, who saw all of it, moves Z into Y, in the trash: his move is the delete of Z
    const zIntoY: KnownOp = { op: move(ts(20, 'dave'), 'Z', 'Y', 'z'), seq: 6, seen: 5 };
    const history = [...base, z, delX, rename, zIntoY];
    expect(wronglyLostEdits(history)).toHaveLength(1);
    expect(wronglyLostEdits(history, [2, 3, 4, 5, 6])).toEqual([]);
  });
});

