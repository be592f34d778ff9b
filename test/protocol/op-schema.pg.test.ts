// The server refuses bad operations with the protocol's zod schema before the database sees
// them; the database refuses them with `treesync.op_problem`. The two must agree on every
// operation, or a client would see different answers for the same op depending on which check
// it meets first. (Values are kept small: their size limit is checked by the database only.)
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { opSchema } from '../../protocol/op-schema.ts';
import { fcRuns } from '../model/fc-runs.ts';
import { useTestDb } from '../pg/db.ts';

const db = useTestDb();
const MISSING = Symbol('missing');

const oneOf = <T = unknown>(...values: T[]) => fc.constantFrom(...values);
/** Mostly good values, sometimes bad ones, sometimes random ones near the edges. */
const field = (good: fc.Arbitrary<unknown>, bad: fc.Arbitrary<unknown>, random: fc.Arbitrary<unknown>) =>
  fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: bad, weight: 1 }, { arbitrary: random, weight: 1 });
const ids = (good: string) =>
  field(
    oneOf(good, 'ROOT', 'TRASH', 'a_b-C9', 'x'.repeat(64)),
    oneOf<unknown>('', 'x'.repeat(65), 'a.b', 'a b', 'é', 'a/b', 'n\n', 'ⅰ', 42, null, true, MISSING),
    fc.stringMatching(/^[A-Za-z0-9_.-]{0,66}$/),
  );

const arbTs = field(
  oneOf('1732212345678.00000.alice', '0000000000000.00000.a', `1732212345678.99999.${'r'.repeat(32)}`),
  oneOf<unknown>(
    '173221234567.00000.a', // 12-digit wall
    '17322123456789.00000.a', // 14
    '1732212345678.0000.a', // 4-digit counter
    `1732212345678.00000.${'r'.repeat(33)}`,
    '1732212345678.00000.',
    '1732212345678.00000.a.b',
    '1732212345678.00000.a\n',
    '١٧٣٢٢١٢٣٤٥٦٧٨.00000.a', // digits, but not ASCII ones
    '1732212345678-00000-a',
    1732212345678,
    null,
    MISSING,
  ),
  fc.tuple(fc.stringMatching(/^[0-9]{12,14}$/), fc.stringMatching(/^[0-9]{4,6}$/), fc.stringMatching(/^[A-Za-z0-9_.-]{0,34}$/)).map(
    ([w, c, r]) => `${w}.${c}.${r}`,
  ),
);

const arbPos = field(
  oneOf('', 'a0', '~', ' ', 'a'.repeat(128)),
  oneOf<unknown>('a'.repeat(129), '\x7f', '\x1f', '\t', 'é', '€', 1, null, MISSING),
  fc.string({ unit: 'binary-ascii', maxLength: 130 }).filter((s) => !s.includes('\u0000')),
);

const arbKey = field(
  oneOf('text', 'x.y', 'A-b_9', 'k'.repeat(64)),
  oneOf<unknown>('', 'k'.repeat(65), 'a b', 'é', 7, null, MISSING),
  fc.stringMatching(/^[A-Za-z0-9_. -]{0,66}$/),
);
const arbValue = field(
  oneOf<unknown>('Buy milk', 0, -2.5, true, null, [1, 'a', null], { a: { b: [] } }),
  oneOf(MISSING),
  fc.jsonValue({ maxDepth: 2 }).filter((v) => !JSON.stringify(v).includes('\\u0000')), // jsonb refuses NUL
);
const arbType = field(oneOf('move', 'set'), oneOf<unknown>('MOVE', 'delete', '', 1, null, MISSING), fc.string({ maxLength: 4 }));

/** A candidate operation: mostly well-formed, each field sometimes wrong, missing or extra. */
const arbCandidate = fc
  .record({
    ts: arbTs,
    type: arbType,
    node: ids('n1'),
    parent: ids('ROOT'),
    pos: arbPos,
    key: arbKey,
    value: arbValue,
    extra: fc.oneof({ arbitrary: fc.constant(MISSING), weight: 9 }, { arbitrary: oneOf<unknown>('x', 1), weight: 1 }),
    // Which fields a move or set really carries, so well-formed ops are common.
    shape: oneOf('by type', 'by type', 'by type', 'everything'),
  })
  .map(({ shape, extra, ...f }) => {
    const fields = shape === 'everything' ? Object.keys(f) : f.type === 'set' ? ['ts', 'type', 'node', 'key', 'value'] : ['ts', 'type', 'node', 'parent', 'pos'];
    const op: Record<string, unknown> = {};
    for (const k of fields) {
      const v = f[k as keyof typeof f];
      if (v !== MISSING) op[k] = v;
    }
    if (extra !== MISSING) op.extra = extra;
    return op;
  });

const arbNonObject = oneOf<unknown>(5, 'op', null, [], [{ ts: '1732212345678.00000.a' }], true);

test('the op schema and the SQL validation agree on every operation', async () => {
  let valid = 0;
  let total = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.oneof({ arbitrary: arbCandidate, weight: 19 }, { arbitrary: arbNonObject, weight: 1 }), { minLength: 100, maxLength: 300 }), async (ops) => {
      const { rows } = await db.query<{ problem: string | null }>(
        `select treesync.op_problem(e.op, 65536) as problem
           from jsonb_array_elements($1::jsonb) with ordinality as e(op, i) order by e.i`,
        [JSON.stringify(ops)],
      );
      ops.forEach((op, i) => {
        const zod = opSchema.safeParse(op);
        const sql = rows[i]!.problem;
        total++;
        if (sql === null) valid++;
        expect({ op, zodAccepts: zod.success }).toEqual({ op, zodAccepts: sql === null });
      });
    }),
    { numRuns: fcRuns(30), seed: 42 },
  );
  // The generator must make plenty of both, or the agreement means little.
  expect(valid / total).toBeGreaterThan(0.1);
  expect(valid / total).toBeLessThan(0.9);
});
