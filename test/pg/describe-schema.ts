/**
 * A stable text description of everything in one schema, read from the catalogs: what
 * `pg_dump --schema-only` would tell, without needing pg_dump (or one of the server's version).
 *
 * Stable means: the same migrations give the same text on any cluster of the same major
 * version, whatever the database's default collation or the session's search_path. Objects are
 * sorted by name (byte order); table columns keep their declared order, which is part of the
 * schema. Every collatable column shows its collation, `"default"` included, so a forgotten
 * `collate "C"` is visible in review.
 *
 * Left out: owners, privileges, comments, extension versions, and the NOT NULL constraints that
 * Postgres 18 also lists in pg_constraint (they show as `not null` on the column).
 */
import type pg from 'pg';

interface Item {
  /** Sort key: kind and name. */
  key: string;
  text: string;
}

export async function describeSchema(client: pg.ClientBase, schema = 'treesync'): Promise<string> {
  await client.query('begin read only');
  try {
    // pg_get_* and format_type qualify names not on the search_path: fix it so they always
    // qualify ours, whatever the caller's session had.
    await client.query('set local search_path = pg_catalog');
    const items: Item[] = [];
    for (const q of QUERIES) items.push(...(await client.query<Item>(q, [schema])).rows);
    items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const header = `-- schema ${schema}, described by test/pg/describe-schema.ts\n`;
    return header + items.map((i) => `\n${i.text.trimEnd()}\n`).join('');
  } finally {
    await client.query('rollback');
  }
}

/** Objects that belong to an extension are the extension's, not ours. */
const NOT_EXTENSION = (catalog: string, oid: string) =>
  `not exists (select 1 from pg_depend d where d.classid = '${catalog}'::regclass
               and d.objid = ${oid} and d.deptype = 'e')`;

const QUERIES = [
  // Extensions installed into the schema.
  `select '0 extension ' || e.extname as key, 'create extension ' || quote_ident(e.extname) || ';' as text
     from pg_extension e join pg_namespace n on n.oid = e.extnamespace
    where n.nspname = $1`,

  // Enums, domains, composite and range types (not the row types of tables, not arrays).
  `select '1 type ' || t.typname as key,
          'create ' || case t.typtype when 'd' then 'domain ' else 'type ' end
          || format_type(t.oid, null) || case t.typtype
            when 'e' then ' as enum (' || (select string_agg(quote_literal(e.enumlabel), ', '
                                             order by e.enumsortorder)
                                           from pg_enum e where e.enumtypid = t.oid) || ')'
            when 'd' then ' as ' || format_type(t.typbasetype, t.typtypmod)
              || coalesce(' collate ' || (select quote_ident(co.collname) from pg_collation co
                                          where co.oid = t.typcollation
                                            and t.typcollation <> (select typcollation from pg_type
                                                                   where oid = t.typbasetype)), '')
              || case when t.typnotnull then ' not null' else '' end
              || coalesce(' default ' || t.typdefault, '')
              || coalesce((select string_agg(E'\\n  constraint ' || quote_ident(c.conname) || ' '
                                             || pg_get_constraintdef(c.oid), '' order by c.conname)
                           from pg_constraint c where c.contypid = t.oid and c.contype <> 'n'), '')
            when 'c' then E' as (\\n' || (select string_agg('  ' || quote_ident(a.attname) || ' '
                                             || format_type(a.atttypid, a.atttypmod)
                                             || coalesce(' collate ' || (
                                                  select quote_ident(co.collname) from pg_collation co
                                                   where co.oid = a.attcollation), ''),
                                             E',\\n' order by a.attnum)
                                           from pg_attribute a
                                          where a.attrelid = t.typrelid and a.attnum > 0
                                            and not a.attisdropped) || E'\\n)'
            when 'r' then ' as range (subtype = ' || (select format_type(r.rngsubtype, null)
                                                      from pg_range r where r.rngtypid = t.oid) || ')'
          end || ';' as text
     from pg_type t join pg_namespace n on n.oid = t.typnamespace
    where n.nspname = $1 and t.typtype in ('e', 'd', 'c', 'r')
      and (t.typrelid = 0 or (select relkind from pg_class where oid = t.typrelid) = 'c')
      and ${NOT_EXTENSION('pg_type', 't.oid')}`,

  // Sequences, with the column that owns them (serial, identity).
  `select '2 sequence ' || c.relname as key,
          'create sequence ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
          || ' as ' || format_type(s.seqtypid, null) || ' start ' || s.seqstart
          || ' increment ' || s.seqincrement || ' minvalue ' || s.seqmin
          || ' maxvalue ' || s.seqmax || ' cache ' || s.seqcache
          || case when s.seqcycle then ' cycle' else '' end
          || coalesce((select ' owned by ' || quote_ident(oc.relname) || '.' || quote_ident(a.attname)
                       from pg_depend d join pg_class oc on oc.oid = d.refobjid
                       join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
                       where d.classid = 'pg_class'::regclass and d.objid = c.oid
                         and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')), '')
          || ';' as text
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     join pg_sequence s on s.seqrelid = c.oid
    where n.nspname = $1 and c.relkind = 'S' and ${NOT_EXTENSION('pg_class', 'c.oid')}`,

  // Tables: columns in declared order with type, collation, nullability, default, identity.
  `select '3 table ' || c.relname as key,
          'create ' || case c.relpersistence when 'u' then 'unlogged ' else '' end || 'table '
          || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || E' (\\n'
          || coalesce((select string_agg('  ' || quote_ident(a.attname) || ' '
                   || format_type(a.atttypid, a.atttypmod)
                   || coalesce(' collate ' || (select quote_ident(co.collname) from pg_collation co
                                               where co.oid = a.attcollation), '')
                   || case when a.attnotnull then ' not null' else '' end
                   || case a.attidentity when 'a' then ' generated always as identity'
                                         when 'd' then ' generated by default as identity'
                                         else '' end
                   || case when a.attgenerated <> '' then ' generated always as ('
                             || pg_get_expr(ad.adbin, ad.adrelid) || ')'
                             || case a.attgenerated when 's' then ' stored' else ' virtual' end
                           else coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '') end,
                   E',\\n' order by a.attnum)
              from pg_attribute a
              left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '')
          || E'\\n)'
          || coalesce(' partition by ' || pg_get_partkeydef(c.oid), '')
          || coalesce(' with (' || array_to_string(c.reloptions, ', ') || ')', '')
          || ';'
          || case when c.relrowsecurity then E'\\nalter table ' || quote_ident(n.nspname) || '.'
                    || quote_ident(c.relname) || ' enable row level security;' else '' end
          || coalesce((select E'\\nalter table ' || format('%I.%I', pn.nspname, p.relname)
                       || ' attach partition ' || format('%I.%I', n.nspname, c.relname) || ' '
                       || pg_get_expr(c.relpartbound, c.oid) || ';'
                       from pg_inherits i join pg_class p on p.oid = i.inhparent
                       join pg_namespace pn on pn.oid = p.relnamespace
                       where i.inhrelid = c.oid and c.relispartition), '') as text
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = $1 and c.relkind in ('r', 'p') and ${NOT_EXTENSION('pg_class', 'c.oid')}`,

  // Constraints of tables.
  `select '4 constraint ' || c.relname || ' ' || k.conname as key,
          'alter table ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
          || ' add constraint ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid)
          || ';' as text
     from pg_constraint k join pg_class c on c.oid = k.conrelid
     join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = $1 and k.contype <> 'n' and ${NOT_EXTENSION('pg_class', 'c.oid')}`,

  // Indexes, those behind constraints included.
  `select '5 index ' || c.relname || ' ' || i.relname as key,
          pg_get_indexdef(i.oid) || ';' as text
     from pg_index x join pg_class i on i.oid = x.indexrelid
     join pg_class c on c.oid = x.indrelid
     join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = $1 and ${NOT_EXTENSION('pg_class', 'c.oid')}`,

  // Views and materialized views.
  `select '6 view ' || c.relname as key,
          'create ' || case c.relkind when 'm' then 'materialized ' else '' end || 'view '
          || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || E' as\\n'
          || rtrim(pg_get_viewdef(c.oid, true), E';\\n ') || ';' as text
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = $1 and c.relkind in ('v', 'm') and ${NOT_EXTENSION('pg_class', 'c.oid')}`,

  // Functions, procedures and aggregates, overloads told apart by their arguments.
  `select '7 function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' as key,
          case when p.prokind = 'a'
               then 'create aggregate ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname)
                    || '(' || pg_get_function_identity_arguments(p.oid) || ');'
               else pg_get_functiondef(p.oid) end as text
     from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = $1 and ${NOT_EXTENSION('pg_proc', 'p.oid')}
      -- not the constructors Postgres made for a range type
      and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                         and d.objid = p.oid and d.deptype = 'i')`,

  // Triggers written by us (not those behind foreign keys).
  `select '8 trigger ' || c.relname || ' ' || t.tgname as key,
          pg_get_triggerdef(t.oid, true) || ';' as text
     from pg_trigger t join pg_class c on c.oid = t.tgrelid
     join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = $1 and not t.tgisinternal`,

  // Row-level security policies.
  `select '9 policy ' || p.tablename || ' ' || p.policyname as key,
          'create policy ' || quote_ident(p.policyname) || ' on ' || quote_ident(p.schemaname) || '.'
          || quote_ident(p.tablename) || ' as ' || p.permissive || ' for ' || p.cmd
          || ' to ' || array_to_string(p.roles, ', ')
          || coalesce(' using (' || p.qual || ')', '')
          || coalesce(' with check (' || p.with_check || ')', '') || ';' as text
     from pg_policies p
    where p.schemaname = $1`,
];
