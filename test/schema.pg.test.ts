/**
 * The schema the migrations build, compared with the committed `test/schema.sql`: a change to
 * the database API shows up in review as a diff of that file, and a migration that changes more
 * (or less) than its author meant fails here.
 *
 * After a deliberate change: `UPDATE_SCHEMA=1 npx vitest run test/schema.pg.test.ts`, then
 * review and commit the new `test/schema.sql`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { createTestDb, useTestDb, type TestDb } from './pg/db.ts';
import { describeSchema } from './pg/describe-schema.ts';

const SCHEMA_FILE = new URL('./schema.sql', import.meta.url);

const db = useTestDb();

async function describe(db: TestDb): Promise<string> {
  const client = await db.client();
  try {
    return await describeSchema(client);
  } finally {
    client.release();
  }
}

test('the migrated schema matches test/schema.sql', async () => {
  const actual = await describe(db);
  if (process.env.UPDATE_SCHEMA === '1') {
    await writeFile(SCHEMA_FILE, actual);
    return;
  }
  const committed = await readFile(SCHEMA_FILE, 'utf8').catch(() => '(test/schema.sql missing)');
  expect(
    actual,
    'the schema built by sql/*.sql differs from test/schema.sql; if the change is intended, ' +
      'run UPDATE_SCHEMA=1 npx vitest run test/schema.pg.test.ts and commit the file',
  ).toBe(committed);
});

test('the schema does not depend on the database default collation', async () => {
  const c = await createTestDb({ collation: 'c' });
  try {
    expect(await describe(c)).toBe(await describe(db));
  } finally {
    await c.drop();
  }
});
