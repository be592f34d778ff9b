/**
 * describe-schema.ts tells every kind of object a migration may create, and only those: not
 * what Postgres derives by itself (range constructors, array types, foreign-key triggers).
 */
import { expect, test } from 'vitest';
import { useTestDb } from './db.ts';
import { describeSchema } from './describe-schema.ts';

const db = useTestDb({ empty: true });

test('describes each kind of object, once, in a stable order', async () => {
  await db.query(`
    create schema probe;
    create type probe.mood as enum ('sad', 'ok');
    create domain probe.slug as text collate "C" not null check (value ~ '^[a-z]+$');
    create type probe.span as range (subtype = int4);
    create type probe.pair as (k text collate "C", v text);
    create table probe.t (
      id int generated always as identity primary key,
      slug probe.slug,
      note text,
      twice int generated always as (id * 2) stored,
      mood probe.mood default 'ok'
    );
    create table probe.child (t int references probe.t (id) on delete cascade) with (fillfactor = 70);
    create index t_note on probe.t (lower(note));
    create view probe.v as select id, note from probe.t where id > 1;
    create function probe.touch() returns trigger language plpgsql as $$ begin return new; end $$;
    create trigger touch before insert on probe.t for each row execute function probe.touch();
    alter table probe.t enable row level security;
    create policy mine on probe.t for select using (id > 0);
  `);
  const client = await db.client();
  let text: string;
  try {
    text = await describeSchema(client, 'probe');
    // Whatever the session's search_path, the text is the same.
    await client.query('set search_path = probe, public');
    expect(await describeSchema(client, 'probe')).toBe(text);
  } finally {
    client.release();
  }
  for (const line of [
    `create type probe.mood as enum ('sad', 'ok');`,
    `create domain probe.slug as text collate "C" not null\n  constraint slug_check CHECK`,
    `create type probe.span as range (subtype = integer);`,
    `create type probe.pair as (\n  k text collate "C",\n  v text collate "default"\n);`,
    `  id integer not null generated always as identity,\n  slug probe.slug collate "C",\n` +
      `  note text collate "default",\n  twice integer generated always as ((id * 2)) stored,\n` +
      `  mood probe.mood default 'ok'::probe.mood\n);\nalter table probe.t enable row level security;`,
    `create sequence probe.t_id_seq as integer start 1`,
    `) with (fillfactor=70);`,
    `alter table probe.child add constraint child_t_fkey FOREIGN KEY (t) REFERENCES probe.t(id) ON DELETE CASCADE;`,
    `CREATE INDEX t_note ON probe.t USING btree (lower(note));`,
    `CREATE OR REPLACE FUNCTION probe.touch()`,
    `CREATE TRIGGER touch BEFORE INSERT ON probe.t FOR EACH ROW EXECUTE FUNCTION probe.touch();`,
    `create policy mine on probe.t as PERMISSIVE for SELECT to public using ((id > 0));`,
  ]) {
    expect(text).toContain(line);
  }
  // Postgres before 16 qualifies a view's columns with the table name.
  expect(text).toMatch(/create view probe\.v as\n SELECT (t\.)?id,\n {4}(t\.)?note\n {3}FROM probe\.t\n {2}WHERE (t\.)?id > 1;/);
  expect(text).not.toMatch(/FUNCTION probe\.span|_multirange|RI_ConstraintTrigger/);
  // Sorted by kind, then name: the order is part of what makes diffs readable.
  const kinds = [...text.matchAll(/^(create \w+|alter table|CREATE \w+)/gm)].map((m) => m[1]);
  expect(kinds.indexOf('create view')).toBeGreaterThan(kinds.lastIndexOf('create table'));
});
