/**
 * `set` values as Postgres's jsonb sees them, so the replica validates, compares and stores
 * them as the server does:
 * - `jsonbText`: the text jsonb prints (`{"a": 1, "bb": [1, 2]}`: keys shortest first, then
 *   bytewise; `": "` and `", "` between items). Two values are the same jsonb exactly when their
 *   texts are equal, which is how the replica decides "same content" for a repeated ts.
 * - `jsonbTextBytes`: its length in UTF-8 bytes (the size limit is measured on it), computed
 *   without recursion, or undefined for a value JSON cannot carry.
 * - `valueDepth`: how deep arrays and objects nest (a scalar is 0, `[1]` is 1).
 *
 * Numbers arrive as JS doubles: 1.0 and 1 are one number here, as they are equal in jsonb.
 * Printed like Postgres's numeric: no exponent (1e21 prints as 1000000000000000000000).
 */

const encoder = new TextEncoder();

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A finite JS number as Postgres's numeric prints what JSON.stringify sends for it. */
export function numericText(n: number): string {
  const s = String(n === 0 ? 0 : n);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const negative = s.startsWith('-');
  const mantissa = s.slice(negative ? 1 : 0, e);
  const exponent = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = mantissa.replace('.', '');
  const intLength = (dot < 0 ? mantissa.length : dot) + exponent;
  let out: string;
  if (intLength <= 0) out = `0.${'0'.repeat(-intLength)}${digits}`;
  else if (intLength >= digits.length) out = digits + '0'.repeat(intLength - digits.length);
  else out = `${digits.slice(0, intLength)}.${digits.slice(intLength)}`;
  return negative ? `-${out}` : out;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Bytes of a scalar's jsonb text, or undefined when it is not a JSON scalar. */
function scalarBytes(v: unknown): number | undefined {
  switch (typeof v) {
    case 'string':
      return utf8Length(JSON.stringify(v));
    case 'number':
      return Number.isFinite(v) ? numericText(v).length : undefined;
    case 'boolean':
      return v ? 4 : 5;
    default:
      return v === null ? 4 : undefined;
  }
}

export function jsonbTextBytes(value: unknown): number | undefined {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'object' && v !== null) {
      if (Array.isArray(v)) {
        total += 2 + 2 * Math.max(0, v.length - 1);
        for (let i = 0; i < v.length; i++) {
          if (!(i in v)) return undefined; // a sparse array is not JSON
          stack.push(v[i]);
        }
      } else if (isPlainObject(v)) {
        const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
        total += 2 + 2 * Math.max(0, keys.length - 1);
        for (const k of keys) {
          total += utf8Length(JSON.stringify(k)) + 2;
          stack.push((v as Record<string, unknown>)[k]);
        }
      } else return undefined;
    } else {
      const bytes = scalarBytes(v);
      if (bytes === undefined) return undefined;
      total += bytes;
    }
  }
  return total;
}

export function valueDepth(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > deepest) deepest = depth;
    if (typeof v === 'object' && v !== null) {
      if (depth + 1 > deepest) deepest = depth + 1;
      for (const child of Object.values(v)) stack.push([child, depth + 1]);
    }
  }
  return deepest;
}

/** jsonb orders object keys by length, then by their UTF-8 bytes. */
function compareKeys(a: string, b: string): number {
  const la = utf8Length(a);
  const lb = utf8Length(b);
  if (la !== lb) return la - lb;
  const ea = encoder.encode(a);
  const eb = encoder.encode(b);
  for (let i = 0; i < ea.length; i++) if (ea[i] !== eb[i]) return ea[i]! - eb[i]!;
  return 0;
}

/** The jsonb text of a valid value (depth ≤ the limit, so recursion is bounded). */
export function jsonbText(value: unknown): string {
  if (typeof value === 'number') return numericText(value);
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jsonbText).join(', ')}]`;
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort(compareKeys);
  return `{${keys.map((k) => `${JSON.stringify(k)}: ${jsonbText(v[k])}`).join(', ')}}`;
}
