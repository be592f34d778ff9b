/**
 * Where a new or moved node goes among its siblings: an order key, and when keys around the spot
 * have grown long, a small re-keying plan.
 *
 * Why re-keying: no key scheme keeps keys short against every insertion order (inserting each
 * time into the gap just made halves it, about one bit per insert), and the protocol refuses
 * keys over 128 bytes. So when the key for the spot would pass `rekeyAbove` (default 64 bytes),
 * `placeBetween` gives a few neighbours new, short, evenly spaced keys as well. The local-edit
 * layer issues those as ordinary moves (same parent, new pos) before the new node's own move.
 *
 * Contract of `placeBetween(neighbourhood)`:
 * - The neighbourhood is a window of siblings around the spot, in sibling order ((pos, id)
 *   bytewise): `before` ends at the spot, `after` starts at it. `lower` is the pos of the sibling
 *   just before `before[0]` and `upper` of the one just after the last of `after`; null (or
 *   absent) means there is none, the window reaches that end of the list. Siblings in the window
 *   may be re-keyed; `lower` and `upper` are never moved, and every new key lies strictly
 *   between them.
 * - The answer's `pos` sorts strictly between the spot's neighbours, and after the `rekey` moves
 *   (in any order) the window's siblings and the new node are in strictly increasing pos order,
 *   all keys at most 128 bytes. `rekey` is empty in the common cases.
 * - Keys stay at most `rekeyAbove` bytes when the window allows it; when it does not, they may
 *   grow up to 128; when nothing of at most 128 bytes fits in the window, the answer is null:
 *   call again with a wider window. The whole sibling list (`lower` and `upper` null) always
 *   gets an answer. Ordinary editing never re-keys; for the hostile orders, a window of 4
 *   siblings each side, four times wider on each null, re-keyed least (bench:order-keys).
 * - Equal keys (two replicas inserted at the same spot at once; the ids order them) are a spot
 *   with no key between: the answer re-keys one or both of them.
 * - Bad input (keys that are not order keys, siblings out of order) throws `invalid_request`.
 *
 * Caveat for the worker: a re-keying move is a move like any other. If another replica moves a
 * re-keyed sibling elsewhere concurrently and its timestamp is the smaller one, the re-keying
 * move wins and brings the sibling back. Re-keying is rare and touches few siblings, and the
 * window's siblings are only those next to the spot being edited.
 */
import { TreesyncError } from '../../protocol/errors.ts';
import { compareSiblings, findBetween, findKeysBetween, isOrderKey, MAX_KEY_BYTES } from './order-key.ts';

export interface Sibling {
  id: string;
  pos: string;
}

export interface Neighbourhood {
  /** Siblings before the spot, in order: the nearest one last. */
  before: readonly Sibling[];
  /** Siblings after the spot, in order: the nearest one first. */
  after: readonly Sibling[];
  /** The pos of the sibling before `before[0]`; null or absent: none (the list starts here). */
  lower?: string | null;
  /** The pos of the sibling after the last of `after`; null or absent: none (the list ends here). */
  upper?: string | null;
}

export interface Placement {
  /** The order key for the node being placed. */
  pos: string;
  /** Siblings to move to a new pos under the same parent; empty in the common cases. */
  rekey: Sibling[];
}

export interface PlaceOptions {
  /** Re-key when the spot's key would be longer than this many bytes (8..128, default 64). */
  rekeyAbove?: number;
}

export const DEFAULT_REKEY_ABOVE = 64;

export function placeBetween(neighbourhood: Neighbourhood, options: PlaceOptions = {}): Placement | null {
  const limit = options.rekeyAbove ?? DEFAULT_REKEY_ABOVE;
  if (!Number.isInteger(limit) || limit < 8 || limit > MAX_KEY_BYTES) {
    throw new TreesyncError('invalid_request', `rekeyAbove is an integer in 8..${MAX_KEY_BYTES}, got ${limit}`);
  }
  if (typeof neighbourhood !== 'object' || neighbourhood === null) {
    throw new TreesyncError('invalid_request', 'a neighbourhood is {before, after, lower?, upper?}');
  }
  const { before, after } = neighbourhood;
  const lower = neighbourhood.lower ?? null;
  const upper = neighbourhood.upper ?? null;
  checkWindow(before, after, lower, upper);

  const direct = findBetween(before.at(-1)?.pos ?? lower, after[0]?.pos ?? upper);
  if (direct !== null && direct.length <= limit) return { pos: direct, rekey: [] };

  // Re-space 1, 2, 4, … siblings on each side, until the keys are short (half the limit, so
  // that the next inserts here have room) or the window is used up.
  let fallback: { placement: Placement; longest: number } | null = null;
  for (let k = 1; ; k *= 2) {
    const nb = Math.min(k, before.length);
    const na = Math.min(k, after.length);
    const lo = nb < before.length ? before[before.length - nb - 1]!.pos : lower;
    const hi = na < after.length ? after[na]!.pos : upper;
    const keys = findKeysBetween(lo, hi, nb + na + 1);
    if (keys !== null) {
      const longest = keys.reduce((most, key) => Math.max(most, key.length), 0);
      const placement = plan(before.slice(before.length - nb), after.slice(0, na), keys);
      if (longest <= limit / 2) return placement;
      if (longest <= limit && (fallback === null || longest < fallback.longest)) fallback = { placement, longest };
    }
    if (nb === before.length && na === after.length) break;
  }
  // The window is too tight for short keys: the shortest plan within the limit, else the direct
  // key while it fits in 128 bytes, else the caller widens the window.
  if (fallback !== null) return fallback.placement;
  return direct === null ? null : { pos: direct, rekey: [] };
}

/** The placement that gives `moved` (in order) and the new node the increasing `keys`. */
function plan(movedBefore: readonly Sibling[], movedAfter: readonly Sibling[], keys: readonly string[]): Placement {
  const moved = [...movedBefore, null, ...movedAfter];
  const rekey: Sibling[] = [];
  moved.forEach((sibling, j) => {
    if (sibling !== null && sibling.pos !== keys[j]) rekey.push({ id: sibling.id, pos: keys[j]! });
  });
  return { pos: keys[movedBefore.length]!, rekey };
}

function checkWindow(before: readonly Sibling[], after: readonly Sibling[], lower: string | null, upper: string | null): void {
  if (!Array.isArray(before) || !Array.isArray(after)) {
    throw new TreesyncError('invalid_request', 'a neighbourhood has arrays `before` and `after` of siblings {id, pos}');
  }
  for (const [name, key] of [['lower', lower], ['upper', upper]] as const) {
    if (key !== null && !isOrderKey(key)) throw new TreesyncError('invalid_request', `${name} must be null or an order key, got ${JSON.stringify(key)}`);
  }
  const window = [...before, ...after];
  window.forEach((sibling, i) => {
    if (typeof sibling?.id !== 'string' || !isOrderKey(sibling.pos)) {
      throw new TreesyncError('invalid_request', `sibling ${i} of the neighbourhood must be {id, pos} with pos an order key, got ${JSON.stringify(sibling)}`);
    }
    if (i > 0 && compareSiblings(window[i - 1]!, sibling) >= 0) {
      throw new TreesyncError('invalid_request', `the neighbourhood's siblings must be in (pos, id) order: sibling ${i} (${sibling.id}) is not after ${window[i - 1]!.id}`);
    }
  });
  const first = window[0];
  const last = window.at(-1);
  if (lower !== null && first !== undefined && lower > first.pos) {
    throw new TreesyncError('invalid_request', `lower (${JSON.stringify(lower)}) sorts after the first sibling's pos`);
  }
  if (upper !== null && last !== undefined && upper < last.pos) {
    throw new TreesyncError('invalid_request', `upper (${JSON.stringify(upper)}) sorts before the last sibling's pos`);
  }
  if (lower !== null && upper !== null && lower > upper) {
    throw new TreesyncError('invalid_request', 'lower sorts after upper');
  }
}
