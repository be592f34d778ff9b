-- schema treesync, described by test/pg/describe-schema.ts

create type treesync.op as (
  idx integer,
  ts text collate "C",
  type text collate "C",
  node text collate "C",
  parent text collate "C",
  pos text collate "C",
  key text collate "C",
  value jsonb
);

create table treesync.fields (
  tree text collate "C" not null,
  node text collate "C" not null,
  key text collate "C" not null,
  value jsonb not null,
  ts text collate "C" not null
);

create table treesync.migrations (
  name text collate "C" not null,
  applied_at timestamp with time zone not null default now(),
  checksum text collate "C"
);

create table treesync.moves (
  tree text collate "C" not null,
  ts text collate "C" not null,
  node text collate "C" not null,
  parent text collate "C" not null,
  pos text collate "C" not null,
  old_parent text collate "C",
  old_pos text collate "C",
  applied boolean not null
);

create table treesync.nodes (
  tree text collate "C" not null,
  id text collate "C" not null,
  parent text collate "C",
  pos text collate "C" not null default ''::text
);

create table treesync.ops (
  tree text collate "C" not null,
  seq bigint not null,
  ts text collate "C" not null,
  type text collate "C" not null,
  node text collate "C" not null,
  parent text collate "C",
  pos text collate "C",
  key text collate "C",
  value jsonb,
  seen bigint
);

create table treesync.replicas (
  tree text collate "C" not null,
  replica text collate "C" not null,
  floor text collate "C" not null,
  seen_at timestamp with time zone not null default now(),
  subject text collate "C",
  pulled bigint
);

create table treesync.trash_times (
  tree text collate "C" not null,
  node text collate "C" not null,
  ts text collate "C" not null,
  old_parent text collate "C",
  old_pos text collate "C"
);

create table treesync.trees (
  id text collate "C" not null,
  seq bigint not null default 0,
  created_at timestamp with time zone not null default now(),
  newest_ts text collate "C",
  deletes text collate "C" not null default 'restore'::text,
  log_from text collate "C",
  kept_seq bigint not null default 0
);

alter table treesync.fields add constraint fields_pkey PRIMARY KEY (tree, node, key);

alter table treesync.migrations add constraint migrations_pkey PRIMARY KEY (name);

alter table treesync.moves add constraint moves_pkey PRIMARY KEY (tree, ts);

alter table treesync.nodes add constraint nodes_pkey PRIMARY KEY (tree, id);

alter table treesync.ops add constraint ops_pkey PRIMARY KEY (tree, seq);

alter table treesync.ops add constraint ops_ts_tree_key UNIQUE (ts, tree);

alter table treesync.ops add constraint ops_type_check CHECK ((type = ANY (ARRAY['move'::text, 'set'::text])));

alter table treesync.replicas add constraint replicas_pkey PRIMARY KEY (tree, replica);

alter table treesync.trash_times add constraint trash_times_pkey PRIMARY KEY (tree, node);

alter table treesync.trees add constraint trees_deletes_check CHECK ((deletes = ANY (ARRAY['restore'::text, 'win'::text])));

alter table treesync.trees add constraint trees_pkey PRIMARY KEY (id);

CREATE UNIQUE INDEX fields_pkey ON treesync.fields USING btree (tree, node, key);

CREATE UNIQUE INDEX migrations_pkey ON treesync.migrations USING btree (name);

CREATE INDEX moves_node ON treesync.moves USING btree (tree, node, ts);

CREATE UNIQUE INDEX moves_pkey ON treesync.moves USING btree (tree, ts);

CREATE INDEX nodes_in_trash ON treesync.nodes USING btree (tree, id) WHERE (parent = 'TRASH'::text);

CREATE INDEX nodes_parent ON treesync.nodes USING btree (parent, tree);

CREATE UNIQUE INDEX nodes_pkey ON treesync.nodes USING btree (tree, id);

CREATE INDEX ops_node ON treesync.ops USING btree (node, tree, seq);

CREATE UNIQUE INDEX ops_pkey ON treesync.ops USING btree (tree, seq);

CREATE UNIQUE INDEX ops_ts_tree_key ON treesync.ops USING btree (ts, tree);

CREATE UNIQUE INDEX replicas_pkey ON treesync.replicas USING btree (tree, replica);

CREATE UNIQUE INDEX trash_times_pkey ON treesync.trash_times USING btree (tree, node);

CREATE UNIQUE INDEX trees_pkey ON treesync.trees USING btree (id);

CREATE OR REPLACE FUNCTION treesync.ancestor_rows(p_tree text, p_ids text[])
 RETURNS TABLE(ctid tid, id text, parent text, pos text)
 LANGUAGE sql
 STABLE
AS $function$
  with recursive up as (
    select n.ctid, n.id, n.parent, n.pos
      from unnest(p_ids) k(id)
     cross join lateral (select n.ctid, n.id, n.parent, n.pos from treesync.nodes n
                          where n.tree = p_tree and n.id = k.id offset 0) n
    union
    select a.ctid, a.id, a.parent, a.pos
      from up
     cross join lateral (select n.ctid, n.id, n.parent, n.pos from treesync.nodes n
                          where n.tree = p_tree and n.id = up.parent offset 0) a
  )
  select * from up
$function$

CREATE OR REPLACE FUNCTION treesync.ancestors_of(p_tree text, p_ids text[])
 RETURNS SETOF treesync.nodes
 LANGUAGE sql
 STABLE
AS $function$
  with recursive up as (
    select * from treesync.nodes_at(p_tree, p_ids)
    union
    select a.*
      from up
     cross join lateral (select n.* from treesync.nodes n
                          where n.tree = p_tree and n.id = up.parent offset 0) a
  )
  select * from up
$function$

CREATE OR REPLACE FUNCTION treesync.ancestry(p_tree text, p_nodes text[], OUT ids text[], OUT parents text[])
 RETURNS record
 LANGUAGE plpgsql
 STABLE
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'on'
 SET enable_hashagg TO 'on'
AS $function$
declare
  v_level_ids text[];
  v_level_parents text[];
  v_front text[];
begin
  ids := '{}';
  parents := '{}';
  v_front := array(select distinct n from unnest(p_nodes) n where n is not null and n not in ('ROOT', 'TRASH'));
  for level in 1 .. 100000 loop
    exit when cardinality(v_front) = 0;
    select coalesce(array_agg(f.id), '{}'), coalesce(array_agg(p.parent), '{}')
      into v_level_ids, v_level_parents
      from unnest(v_front) f(id)
     cross join lateral (select n.parent from treesync.nodes n
                          where n.tree = p_tree and n.id = f.id offset 0) p;
    ids := ids || v_level_ids;
    parents := parents || v_level_parents;
    v_front := array(select p from unnest(v_level_parents) p
                      where p is not null and p not in ('ROOT', 'TRASH')
                     except
                     select i from unnest(ids) i);
  end loop;
end
$function$

CREATE OR REPLACE FUNCTION treesync.apply_ops(p_tree text, p_ops jsonb)
 RETURNS jsonb
 LANGUAGE sql
AS $function$ select treesync.apply_ops(p_tree, p_ops, null::bigint) $function$

CREATE OR REPLACE FUNCTION treesync.apply_ops(p_tree text, p_ops jsonb, p_seen bigint)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_material TO 'off'
AS $function$
declare
  v_max_value_bytes integer :=
    coalesce(nullif(current_setting('treesync.max_value_bytes', true), '')::integer, 65536);
  v_seq bigint;
  v_newest_stored text collate "C";
  v_deletes text;
  v_ops treesync.op[];
  v_new treesync.op[];
  v_accepted integer;
  v_undone integer;
  v_skipped integer;
  v_restored integer := 0;
  v_frontier text collate "C";
  v_stale text[];
begin
  if p_seen < 0 then
    raise exception using
      errcode = 'TS001',
      message = format('seen %s must be a non-negative integer', p_seen);
  end if;
  -- 1. Serialise the merges of this tree (000003).
  select t.seq, t.newest_ts, t.deletes into v_seq, v_newest_stored, v_deletes
    from treesync.trees t where t.id = p_tree for update;
  if not found then
    raise exception using
      errcode = 'TS003',
      message = format('tree %s does not exist', coalesce(quote_literal(p_tree), 'null'));
  end if;

  -- 2. Validate every operation before anything is written; keep those never stored.
  v_ops := treesync.parse_ops(p_ops, v_max_value_bytes);
  v_new := treesync.new_ops(p_tree, v_ops, v_newest_stored);
  v_accepted := cardinality(v_new);

  v_frontier := treesync.frontier(p_tree);
  if v_frontier is not null then
    select array_agg(o.ts order by o.idx) into v_stale from unnest(v_new) o where o.ts < v_frontier;
    if v_stale is not null then
      raise exception using
        errcode = 'TS005',
        message = format('%s operation(s) older than the stability frontier %s, first %s',
                         cardinality(v_stale), v_frontier, v_stale[1]),
        detail = jsonb_build_object('stale', v_stale, 'frontier', v_frontier)::text;
    end if;
  end if;

  -- 3. Store the new operations, in batch order, with the next seqs and what each had seen.
  insert into treesync.ops (tree, seq, ts, type, node, parent, pos, key, value, seen)
  select p_tree, v_seq + row_number() over (order by o.idx), o.ts, o.type, o.node, o.parent,
         o.pos, o.key, o.value,
         least(coalesce((p_ops -> o.idx ->> 'seen')::bigint, p_seen, v_seq), v_seq)
    from unnest(v_new) o;
  if v_accepted > 0 then
    update treesync.trees
       set seq = v_seq + v_accepted,
           newest_ts = greatest(newest_ts, (select max(o.ts) from unnest(v_new) o))
     where id = p_tree;
  end if;

  -- 4. Moves, merged in timestamp order (merge_moves).
  select m.undone, m.skipped into v_undone, v_skipped
    from treesync.merge_moves(p_tree, array(select o from unnest(v_new) o where o.type = 'move')) m;

  -- 5. Sets: last writer wins per (node, key); within the batch only the newest counts.
  insert into treesync.fields as f (tree, node, key, value, ts)
  select distinct on (o.node, o.key) p_tree, o.node, o.key, o.value, o.ts
    from unnest(v_new) o
   where o.type = 'set'
   order by o.node, o.key, o.ts desc
  on conflict (tree, node, key) do update
     set value = excluded.value, ts = excluded.ts
   where f.ts < excluded.ts;

  -- 6. Restores of work deleted concurrently (they take the seqs after the batch's).
  if v_accepted > 0 and v_deletes = 'restore' then
    v_restored := treesync.restore_concurrent(p_tree, v_seq + 1, v_seq + v_accepted, v_undone > 0, p_seen is null);
  end if;

  if v_accepted > 0 then
    -- Tell listeners (every server process) at commit that the tree's seq grew.
    perform pg_notify('treesync_seq',
      jsonb_build_object('tree', p_tree, 'seq', v_seq + v_accepted + v_restored)::text);
  end if;

  return jsonb_build_object(
    'seq', v_seq + v_accepted,
    'accepted', v_accepted,
    'duplicates', cardinality(v_ops) - v_accepted,
    'first_seq', case when v_accepted > 0 then v_seq + 1 end,
    'undone', v_undone,
    'redone', v_undone,
    'skipped', v_skipped,
    'restored', v_restored
  );
end
$function$

CREATE OR REPLACE FUNCTION treesync.apply_ops(p_tree text, p_ops text)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
declare
  v_ops jsonb;
  v_detail text;
begin
  begin
    v_ops := p_ops::jsonb;
  exception
    -- Class 22 (data exception: bad syntax, \u0000, lone surrogates) and class 54 (program
    -- limit: the parser's stack depth).
    when data_exception or program_limit_exceeded then
      get stacked diagnostics v_detail = pg_exception_detail;
      raise exception using
        errcode = 'TS001',
        message = format('operations are not JSON that can be stored: %s%s',
                         sqlerrm, coalesce(' (' || nullif(v_detail, '') || ')', ''));
  end;
  return treesync.apply_ops(p_tree, v_ops);
end
$function$

CREATE OR REPLACE FUNCTION treesync.apply_ops(p_tree text, p_ops text, p_seen bigint)
 RETURNS jsonb
 LANGUAGE sql
AS $function$ select treesync.apply_ops(p_tree, treesync.parse_json_ops(p_ops), p_seen) $function$

CREATE OR REPLACE FUNCTION treesync.childless(p_tree text, p_ids text[])
 RETURNS text[]
 LANGUAGE sql
 STABLE
AS $function$
  select coalesce(array_agg(k.id), '{}')
    from unnest(p_ids) k(id)
    left join lateral (select true as found from treesync.nodes c
                        where c.parent = k.id and (c.tree = p_tree) is true
                        limit 1) c on true
   where c.found is null
$function$

CREATE OR REPLACE FUNCTION treesync.create_tree(p_tree text)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
begin
  if p_tree is null or not (p_tree collate "C" ~ '^[A-Za-z0-9_-]{1,64}$') then
    raise exception using
      errcode = 'TS004',
      message = format('tree id %s is not [A-Za-z0-9_-]{1,64}', coalesce(quote_literal(p_tree), 'null'));
  end if;

  insert into treesync.trees (id) values (p_tree) on conflict do nothing;
  if not found then
    return false;
  end if;

  insert into treesync.nodes (tree, id, parent, pos)
  values (p_tree, 'ROOT', null, ''), (p_tree, 'TRASH', null, '');
  return true;
end
$function$

CREATE OR REPLACE FUNCTION treesync.create_tree(p_tree text, p_options jsonb)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
declare
  v_deletes text;
begin
  if p_options is null or jsonb_typeof(p_options) <> 'object'
     or p_options - 'deletes' <> '{}'::jsonb then
    raise exception using
      errcode = 'TS001',
      message = 'tree options are an object with only the field "deletes"';
  end if;
  v_deletes := coalesce(p_options ->> 'deletes', 'restore');
  if p_options ? 'deletes' and (jsonb_typeof(p_options -> 'deletes') <> 'string'
                                 or v_deletes not in ('restore', 'win')) then
    raise exception using
      errcode = 'TS001',
      message = 'deletes must be "restore" or "win"';
  end if;
  if not treesync.create_tree(p_tree) then
    return false;
  end if;
  update treesync.trees set deletes = v_deletes where id = p_tree;
  return true;
end
$function$

CREATE OR REPLACE FUNCTION treesync.frontier(p_tree text)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
  select greatest(
    (select min(r.floor)
       from treesync.replicas r
      where r.tree = p_tree
        and r.seen_at > now() - treesync.retention()),
    (select t.log_from from treesync.trees t where t.id = p_tree))
$function$

CREATE OR REPLACE FUNCTION treesync.had_seen(a_seen bigint, a_ts text, b_seq bigint, b_ts text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE
AS $function$
  select a_seen >= b_seq
      or (substr(a_ts, 21) = substr(b_ts, 21) and b_ts collate "C" < a_ts collate "C")
$function$

CREATE OR REPLACE FUNCTION treesync.in_trash(p_tree text, p_node text)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
  select p[cardinality(p)] = 'TRASH' from treesync.path_up(p_tree, p_node) p
$function$

CREATE OR REPLACE FUNCTION treesync.in_trash_among(p_tree text, p_nodes text[])
 RETURNS text[]
 LANGUAGE sql
 STABLE
 SET enable_hashjoin TO 'on'
 SET enable_hashagg TO 'on'
AS $function$
  with recursive edge(id, parent) as (
    select e.id collate "C", e.parent collate "C"
      from treesync.ancestry(p_tree, p_nodes) a, unnest(a.ids, a.parents) e(id, parent)
  ), below(id) as (
    select 'TRASH'::text collate "C"
    union
    select e.id from edge e join below b on e.parent = b.id
  )
  select array(select b.id from below b where b.id in (select n collate "C" from unnest(p_nodes) n))
$function$

CREATE OR REPLACE FUNCTION treesync.latest_move(p_tree text, p_node text)
 RETURNS SETOF treesync.moves
 LANGUAGE sql
 STABLE
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_sort TO 'off'
AS $function$
  select m.* from treesync.moves m
   where m.tree = p_tree and m.node = p_node and m.applied
   order by m.tree desc, m.node desc, m.ts desc
   limit 1
$function$

CREATE OR REPLACE FUNCTION treesync.merge_moves(p_tree text, p_moves treesync.op[], OUT undone integer, OUT skipped integer)
 RETURNS record
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'on'
 SET enable_mergejoin TO 'off'
 SET enable_nestloop TO 'off'
 SET work_mem TO '64MB'
AS $function$
declare
  v_oldest_new text collate "C";
  v_late boolean;
  v_new integer;
  v_logged integer;
  -- the window's part of the tree (window_nodes): s_* as it is being computed, db_* as stored
  s_id text[];
  s_parent integer[];
  s_pos text[];
  s_exists boolean[];
  s_born text[] := '{}';
  s_ctid tid[];  -- the address of each loaded node's row
  v_name_slots integer[];
  -- the new moves (ts, order key, node and parent as slots), in the order of p_moves
  n_ts text[];
  n_pos text[];
  n_x integer[];
  n_p integer[];
  -- (late) the logged moves after the oldest new one, in timestamp order; node, parent and
  -- old parent as slots (0: none)
  l_ts text[] := '{}';
  l_node text[] := '{}';
  l_parent text[] := '{}';
  l_old_parent text[] := '{}';
  l_pos text[] := '{}';
  l_old_pos text[] := '{}';
  l_applied boolean[] := '{}';
  l_x integer[] := '{}';
  l_p integer[] := '{}';
  l_op integer[] := '{}';
  -- the creations merged set-based (step 0)
  c_nodes text[] := '{}';
  c_ts text[] := '{}';
  -- (not late) the nodes the window moves that have no descendants in it, and by slot
  v_leaves text[] := '{}';
  s_leaf boolean[] := '{}';
  v_all boolean := true;
  v_before boolean[];  -- (late) whether the node existed before the window
  v_moved boolean[];  -- (late) whether an applied logged move moved the node
  v_skipped_at integer[];  -- (late) the places of the logged moves that were skipped
  db_parent integer[];
  db_pos text[];
  db_exists boolean[];
  v_size integer;
  r record;
  v_a integer;
  v_steps integer;
  v_old_exists boolean;
  v_old_parent integer;
  v_old_pos text;
  v_applied boolean;
  -- the outcomes of the new moves, in timestamp order (old parent as a slot, 0: none)
  n_old_parent integer[] := '{}';
  n_old_pos text[] := '{}';
  n_applied boolean[] := '{}';
  -- redone log entries whose outcome changed
  f_ts text[] := '{}';
  f_old_parent text[] := '{}';
  f_old_pos text[] := '{}';
  f_applied boolean[] := '{}';
  -- what to write back to nodes
  w_gone text[];
  w_gone_at tid[];
  w_moved_at tid[];
  w_new_id text[];
  w_new_parent text[];
  w_new_pos text[];
  w_moved_id text[];
  w_moved_parent text[];
  w_moved_pos text[];
begin
  undone := 0;
  skipped := 0;
  -- apply_ops holds this lock already; taking it again costs little and keeps a direct caller
  -- from merging concurrently.
  perform from treesync.trees t where t.id = p_tree for update;
  select min(m.ts) into v_oldest_new from unnest(p_moves) m;
  if v_oldest_new is null then
    return;
  end if;
  v_late := coalesce((select l.ts > v_oldest_new from treesync.moves l
                       where l.tree = p_tree order by l.ts desc limit 1), false);

  -- 0. Creations that cannot fail, set-based (merge_new_nodes); the rest goes the general
  --    way, with those nodes in the tree from the point each was created (s_born).
  if not v_late then
    select c.nodes, c.ts into c_nodes, c_ts from treesync.merge_new_nodes(p_tree, p_moves) c;
    if cardinality(c_ts) = cardinality(p_moves) then
      return;
    end if;
    if cardinality(c_ts) > 0 then
      p_moves := array(select m from unnest(p_moves) m
                         left join unnest(c_ts) c(ts) on c.ts collate "C" = m.ts
                        where c.ts is null);
      select min(m.ts) into v_oldest_new from unnest(p_moves) m;
    end if;
  end if;

  -- 1. Load what the window can see: when late, the logged moves after the oldest new one
  --    (read once, in timestamp order: one range of the primary key). A node the window moves
  --    that has no child, and under which none of its moves puts anything, has no descendants
  --    at any point of the window: no move of it can close a cycle, so none needs a walk (nor
  --    its ancestors loaded).
  if v_late then
    select coalesce(array_agg(l.ts), '{}'), coalesce(array_agg(l.node), '{}'), coalesce(array_agg(l.parent), '{}'),
           coalesce(array_agg(l.old_parent), '{}'), coalesce(array_agg(l.pos), '{}'),
           coalesce(array_agg(l.old_pos), '{}'), coalesce(array_agg(l.applied), '{}')
      into l_ts, l_node, l_parent, l_old_parent, l_pos, l_old_pos, l_applied
      from (select * from treesync.moves_after(p_tree, v_oldest_new) l order by l.ts) l;
  else
    v_leaves := treesync.childless(p_tree, array(select m.node from unnest(p_moves) m
                                                 except select m.parent from unnest(p_moves) m));
  end if;
  select w.ids, w.parents, w.poss, w.present, w.ctids, w.name_slots
    into s_id, s_parent, s_pos, s_exists, s_ctid, v_name_slots
    from treesync.window_nodes(p_tree, p_moves, l_node || l_parent || l_old_parent, v_late, v_leaves) w;
  v_size := cardinality(s_id);
  v_new := cardinality(p_moves);
  v_logged := cardinality(l_ts);
  n_ts := array(select m.ts from unnest(p_moves) m);
  n_pos := array(select m.pos from unnest(p_moves) m);
  n_x := v_name_slots[1:v_new];
  n_p := v_name_slots[v_new + 1:2 * v_new];
  if v_late then
    l_x := v_name_slots[2 * v_new + 1:2 * v_new + v_logged];
    l_p := v_name_slots[2 * v_new + v_logged + 1:2 * v_new + 2 * v_logged];
    l_op := v_name_slots[2 * v_new + 2 * v_logged + 1:2 * v_new + 3 * v_logged];
  end if;
  if cardinality(v_leaves) > 0 then
    s_leaf := array(select l.id is not null
                      from unnest(s_id) with ordinality as s(id, i)
                      left join unnest(v_leaves) as l(id) on l.id collate "C" = s.id
                     order by s.i);
  end if;
  if cardinality(c_ts) > 0 then
    s_born := array(select c.ts
                      from unnest(s_id) with ordinality as s(id, i)
                      left join unnest(c_nodes, c_ts) as c(node, ts) on c.node collate "C" = s.id
                     order by s.i);
  end if;
  db_parent := s_parent;
  db_pos := s_pos;
  db_exists := s_exists;

  -- 2. Undo the logged moves after the oldest new one, in one statement: each node goes back
  --    to where its first applied move after that point found it (the same as undoing them one
  --    by one, newest first); a node that move created did not exist then.
  --
  --    Most redone moves cannot change outcome. A logged move of a node that did not exist at
  --    that point (old_parent null) is skipped or creates its node depending only on whether
  --    its parent exists then: no cycle is possible. Whether a node exists at a point depends
  --    only on the moves of nodes that did not exist before the window: when the new moves
  --    name none of the nodes that did not exist before and that the logged moves move (C),
  --    and the logged moves name none of those the new moves move (F), every node comes to
  --    exist at the same point as before, and those logged moves keep their outcome. Their
  --    creations are then applied at once, each node remembering when (s_born: an existence
  --    check at an earlier point must not see it; a walk cannot reach it, as no node's parent
  --    is a node that does not exist yet), and only the other moves go through the loop.
  --    Else every logged move is redone. The undo applies those creations at once; before the
  --    window, a node with s_born did not exist.
  --
  --    Everything here is joined by slot (integers; the logged moves' slots came with the
  --    window), never by id.
  if v_late then
    --    (The arrays are aggregated in the order of the subquery: one sort, where ordered
    --    aggregates each sort on their own before Postgres 16.)
    select array_agg(v.parent), array_agg(v.pos), array_agg(v.present), array_agg(v.born), array_agg(v.before),
           array_agg(v.moved)
      into s_parent, s_pos, s_exists, s_born, v_before, v_moved
      from (select case when u.x is null then s.parent when u.op = 0 then u.p else u.op end as parent,
                   case when u.x is null then s.pos when u.op = 0 then u.pos else u.old_pos end as pos,
                   s.present and u.x is null or u.x is not null as present,
                   case when u.op = 0 then u.ts end as born,
                   case when u.x is null then s.present else u.op <> 0 end as before,
                   u.x is not null as moved
              from unnest(s_parent, s_pos, s_exists) with ordinality as s(parent, pos, present, i)
              left join (select distinct on (f.x) f.x, f.p, f.op, f.pos, f.old_pos, f.ts
                           from unnest(l_x, l_p, l_op, l_pos, l_old_pos, l_ts, l_applied) with ordinality
                                as f(x, p, op, pos, old_pos, ts, applied, k)
                          where f.applied
                          order by f.x, f.k) u
                on u.x = s.i
             order by s.i) v;

    --    F and C, by slot. A logged move that names a node of F as its node, or as its parent
    --    while applied, implies a node of C that a new move names (that node did not exist
    --    before the window, so a logged move created it, or moved it while it did not exist):
    --    besides C against the new moves' ids, only the parents of the logged moves that were
    --    skipped (few) are compared with F, and no statement reads all the logged moves.
    undone := v_logged;
    v_skipped_at := array(select l.k from unnest(l_applied) with ordinality as l(applied, k) where not l.applied);
    v_all := exists (select from unnest(n_x || n_p) a(x)
                      where not v_before[a.x]
                        and (v_moved[a.x] or a.x in (select l_x[k] from unnest(v_skipped_at) k)))
             or exists (select from unnest(v_skipped_at) k
                          join unnest(n_x) n(x) on n.x = l_p[k]
                         where not v_before[n.x]);
    if v_all then
      select array_agg(case when s.before then s.parent else 0 end order by s.i),
             array_agg(case when s.before then s.pos else '' end order by s.i)
        into s_parent, s_pos
        from unnest(s_parent, s_pos, v_before) with ordinality as s(parent, pos, before, i);
      s_exists := v_before;
      s_born := '{}';
    end if;
  end if;

  -- 3. Apply the new moves and redo the undone ones (those step 2 did not settle), in
  --    timestamp order (the model's loop). Each move comes with its node, parent and logged old
  --    parent as slots.
  for r in
    select w.ts, w.x, w.p, w.pos, w.old_parent, w.old_pos, w.applied, w.is_new
      from (select l.ts, l.x, l.p, l.pos, nullif(l.op, 0) as old_parent, l.old_pos, l.applied, false as is_new
              from unnest(l_ts, l_x, l_p, l_pos, l_op, l_old_pos, l_applied)
                   as l(ts, x, p, pos, op, old_pos, applied)
             where v_all or l.op <> 0
            union all
            select m.ts, m.x, m.p, m.pos, null, null, null, true
              from unnest(n_ts, n_x, n_p, n_pos) as m(ts, x, p, pos)) w
     order by w.ts collate "C"
  loop
    v_old_exists := s_exists[r.x];
    v_old_parent := s_parent[r.x];
    v_old_pos := s_pos[r.x];
    if r.x = r.p or not s_exists[r.p] or s_born[r.p] collate "C" > r.ts then
      -- Under itself, or under a node that does not exist (yet): skipped.
      v_applied := false;
    elsif not v_old_exists or v_old_parent = r.p or s_leaf[r.x] then
      -- Creating a node (it has no descendants, so no cycle), a new order key under the same
      -- parent, or a move of a node without descendants (step 1).
      v_applied := true;
    else
      -- Walk up from the new parent; finding the node means the move would make a cycle. The
      -- tree never has one, so the walk ends at ROOT or TRASH (whose parent is slot 0) within
      -- as many steps as there are slots; the bound only guards against a broken tree.
      v_a := r.p;
      for v_steps in 0 .. v_size loop
        exit when v_a <= 0 or v_a = r.x;
        v_a := s_parent[v_a];
      end loop;
      if v_a < 0 then
        raise exception 'treesync: merge_moves did not load an ancestor of % (a bug)', s_id[r.p];
      elsif v_a > 0 and v_a <> r.x then
        raise exception 'treesync: tree % has a cycle through %', p_tree, s_id[r.p];
      end if;
      v_applied := v_a = 0;
    end if;
    if v_applied then
      s_exists[r.x] := true;
      s_parent[r.x] := r.p;
      s_pos[r.x] := r.pos;
    end if;
    if not v_old_exists then
      v_old_parent := null;
      v_old_pos := null;
    end if;

    if r.is_new then
      n_old_parent := n_old_parent || v_old_parent;
      n_old_pos := n_old_pos || v_old_pos;
      n_applied := n_applied || v_applied;
    elsif (r.old_parent, r.old_pos, r.applied) is distinct from (v_old_parent, v_old_pos, v_applied) then
      -- A redone move whose outcome changed: the log must say what really happened.
      f_ts := f_ts || r.ts::text;
      f_old_parent := f_old_parent || s_id[v_old_parent];
      f_old_pos := f_old_pos || v_old_pos;
      f_applied := f_applied || v_applied;
    end if;
  end loop;

  -- 4. Write back the nodes that differ from the database, and the log: the new entries, and
  --    the redone ones whose outcome changed.
  select coalesce(array_agg(s.id) filter (where not s.present and s.db_present), '{}'),
         coalesce(array_agg(s.ctid) filter (where not s.present and s.db_present), '{}'),
         coalesce(array_agg(s.id) filter (where s.present and not s.db_present), '{}'),
         coalesce(array_agg(p.id) filter (where s.present and not s.db_present), '{}'),
         coalesce(array_agg(s.pos) filter (where s.present and not s.db_present), '{}'),
         coalesce(array_agg(s.id) filter (where s.present and s.db_present), '{}'),
         coalesce(array_agg(s.ctid) filter (where s.present and s.db_present), '{}'),
         coalesce(array_agg(p.id) filter (where s.present and s.db_present), '{}'),
         coalesce(array_agg(s.pos) filter (where s.present and s.db_present), '{}')
    into w_gone, w_gone_at, w_new_id, w_new_parent, w_new_pos, w_moved_id, w_moved_at, w_moved_parent, w_moved_pos
    from unnest(s_id, s_exists, s_parent, s_pos, db_exists, db_parent, db_pos, s_ctid)
         with ordinality as s(id, present, parent, pos, db_present, db_parent, db_pos, ctid, i)
    left join unnest(s_id) with ordinality as p(id, i) on p.i = s.parent
   where (s.present, s.parent, s.pos) is distinct from (s.db_present, s.db_parent, s.db_pos)
     and (s.present or s.db_present);
  perform treesync.write_nodes_at(p_tree, w_gone_at, w_gone, w_moved_at, w_moved_id, w_moved_parent, w_moved_pos,
                                  w_new_id, w_new_parent, w_new_pos);

  insert into treesync.moves (tree, ts, node, parent, pos, old_parent, old_pos, applied)
  select p_tree, m.ts, m.node, m.parent, m.pos, p.id, o.old_pos, o.applied
    from (select m.ts, m.node, m.parent, m.pos, row_number() over (order by m.ts) as k
            from unnest(p_moves) m) m
    join unnest(n_old_parent, n_old_pos, n_applied) with ordinality as o(old_parent, old_pos, applied, k)
      on o.k = m.k
    left join unnest(s_id) with ordinality as p(id, i) on p.i = o.old_parent;
  select count(*) filter (where not a) into skipped from unnest(n_applied) a;
  perform treesync.rewrite_log(p_tree, f_ts, f_old_parent, f_old_pos, f_applied);
end
$function$

CREATE OR REPLACE FUNCTION treesync.merge_new_nodes(p_tree text, p_moves treesync.op[], OUT nodes text[], OUT ts text[])
 RETURNS record
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_material TO 'off'
AS $function$
declare
  v_n integer := cardinality(p_moves);
  v_known integer;
  v_created jsonb;
  v_count integer;
  c_node text[];
  c_parent text[];
  c_pos text[];
  c_ts text[];
  c_parent_exists boolean[];
begin
  nodes := '{}';
  ts := '{}';
  if v_n = 0 then
    return;
  end if;
  -- (the cost rule above: three lookups)
  select count(*) into v_known
    from unnest(array[p_moves[1].node, p_moves[(v_n + 1) / 2].node, p_moves[v_n].node]) k(id)
   cross join lateral (select from treesync.nodes n where n.tree = p_tree and n.id = k.id offset 0) n;
  if v_known = 3 then
    return;
  end if;

  -- Candidates: the first move of a node that does not exist, not under itself; whether its
  -- parent exists (one lookup each, lateral and not flattened).
  select coalesce(array_agg(m.node), '{}'), coalesce(array_agg(m.parent), '{}'), coalesce(array_agg(m.pos), '{}'),
         coalesce(array_agg(m.ts), '{}'), coalesce(array_agg(parent.found is not null), '{}')
    into c_node, c_parent, c_pos, c_ts, c_parent_exists
    from (select m.ts, m.node, m.parent, m.pos,
                 row_number() over (partition by m.node order by m.ts) as nth
            from unnest(p_moves) m) m
    left join lateral (select true as found from treesync.nodes n
                        where n.tree = p_tree and n.id = m.node offset 0) node on true
    left join lateral (select true as found from treesync.nodes n
                        where n.tree = p_tree and n.id = m.parent offset 0) parent on true
   where m.nth = 1 and node.found is null and m.node <> m.parent;

  -- Keep those whose parent exists or is created by an earlier candidate that is kept, until
  -- nothing more drops out (a map node -> ts: no join of the candidates with themselves).
  loop
    v_count := cardinality(c_ts);
    select jsonb_object_agg(c.node, c.ts) into v_created from unnest(c_node, c_ts) as c(node, ts);
    select coalesce(array_agg(c.node), '{}'), coalesce(array_agg(c.parent), '{}'), coalesce(array_agg(c.pos), '{}'),
           coalesce(array_agg(c.ts), '{}'), coalesce(array_agg(c.parent_exists), '{}')
      into c_node, c_parent, c_pos, c_ts, c_parent_exists
      from unnest(c_node, c_parent, c_pos, c_ts, c_parent_exists) as c(node, parent, pos, ts, parent_exists)
     where c.parent_exists or coalesce((v_created ->> c.parent) collate "C" < c.ts collate "C", false);
    exit when cardinality(c_ts) = v_count;
  end loop;

  insert into treesync.nodes (tree, id, parent, pos)
  select p_tree, c.node, c.parent, c.pos
    from unnest(c_node, c_parent, c_pos) as c(node, parent, pos)
   order by c.node;
  insert into treesync.moves (tree, ts, node, parent, pos, old_parent, old_pos, applied)
  select p_tree, c.ts, c.node, c.parent, c.pos, null, null, true
    from unnest(c_node, c_parent, c_pos, c_ts) as c(node, parent, pos, ts);
  nodes := c_node;
  ts := c_ts;
end
$function$

CREATE OR REPLACE FUNCTION treesync.move_ctids(p_tree text, p_ts text[])
 RETURNS tid[]
 LANGUAGE sql
 STABLE
AS $function$
  select coalesce(array_agg(l.ctid), '{}')
    from unnest(p_ts) k(ts)
   cross join lateral (select l.ctid from treesync.moves l
                        where l.tree = p_tree and l.ts = k.ts offset 0) l
$function$

CREATE OR REPLACE FUNCTION treesync.moves_after(p_tree text, p_ts text)
 RETURNS SETOF treesync.moves
 LANGUAGE sql
 STABLE
AS $function$
  select l.* from treesync.moves l where l.tree = p_tree and l.ts > p_ts collate "C"
$function$

CREATE OR REPLACE FUNCTION treesync.new_ops(p_tree text, p_ops treesync.op[], p_newest_stored text)
 RETURNS treesync.op[]
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_material TO 'off'
AS $function$
declare
  v_bad record;
  v_ts text[];
  v_oldest text collate "C";
  v_increasing boolean;
  v_new treesync.op[];
begin
  -- One comparison of each ts with the next (in batch order, no sort): all greater means no
  -- ts is repeated, and the batch is its own list of distinct operations.
  v_ts := array(select u.ts from unnest(p_ops) u);
  select coalesce(bool_and(t.a collate "C" < t.b), true) into v_increasing
    from unnest(v_ts[1:cardinality(v_ts) - 1], v_ts[2:]) as t(a, b);

  if not v_increasing then
    select o.idx, o.ts, 'is repeated in the batch with other content' as why
      into v_bad
      from (select u.idx, u.ts, u.type, u.node, u.parent, u.pos, u.key, u.value,
                   first_value(u) over (partition by u.ts order by u.idx) as f
              from unnest(p_ops) u) o
     where (o.type, o.node, o.parent, o.pos, o.key, o.value)
           is distinct from ((o.f).type, (o.f).node, (o.f).parent, (o.f).pos, (o.f).key, (o.f).value)
     order by o.idx
     limit 1;
    if found then
      raise exception using
        errcode = 'TS002',
        message = format('operation %s: ts %s %s', v_bad.idx, v_bad.ts, v_bad.why),
        detail = jsonb_build_object('index', v_bad.idx, 'ts', v_bad.ts)::text;
    end if;
  end if;

  select min(u collate "C") into v_oldest from unnest(v_ts) u;
  if p_newest_stored is null or v_oldest > p_newest_stored collate "C" then
    if v_increasing then
      return p_ops;
    end if;
    select coalesce(array_agg(o order by o.idx), '{}')
      into v_new
      from (select distinct on (u.ts) u.* from unnest(p_ops) u order by u.ts, u.idx) o;
    return v_new;
  end if;

  -- (a lateral subquery that cannot be flattened: one lookup by key per operation)
  select o.idx, o.ts, 'is already stored with other content' as why
    into v_bad
    from unnest(p_ops) o
   cross join lateral (select s.* from treesync.ops s
                        where s.ts = o.ts and (s.tree = p_tree) is true offset 0) s
   where (o.type, o.node, o.parent, o.pos, o.key, o.value)
         is distinct from (s.type, s.node, s.parent, s.pos, s.key, s.value)
   order by o.idx
   limit 1;
  if found then
    raise exception using
      errcode = 'TS002',
      message = format('operation %s: ts %s %s', v_bad.idx, v_bad.ts, v_bad.why),
      detail = jsonb_build_object('index', v_bad.idx, 'ts', v_bad.ts)::text;
  end if;

  select coalesce(array_agg(row(o.idx, o.ts, o.type, o.node, o.parent, o.pos, o.key, o.value)::treesync.op
                            order by o.idx), '{}')
    into v_new
    from (select distinct on (u.ts) u.* from unnest(p_ops) u order by u.ts, u.idx) o
    left join lateral (select true as stored from treesync.ops s
                        where s.ts = o.ts and (s.tree = p_tree) is true offset 0) s on true
   where s.stored is null;
  return v_new;
end
$function$

CREATE OR REPLACE FUNCTION treesync.node_ctids(p_tree text, p_ids text[])
 RETURNS tid[]
 LANGUAGE sql
 STABLE
AS $function$
  select coalesce(array_agg(n.ctid), '{}')
    from unnest(p_ids) k(id)
   cross join lateral (select n.ctid from treesync.nodes n
                        where n.tree = p_tree and n.id = k.id offset 0) n
$function$

CREATE OR REPLACE FUNCTION treesync.nodes_at(p_tree text, p_ids text[])
 RETURNS SETOF treesync.nodes
 LANGUAGE sql
 STABLE
AS $function$
  select n.*
    from unnest(p_ids) k(id)
   cross join lateral (select n.* from treesync.nodes n
                        where n.tree = p_tree and n.id = k.id offset 0) n
$function$

CREATE OR REPLACE FUNCTION treesync.note_pulled(p_tree text, p_replica text, p_seq bigint)
 RETURNS void
 LANGUAGE sql
AS $function$
  update treesync.replicas r
     set pulled = greatest(coalesce(r.pulled, 0), p_seq)
   where r.tree = p_tree and r.replica = p_replica
$function$

CREATE OR REPLACE FUNCTION treesync.note_replica(p_tree text, p_replica text, p_floor text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
declare
  v_frontier text collate "C";
begin
  if p_replica is null or not (p_replica collate "C" ~ '^[A-Za-z0-9_-]+$' and length(p_replica) <= 32) then
    raise exception using
      errcode = 'TS006',
      message = format('replica %s is not a replica id ([A-Za-z0-9_-]{1,32})', coalesce(quote_literal(p_replica), 'null'));
  end if;
  if treesync.op_problem(jsonb_build_object('ts', p_floor, 'type', 'set', 'node', 'n', 'key', 'k', 'value', 0), 64) is not null then
    raise exception using
      errcode = 'TS006',
      message = format('floor %s is not a timestamp of the form WWWWWWWWWWWWW.CCCCC.replica', coalesce(quote_literal(p_floor), 'null'));
  end if;
  if not exists (select from treesync.trees t where t.id = p_tree) then
    raise exception using
      errcode = 'TS003',
      message = format('tree %s does not exist', coalesce(quote_literal(p_tree), 'null'));
  end if;
  v_frontier := treesync.frontier(p_tree);
  insert into treesync.replicas as r (tree, replica, floor, seen_at)
  values (p_tree, p_replica, greatest(p_floor collate "C", coalesce(v_frontier, p_floor collate "C")), now())
  on conflict (tree, replica) do update
     set floor = greatest(r.floor, excluded.floor), seen_at = excluded.seen_at;
end
$function$

CREATE OR REPLACE FUNCTION treesync.note_replica(p_tree text, p_replica text, p_floor text, p_subject text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
declare
  v_owner text collate "C";
begin
  if p_subject is null or p_subject = '' then
    raise exception using
      errcode = 'TS006',
      message = 'a replica is noted with the token subject that uses it; the subject is empty';
  end if;
  perform treesync.note_replica(p_tree, p_replica, p_floor);
  update treesync.replicas r
     set subject = coalesce(r.subject, p_subject)
   where r.tree = p_tree and r.replica = p_replica
  returning r.subject into v_owner;
  if v_owner is distinct from p_subject then
    raise exception using
      errcode = 'TS007',
      message = format('replica %s of tree %s belongs to another subject; use a replica id of your own',
                       p_replica, p_tree),
      detail = jsonb_build_object('replica', p_replica)::text;
  end if;
end
$function$

CREATE OR REPLACE FUNCTION treesync.op_problem(p_op jsonb, p_max_value_bytes integer)
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
  select case
    when jsonb_typeof(p_op) is distinct from 'object' then
      'an operation must be a JSON object'
    when p_op ? 'seen'
         and not (jsonb_typeof(p_op -> 'seen') = 'number'
                  and (p_op ->> 'seen') ~ '^[0-9]{1,15}$') then
      'seen must be a non-negative integer'
    when jsonb_typeof(p_op -> 'ts') is distinct from 'string' then
      'ts must be a string'
    when not ((p_op ->> 'ts') collate "C" ~ '^[0-9]+\.[0-9]+\.[A-Za-z0-9_-]+$'
              and substr(p_op ->> 'ts', 14, 1) = '.' and substr(p_op ->> 'ts', 20, 1) = '.'
              and length(p_op ->> 'ts') <= 52) then
      format('ts %s is not a timestamp of the form WWWWWWWWWWWWW.CCCCC.replica', p_op -> 'ts')
    when jsonb_typeof(p_op -> 'node') is distinct from 'string' then
      'node must be a string'
    when not ((p_op ->> 'node') collate "C" ~ '^[A-Za-z0-9_-]+$' and length(p_op ->> 'node') <= 64) then
      format('node %s is not a node id ([A-Za-z0-9_-]{1,64})', p_op -> 'node')
    when p_op ->> 'type' = 'move' then
      case
        when p_op ->> 'node' in ('ROOT', 'TRASH') then
          format('%s can never be moved', p_op ->> 'node')
        when jsonb_typeof(p_op -> 'parent') is distinct from 'string' then
          'parent must be a string'
        when not ((p_op ->> 'parent') collate "C" ~ '^[A-Za-z0-9_-]+$'
                  and length(p_op ->> 'parent') <= 64) then
          format('parent %s is not a node id ([A-Za-z0-9_-]{1,64})', p_op -> 'parent')
        when jsonb_typeof(p_op -> 'pos') is distinct from 'string' then
          'pos must be a string'
        when not ((p_op ->> 'pos') collate "C" ~ '^[ -~]*$' and octet_length(p_op ->> 'pos') <= 128) then
          'pos must be printable ASCII of at most 128 bytes'
        when p_op - '{ts,type,node,parent,pos,seen}'::text[] <> '{}'::jsonb then
          'a move has only the fields ts, type, node, parent, pos'
      end
    when p_op ->> 'type' = 'set' then
      case
        when jsonb_typeof(p_op -> 'key') is distinct from 'string' then
          'key must be a string'
        when not ((p_op ->> 'key') collate "C" ~ '^[A-Za-z0-9_.-]+$' and length(p_op ->> 'key') <= 64) then
          format('key %s is not a field key ([A-Za-z0-9_.-]{1,64})', p_op -> 'key')
        when not (p_op ? 'value') then
          'a set needs a value (null removes the field)'
        when octet_length((p_op -> 'value')::text) > p_max_value_bytes then
          format('value is larger than %s bytes', p_max_value_bytes)
        when jsonb_typeof(p_op -> 'value') in ('array', 'object')
             and octet_length(translate((p_op -> 'value')::text, '[{', ''))
                 < octet_length((p_op -> 'value')::text) - 64
             and treesync.value_depth(p_op -> 'value', 64) > 64 then
          'value nests deeper than 64 levels'
        when p_op - '{ts,type,node,key,value,seen}'::text[] <> '{}'::jsonb then
          'a set has only the fields ts, type, node, key, value'
      end
    else
      'type must be "move" or "set"'
  end
$function$

CREATE OR REPLACE FUNCTION treesync.parse_json_ops(p_ops text)
 RETURNS jsonb
 LANGUAGE plpgsql
 IMMUTABLE
AS $function$
declare
  v_detail text;
begin
  return p_ops::jsonb;
exception
  when data_exception or program_limit_exceeded then
    get stacked diagnostics v_detail = pg_exception_detail;
    raise exception using
      errcode = 'TS001',
      message = format('operations are not JSON that can be stored: %s%s',
                       sqlerrm, coalesce(' (' || nullif(v_detail, '') || ')', ''));
end
$function$

CREATE OR REPLACE FUNCTION treesync.parse_ops(p_ops jsonb, p_max_value_bytes integer)
 RETURNS treesync.op[]
 LANGUAGE plpgsql
 STABLE
AS $function$
declare
  v_bad record;
  v_ops treesync.op[];
begin
  if p_ops is null or jsonb_typeof(p_ops) <> 'array' then
    raise exception using
      errcode = 'TS001',
      message = 'operations must be a JSON array';
  end if;

  select e.idx - 1 as idx, e.op
    into v_bad
    from jsonb_array_elements(p_ops) with ordinality as e(op, idx)
   where treesync.op_problem(e.op, p_max_value_bytes) is not null
   order by e.idx
   limit 1;
  if found then
    raise exception using
      errcode = 'TS001',
      message = format('operation %s: %s', v_bad.idx, treesync.op_problem(v_bad.op, p_max_value_bytes)),
      detail = jsonb_build_object('index', v_bad.idx)::text;
  end if;

  select coalesce(array_agg(row(
           e.idx - 1, e.op ->> 'ts', e.op ->> 'type', e.op ->> 'node', e.op ->> 'parent',
           e.op ->> 'pos', e.op ->> 'key',
           case when e.op ->> 'type' = 'set' then e.op -> 'value' end
         )::treesync.op order by e.idx), '{}')
    into v_ops
    from jsonb_array_elements(p_ops) with ordinality as e(op, idx);
  return v_ops;
end
$function$

CREATE OR REPLACE FUNCTION treesync.path_up(p_tree text, p_node text)
 RETURNS text[]
 LANGUAGE plpgsql
 STABLE
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
AS $function$
declare
  v_path text[] := array[p_node];
  v_at text collate "C" := p_node;
begin
  for i in 1 .. 100000 loop
    select n.parent into v_at from treesync.nodes n where n.tree = p_tree and n.id = v_at;
    exit when not found or v_at is null;
    v_path := v_path || v_at::text;
  end loop;
  return v_path;
end
$function$

CREATE OR REPLACE FUNCTION treesync.purge_trash(p_tree text, p_max_nodes integer, p_after text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
declare
  v_seq bigint;
  v_locked timestamptz;
  v_f text collate "C";
  v_cutoff text collate "C";
  v_top text collate "C";
  v_deleted text collate "C";
  v_sub text[];
  v_id text collate "C";
  v_keep boolean;
  v_touched jsonb;
  v_after text collate "C" := p_after;
  v_looked integer := 0;
  v_walked integer := 0;
  v_more boolean := false;
  v_gone record;
  v_tops integer := 0;
  v_nodes integer := 0;
  v_fields integer := 0;
  v_moves integer := 0;
begin
  if p_max_nodes is null or p_max_nodes < 1 then
    raise exception using errcode = 'TS006', message = 'purge_trash: max_nodes must be a positive integer';
  end if;
  select t.seq into v_seq from treesync.trees t where t.id = p_tree for update;
  if not found then
    raise exception using
      errcode = 'TS003',
      message = format('tree %s does not exist', coalesce(quote_literal(p_tree), 'null'));
  end if;
  v_locked := clock_timestamp();
  v_f := treesync.frontier(p_tree);
  if v_f is null then
    return jsonb_build_object('purged', 0, 'nodes', 0, 'fields', 0, 'moves', 0, 'kept_seq', null,
                              'after', null, 'more', false,
                              'held_ms', extract(epoch from clock_timestamp() - v_locked) * 1000);
  end if;
  -- A ts is older than the retention window when its wall time (its first 13 digits, ms) is.
  v_cutoff := lpad((floor(extract(epoch from now() - treesync.retention()) * 1000))::bigint::text, 13, '0');

  -- 1. What the log from F on names (as node, parent or old parent): a late operation may
  -- still undo and redo those moves, so their nodes must stay. One range of the log's key,
  -- short once truncated, kept as the keys of a JSON object (a lookup per node below; a
  -- temporary table would cost more to create than the whole batch).
  select coalesce(jsonb_object_agg(t.id, true), '{}'::jsonb) into v_touched
    from (select distinct t.id
            from treesync.moves l
           cross join lateral unnest(array[l.node, l.parent, l.old_parent]) t(id)
           where l.tree = p_tree and l.ts >= v_f and t.id is not null) t;

  -- 2. The tops after the cursor, in id order, while the batch has room.
  for v_top in
    select n.id from treesync.nodes n
     where n.tree = p_tree and n.parent = 'TRASH' and n.id > coalesce(v_after, '')   -- nodes_in_trash
     order by n.id
  loop
    if v_walked >= p_max_nodes or v_looked >= p_max_nodes then
      v_more := true;
      exit;
    end if;
    v_looked := v_looked + 1;
    v_after := v_top;
    -- When it was deleted: the move that put it in TRASH, from the log or, once truncated,
    -- from trash_times (latest_move of 000005, written out: a call per top costs more than
    -- its probe).
    v_deleted := coalesce((select m.ts from treesync.moves m
                            where m.tree = p_tree and m.node = v_top and m.applied
                            order by m.tree desc, m.node desc, m.ts desc
                            limit 1),   -- moves_node
                          (select tt.ts from treesync.trash_times tt where tt.tree = p_tree and tt.node = v_top));
    continue when v_deleted is null or not (v_deleted < v_f and v_deleted < v_cutoff);

    -- Its subtree, down the children (nodes_parent), one probe per node.
    with recursive subtree as (
      select v_top as id
      union all
      select n.id from subtree s
       cross join lateral (select n.id from treesync.nodes n
                            where n.tree = p_tree and n.parent = s.id offset 0) n   -- nodes_parent
    )
    select array_agg(s.id) into v_sub from subtree s;
    v_walked := v_walked + cardinality(v_sub);

    -- Kept whole when anything at or above F touches one of its nodes: the log (above), or a
    -- field written at or after F.
    v_keep := false;
    foreach v_id in array v_sub loop
      v_keep := v_touched ? v_id
             or exists (select from treesync.fields f where f.tree = p_tree and f.node = v_id and f.ts >= v_f);
      exit when v_keep;
    end loop;
    continue when v_keep;

    -- 3. Gone, node by node, by key: the node, its fields, its log rows (below F, not yet
    -- truncated); then the trash_times rows of all of them (any of them may have been a top of
    -- its own once: deleted, its log row truncated, then moved under another trashed node).
    foreach v_id in array v_sub loop
      with n as (delete from treesync.nodes n where n.tree = p_tree and n.id = v_id returning 1),
           f as (delete from treesync.fields f where f.tree = p_tree and f.node = v_id returning 1),
           m as (delete from treesync.moves l where l.tree = p_tree and l.node = v_id returning 1)
      select (select count(*) from n) as nodes, (select count(*) from f) as fields, (select count(*) from m) as moves
        into v_gone;
      v_nodes := v_nodes + v_gone.nodes;
      v_fields := v_fields + v_gone.fields;
      v_moves := v_moves + v_gone.moves;
    end loop;
    delete from treesync.trash_times tt where tt.tree = p_tree and tt.node = any (v_sub);
    v_tops := v_tops + 1;
  end loop;

  -- Every replica from before the purge bootstraps again (docs/lifecycle.md, "Purge").
  if v_tops > 0 then
    update treesync.trees set kept_seq = v_seq where id = p_tree;
  end if;
  return jsonb_build_object('purged', v_tops, 'nodes', v_nodes, 'fields', v_fields, 'moves', v_moves,
                            'kept_seq', case when v_tops > 0 then v_seq end,
                            'after', v_after, 'more', v_more,
                            'held_ms', extract(epoch from clock_timestamp() - v_locked) * 1000);
end
$function$

CREATE OR REPLACE FUNCTION treesync.restore_concurrent(p_tree text, p_first bigint, p_last bigint, p_late boolean, p_informed boolean)
 RETURNS integer
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_material TO 'off'
AS $function$
declare
  v_min_seen bigint;
  v_replicas integer;
  v_oldest_move text collate "C";
  v_del_seen bigint;
  v_deleted text[];
  v_from bigint;
  v_inside text[];
  v_by_subtree boolean := false;
  v_window_from bigint;
  v_pass integer;
  v_restored integer := 0;
  v_trashed text[];
  e_seq bigint[];
  e_seen bigint[];
  e_ts text[];
  e_node text[];
  e_replica text[];
  v_suspect boolean[];
  v_one integer;
  v_seq_before bigint;
  v_left text[];
  v_rejudged text[];
  v_rejudged_seen bigint;
  v_again text[] := '{}';
  v_again_from bigint;
begin
  if p_last < p_first then
    return 0;
  end if;
  select min(o.seen), count(distinct substr(o.ts, 21)), min(o.ts) filter (where o.type = 'move')
    into v_min_seen, v_replicas, v_oldest_move
    from treesync.ops o where o.tree = p_tree and o.seq between p_first and p_last;
  -- An author who had seen the whole tree: nothing stored is concurrent with the batch (000005).
  if v_min_seen >= p_first - 1 and (v_replicas = 1 or p_informed) then
    return 0;
  end if;

  -- (*) The new parents of the moves this merge placed, those in the trash found together.
  v_trashed := treesync.in_trash_among(p_tree, array(
    select m.parent from treesync.moves m
     where m.tree = p_tree and m.ts >= v_oldest_move and m.applied
       and m.old_parent is not null and m.old_parent <> 'TRASH'));
  -- The moves this merge placed that stand as deletes: their nodes, and the least that any of
  -- them had seen.
  select min(coalesce(o.seen, o.seq - 1)), array_agg(distinct m.node)
    into v_del_seen, v_deleted
    from treesync.moves m
    cross join lateral (select l.ts from treesync.latest_move(p_tree, m.node) l offset 0) l
    cross join lateral (select s.seq, s.seen from treesync.ops s
                         where s.ts = m.ts and (s.tree = p_tree) is true offset 0) o
   where m.tree = p_tree and m.ts >= v_oldest_move and m.applied and l.ts = m.ts
     and m.old_parent is not null and m.old_parent <> 'TRASH'
     and m.parent = any (v_trashed);
  v_from := least(coalesce(v_del_seen + 1, p_first), p_first);

  -- The older operations (before the batch) that the deletes may be concurrent with: those on
  -- the nodes of the deleted subtrees, when the subtrees are smaller than the window (see 1. above).
  if v_from < p_first then
    with recursive subtree(id) as (
      select d.id collate "C" from unnest(v_deleted) d(id)
      union all
      select n.id from subtree s
       cross join lateral (select n.id from treesync.nodes n
                            where n.tree = p_tree and n.parent = s.id offset 0) n   -- nodes_parent
    )
    select array(select s.id from subtree s limit p_first - v_from + 1) into v_inside;
    v_by_subtree := cardinality(v_inside) <= p_first - v_from;
  end if;
  v_window_from := case when v_by_subtree then p_first else v_from end;

  -- Passes until one restores nothing (000005).
  select t.seq into v_seq_before from treesync.trees t where t.id = p_tree;   -- (**)
  for pass in 1 .. 100 loop
  v_pass := 0;
  -- (*) The pass's edits, in order, and which of them restore_for can act on: asked again
  -- after every restore (a restore moves nodes, and so what is above the edits after it).
  select coalesce(array_agg(c.seq order by c.seq), '{}'), coalesce(array_agg(c.seen order by c.seq), '{}'),
         coalesce(array_agg(c.ts order by c.seq), '{}'), coalesce(array_agg(c.node order by c.seq), '{}')
    into e_seq, e_seen, e_ts, e_node
    from (select o.seq, coalesce(o.seen, o.seq - 1) as seen, o.ts, o.node, o.type, o.parent
            from treesync.ops o
           where o.tree = p_tree and o.seq between v_window_from and p_last
          union
          select o.seq, coalesce(o.seen, o.seq - 1), o.ts, o.node, o.type, o.parent
            from unnest(v_inside) i(id)
           cross join lateral (select s.* from treesync.ops s
                                where s.tree = p_tree and s.node = i.id offset 0) o   -- ops_node
           where v_by_subtree and o.seq between v_from and p_first - 1
          union
          select o.seq, coalesce(o.seen, o.seq - 1), o.ts, o.node, o.type, o.parent
            from treesync.moves m
           cross join lateral (select s.* from treesync.ops s
                                where s.ts = m.ts and (s.tree = p_tree) is true offset 0) o
           where p_late and m.tree = p_tree and m.ts >= v_oldest_move
          union
          -- (**) the operations inside subtrees whose deletes are judged again
          select o.seq, coalesce(o.seen, o.seq - 1), o.ts, o.node, o.type, o.parent
            from unnest(v_again) i(id)
           -- (the tree compared in a form no index can use, as 000013's childless: with `tree = …`
           -- as an index condition, a planner without statistics may read the tree's whole log)
           cross join lateral (select s.* from treesync.ops s
                                where s.node = i.id and (s.tree = p_tree) is true
                                  and s.seq >= v_again_from offset 0) o   -- ops_node
          ) c
   -- (a scalar probe of the log's key: an `exists` here could be planned as a hash of the tree's whole log)
   where c.type = 'set'
      or (c.parent <> 'TRASH'
          and coalesce((select m.applied from treesync.moves m where m.tree = p_tree and m.ts = c.ts), false));
  e_replica := array(select substr(t, 21) from unnest(e_ts) t);
  v_suspect := treesync.restore_suspects(p_tree, e_node, e_replica, e_seen);
  for i in 1 .. cardinality(e_seq) loop
    continue when not v_suspect[i];
    v_one := treesync.restore_for(p_tree, e_seq[i], e_seen[i], e_ts[i], e_node[i]);
    v_pass := v_pass + v_one;
    if v_one > 0 and i < cardinality(e_seq) then
      v_suspect := array_cat(v_suspect[1:i],
        (treesync.restore_suspects(p_tree, e_node[i + 1:], e_replica[i + 1:], e_seen[i + 1:])));
    end if;
  end loop;
  v_restored := v_restored + v_pass;
  exit when v_pass = 0;

  -- (**) The old parents this pass's restores moved their nodes from, when not TRASH itself.
  v_left := array(
    select m.old_parent
      from treesync.ops o
     cross join lateral (select m.old_parent, m.applied from treesync.moves m
                          where m.tree = p_tree and m.ts = o.ts offset 0) m   -- moves_pkey
     where o.tree = p_tree and o.seq > v_seq_before
       and m.applied and m.old_parent is not null and m.old_parent <> 'TRASH');
  select t.seq into v_seq_before from treesync.trees t where t.id = p_tree;
  continue when cardinality(v_left) = 0;
  -- The nodes in the trash on their paths (TRASH aside): in_trash_among (000009) of the
  -- ancestries' nodes.
  v_trashed := treesync.in_trash_among(p_tree, (select a.ids from treesync.ancestry(p_tree, v_left) a));
  continue when cardinality(v_trashed) = 0;
  -- Those put there by a delete (a move from elsewhere than TRASH), and the least they had seen.
  select coalesce(array_agg(t.id), '{}'), min(coalesce(o.seen, o.seq - 1))
    into v_rejudged, v_rejudged_seen
    from unnest(v_trashed) t(id)
   cross join lateral (select l.ts, l.old_parent from treesync.latest_move(p_tree, t.id) l offset 0) l
   cross join lateral (select s.seq, s.seen from treesync.ops s
                        where s.ts = l.ts and (s.tree = p_tree) is true offset 0) o
   where l.old_parent is not null and l.old_parent <> 'TRASH';
  continue when cardinality(v_rejudged) = 0;
  -- Their subtrees' nodes, for the next pass.
  with recursive subtree(id) as (
    select d.id collate "C" from unnest(v_rejudged) d(id)
    union
    select n.id from subtree s
     cross join lateral (select n.id from treesync.nodes n
                          where n.parent = s.id and (n.tree = p_tree) is true offset 0) n   -- nodes_parent
  )
  select array(select distinct x from unnest(v_again || array(select s.id::text from subtree s)) x)
    into v_again;
  v_again_from := least(coalesce(v_again_from, v_rejudged_seen + 1), v_rejudged_seen + 1);
  end loop;
  return v_restored;
end
$function$

CREATE OR REPLACE FUNCTION treesync.restore_for(p_tree text, p_seq bigint, p_seen bigint, p_ts text, p_node text)
 RETURNS integer
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_material TO 'off'
AS $function$
declare
  v_path text[];
  v_up text[];
  v_skipped integer;
  v_top text;
  v_move treesync.moves;
  v_del record;
  v_restored integer := 0;
  v_seq bigint;
  v_newest text collate "C";
  v_ts text;
  v_found boolean;
begin
  for step in 1 .. 1000 loop
    v_path := treesync.path_up(p_tree, p_node);
    exit when v_path[cardinality(v_path)] is distinct from 'TRASH';
    v_found := false;
    -- topmost first: the node just below TRASH, down to E's node
    for i in reverse cardinality(v_path) - 1 .. 1 loop
      v_top := v_path[i];
      select * into v_move from treesync.latest_move(p_tree, v_top);
      -- a delete: it moved the node (did not create it) from elsewhere than TRASH itself. Its
      -- old parent may be in the trash by now: restored there, the next round of the walk
      -- meets that parent's own delete (the chain).
      continue when not found or v_move.old_parent is null or v_move.old_parent = 'TRASH'
                 or v_move.ts = p_ts;
      -- a delete that cannot be undone: its old parent is gone, or now inside the node's own
      -- subtree (moving back would make a cycle)
      v_up := treesync.path_up(p_tree, v_move.old_parent);
      continue when v_up[cardinality(v_up)] not in ('ROOT', 'TRASH') or v_top = any(v_up);
      -- (by the (ts, tree) index only, as new_ops in 000003)
      select o.seq, coalesce(o.seen, o.seq - 1) as seen into v_del
        from treesync.ops o where o.ts = v_move.ts and (o.tree = p_tree) is true;
      continue when not found;
      continue when treesync.had_seen(v_del.seen, v_move.ts, p_seq, p_ts)
                 or treesync.had_seen(p_seen, p_ts, v_del.seq, v_move.ts);
      v_found := true;
      exit;
    end loop;
    exit when not v_found;

    select t.seq, t.newest_ts into v_seq, v_newest from treesync.trees t where t.id = p_tree;
    v_ts := treesync.server_ts(v_newest);
    insert into treesync.ops (tree, seq, ts, type, node, parent, pos, seen)
    values (p_tree, v_seq + 1, v_ts, 'move', v_top, v_move.old_parent, v_move.old_pos, v_seq);
    update treesync.trees set seq = v_seq + 1, newest_ts = v_ts where id = p_tree;
    select m.skipped into v_skipped from treesync.merge_moves(p_tree,
      array[row(0, v_ts, 'move', v_top, v_move.old_parent, v_move.old_pos, null, null)::treesync.op]) m;
    v_restored := v_restored + 1;
    -- (checked above, so never expected: a restore that changed nothing ends the walk)
    exit when v_skipped > 0;
  end loop;
  return v_restored;
end
$function$

CREATE OR REPLACE FUNCTION treesync.restore_suspects(p_tree text, p_nodes text[], p_replicas text[], p_seen bigint[])
 RETURNS boolean[]
 LANGUAGE plpgsql
 STABLE
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'on'
 SET enable_hashagg TO 'on'
 SET enable_sort TO 'off'
AS $function$
declare
  v_ids text[];
  v_parents text[];
  v_trashed text[];
  v_del_nodes text[];
  v_del_replicas text[];
begin
  select a.ids, a.parents into v_ids, v_parents from treesync.ancestry(p_tree, p_nodes) a;
  -- The nodes on those paths inside the trash (TRASH itself aside).
  v_trashed := array(
    with recursive edge(id, parent) as (
      select e.id collate "C", e.parent collate "C" from unnest(v_ids, v_parents) e(id, parent)
    ), below(id) as (
      select e.id from edge e where e.parent = 'TRASH'
      union
      select e.id from edge e join below b on e.parent = b.id
    )
    select b.id from below b);
  if cardinality(v_trashed) = 0 then
    return array(select false from unnest(p_nodes));
  end if;
  -- Those whose latest applied move is such a delete, with its replica.
  select coalesce(array_agg(t.id), '{}'), coalesce(array_agg(substr(o.ts, 21)), '{}')
    into v_del_nodes, v_del_replicas
    from unnest(v_trashed) t(id)
   -- latest_move (000005) written out: a call per node, with its settings, cost more than the probe
   cross join lateral (select m.ts, m.old_parent from treesync.moves m
                        where m.tree = p_tree and m.node = t.id and m.applied
                        order by m.tree desc, m.node desc, m.ts desc
                        limit 1) l
   cross join lateral (select s.seq, s.ts from treesync.ops s
                        where s.ts = l.ts and (s.tree = p_tree) is true offset 0) o
   where l.old_parent is not null and l.old_parent <> 'TRASH'
     and o.seq > (select min(x) from unnest(p_seen) x);
  if cardinality(v_del_nodes) = 0 then
    return array(select false from unnest(p_nodes));
  end if;
  -- Down from each such node: the deletes above each node on the paths (itself included).
  return array(
    with recursive edge(id, parent) as (
      select e.id collate "C", e.parent collate "C" from unnest(v_ids, v_parents) e(id, parent)
    ), under(id, replica) as (
      select d.id collate "C", d.replica from unnest(v_del_nodes, v_del_replicas) d(id, replica)
      union
      select e.id, u.replica from edge e join under u on e.parent = u.id
    )
    , input(node, replica, n) as (
      select i.node collate "C", i.replica, i.n
        from unnest(p_nodes, p_replicas) with ordinality i(node, replica, n)
    ), hit(n) as (
      select distinct i.n from input i join under u on u.id = i.node and u.replica <> i.replica
    )
    select h.n is not null from input i left join hit h on h.n = i.n order by i.n);
end
$function$

CREATE OR REPLACE FUNCTION treesync.retention()
 RETURNS interval
 LANGUAGE sql
 STABLE
AS $function$
  select coalesce(nullif(current_setting('treesync.retention', true), ''), '30 days')::interval
$function$

CREATE OR REPLACE FUNCTION treesync.rewrite_log(p_tree text, p_ts text[], p_old_parent text[], p_old_pos text[], p_applied boolean[])
 RETURNS void
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_material TO 'off'
AS $function$
declare
  v_ctids tid[];
  v_values jsonb;
  v_count integer;
begin
  if cardinality(p_ts) = 0 then
    return;
  end if;
  v_ctids := treesync.move_ctids(p_tree, p_ts);
  select jsonb_object_agg(f.ts, jsonb_build_array(f.old_parent, f.old_pos, f.applied)) into v_values
    from unnest(p_ts, p_old_parent, p_old_pos, p_applied) as f(ts, old_parent, old_pos, applied);
  update treesync.moves l
     set old_parent = v_values -> l.ts ->> 0,
         old_pos = v_values -> l.ts ->> 1,
         applied = (v_values -> l.ts ->> 2)::boolean
   where l.ctid = any(v_ctids);
  get diagnostics v_count = row_count;
  if v_count <> cardinality(p_ts) then
    raise exception 'treesync: rewrite_log changed % log entries of %, not % (a bug)', v_count, p_tree, cardinality(p_ts);
  end if;
end
$function$

CREATE OR REPLACE FUNCTION treesync.server_ts(p_after text)
 RETURNS text
 LANGUAGE plpgsql
 STABLE
AS $function$
declare
  v_now bigint := floor(extract(epoch from clock_timestamp()) * 1000)::bigint;
  v_wall bigint := coalesce(substr(p_after, 1, 13)::bigint, 0);
  v_counter integer := coalesce(substr(p_after, 15, 5)::integer, 0);
begin
  if v_now > v_wall then
    return lpad(v_now::text, 13, '0') || '.00000.server';
  elsif v_counter < 99999 then
    return lpad(v_wall::text, 13, '0') || '.' || lpad((v_counter + 1)::text, 5, '0') || '.server';
  end if;
  return lpad((v_wall + 1)::text, 13, '0') || '.00000.server';
end
$function$

CREATE OR REPLACE FUNCTION treesync.slots_of(p_ids text[], p_keys text[])
 RETURNS integer[]
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET enable_hashjoin TO 'on'
 SET enable_mergejoin TO 'off'
 SET enable_nestloop TO 'off'
 SET work_mem TO '64MB'
AS $function$
  select coalesce(array_agg(coalesce(i.slot, 0)::integer order by k.ord), '{}')
    from unnest(p_keys) with ordinality as k(id, ord)
    left join unnest(p_ids) with ordinality as i(id, slot) on i.id = k.id
$function$

CREATE OR REPLACE FUNCTION treesync.trash(p_tree text, p_limit integer)
 RETURNS TABLE(node text, ts text, old_parent text, old_pos text, parent_exists boolean)
 LANGUAGE sql
 STABLE
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
AS $function$
  -- (whether the parent exists: a scalar probe by key; an `exists` here may be planned as a
  -- hash of every node of the tree)
  select n.id, d.ts, d.old_parent, d.old_pos,
         coalesce((select true from treesync.nodes p where p.tree = p_tree and p.id = d.old_parent limit 1), false)
    from treesync.nodes n
    left join lateral (select m.ts, m.old_parent, m.old_pos
                         from treesync.latest_move(p_tree, n.id) m offset 0) m on true
    cross join lateral (
      select m.ts, m.old_parent, m.old_pos where m.ts is not null
      union all
      select tt.ts, tt.old_parent, tt.old_pos
        from treesync.trash_times tt
       where m.ts is null and tt.tree = p_tree and tt.node = n.id
    ) d
   where n.tree = p_tree and n.parent = 'TRASH'   -- nodes_in_trash
   order by d.ts collate "C" desc, n.id
   limit p_limit
$function$

CREATE OR REPLACE FUNCTION treesync.truncate_log(p_tree text, p_max_rows integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
declare
  v_locked timestamptz;
  v_f text collate "C";
  v_kept bigint;
  v_cap bigint;
  v_new_kept bigint;
  v_moves integer;
  v_ops integer;
begin
  if p_max_rows is null or p_max_rows < 1 then
    raise exception using errcode = 'TS006', message = 'truncate_log: max_rows must be a positive integer';
  end if;
  select t.kept_seq into v_kept from treesync.trees t where t.id = p_tree for update;
  if not found then
    raise exception using
      errcode = 'TS003',
      message = format('tree %s does not exist', coalesce(quote_literal(p_tree), 'null'));
  end if;
  v_locked := clock_timestamp();
  v_f := treesync.frontier(p_tree);
  if v_f is null then
    return jsonb_build_object('frontier', null, 'moves', 0, 'ops', 0, 'kept_seq', v_kept, 'more', false,
                              'held_ms', extract(epoch from clock_timestamp() - v_locked) * 1000);
  end if;
  update treesync.trees set log_from = v_f where id = p_tree and log_from is distinct from v_f;

  -- Log rows below F, oldest first (a range of the primary key); keep each trashed node's
  -- newest move into TRASH among them (when, and where it came from: the trash listing and
  -- the purge need it once the row is gone), then delete those rows by key (`= any`: one index
  -- probe each, whatever the planner thinks of the tree's size).
  with batch as (
    select l.ts, l.node, l.parent, l.old_parent, l.old_pos, l.applied
      from treesync.moves l
     where l.tree = p_tree and l.ts < v_f
     order by l.ts
     limit p_max_rows
  ), trashed as (
    insert into treesync.trash_times as tt (tree, node, ts, old_parent, old_pos)
    select distinct on (b.node) p_tree, b.node, b.ts, b.old_parent, b.old_pos
      from batch b
     where b.applied and b.parent = 'TRASH'
     order by b.node, b.ts desc
    on conflict (tree, node) do update
      set ts = excluded.ts, old_parent = excluded.old_parent, old_pos = excluded.old_pos
      where excluded.ts > tt.ts
  ), gone as (
    delete from treesync.moves l
     where l.tree = p_tree and l.ts = any (array(select b.ts from batch b))
    returning 1
  )
  select count(*) into v_moves from gone;

  -- How far pullers have come, and the prefix of seqs older than F.
  select min(r.pulled) into v_cap
    from treesync.replicas r
   where r.tree = p_tree and r.pulled is not null and r.seen_at > now() - treesync.retention();
  select coalesce(min(o.seq) filter (where o.ts >= v_f) - 1, max(o.seq))
    into v_new_kept
    from (select o.seq, o.ts from treesync.ops o
           where o.tree = p_tree and o.seq > v_kept
           order by o.seq
           limit p_max_rows) o;
  v_new_kept := greatest(v_kept, least(coalesce(v_new_kept, v_kept), coalesce(v_cap, v_new_kept, v_kept)));
  if v_new_kept > v_kept then
    update treesync.trees set kept_seq = v_new_kept where id = p_tree;
  end if;
  delete from treesync.ops o
   where o.tree = p_tree
     and o.seq = any (array(select d.seq from treesync.ops d
                             where d.tree = p_tree and d.seq <= v_new_kept and d.ts < v_f
                             order by d.seq
                             limit p_max_rows));
  get diagnostics v_ops = row_count;

  return jsonb_build_object(
    'frontier', v_f, 'moves', v_moves, 'ops', v_ops, 'kept_seq', v_new_kept,
    'more', v_moves = p_max_rows or v_ops = p_max_rows or v_new_kept - v_kept = p_max_rows,
    'held_ms', extract(epoch from clock_timestamp() - v_locked) * 1000);
end
$function$

CREATE OR REPLACE FUNCTION treesync.value_depth(p_value jsonb, p_limit integer)
 RETURNS integer
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  with recursive d(v, depth) as (
    select p_value, 0
    union all
    select c.v, d.depth + 1
      from d
     cross join lateral (
       select e from jsonb_array_elements(case when jsonb_typeof(d.v) = 'array' then d.v end) e
       union all
       select e from jsonb_each(case when jsonb_typeof(d.v) = 'object' then d.v end) x(k, e)
     ) c(v)
     where d.depth <= p_limit
  )
  select max(d.depth + (jsonb_typeof(d.v) in ('array', 'object'))::integer) from d
$function$

CREATE OR REPLACE FUNCTION treesync.window_nodes(p_tree text, p_moves treesync.op[], p_logged text[], p_late boolean, p_no_walk text[], OUT ids text[], OUT parents integer[], OUT poss text[], OUT present boolean[], OUT ctids tid[], OUT name_slots integer[])
 RETURNS record
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'on'
 SET enable_mergejoin TO 'off'
 SET enable_nestloop TO 'off'
 SET work_mem TO '64MB'
AS $function$
declare
  v_names text[];  -- with nulls, in the order of name_slots
  v_named text[];
  v_walk_from text[];
  v_more text[];
  v_from text[];
  v_map jsonb;
  v_parent_ids text[];
  v_stubs text[];
  v_missing text[];
  v_loaded integer;
  v_tree_nodes bigint;
  v_name_count bigint;
  d_id text[];
  d_parent text[];
  d_pos text[];
  d_ctid tid[];
  a_id text[] := '{}';
  a_parent text[] := '{}';
  a_pos text[] := '{}';
  a_ctid tid[] := '{}';
begin
  -- The ids the window names, with repeats: the new moves' nodes and parents, and when the
  -- window is late, also the logged moves' nodes, parents and replaced parents (p_logged).
  v_names := array(select m.node from unnest(p_moves) m) || array(select m.parent from unnest(p_moves) m)
             || p_logged;

  -- A late window starts a walk at every id it names. When it names many ids for the size of
  -- its tree, their ancestors are most of the tree: the whole tree (one range of the primary
  -- key, at most two rows per name, counted first within that bound) costs less than walks.
  if p_late then
    v_name_count := cardinality(v_names) - cardinality(array_positions(v_names, null));
    select count(*) into v_tree_nodes
      from (select from treesync.nodes n where n.tree = p_tree limit 2 * v_name_count + 1) x;
  end if;
  if p_late and v_tree_nodes <= 2 * v_name_count then
    select coalesce(array_agg(n.id), '{}'), coalesce(array_agg(n.parent), '{}'), coalesce(array_agg(n.pos), '{}'),
           coalesce(array_agg(n.ctid), '{}')
      into ids, v_parent_ids, poss, ctids
      from treesync.nodes n
     where n.tree = p_tree;
    v_stubs := '{}';  -- every parent is in the tree
    v_missing := array(select k.id from unnest(v_names) k(id) where k.id is not null
                       except select i from unnest(ids) i);
  else
    select coalesce(array_agg(x.id), '{}') into v_named
      from (select k.id from unnest(v_names) k(id) where k.id is not null group by k.id) x;
    select coalesce(array_agg(n.id), '{}'), coalesce(array_agg(n.parent), '{}'), coalesce(array_agg(n.pos), '{}'),
           coalesce(array_agg(n.ctid), '{}')
      into d_id, d_parent, d_pos, d_ctid
      from unnest(v_named) k(id)
     cross join lateral (select n.ctid, n.id, n.parent, n.pos from treesync.nodes n
                          where n.tree = p_tree and n.id = k.id offset 0) n;

    if p_late then
      v_walk_from := v_named;
    else
      -- (as load_window: a move of a node that exists walks, unless it only changes its order
      -- key under its present parent; a node the window moves twice walks; but no move of a
      -- node in p_no_walk does)
      select jsonb_object_agg(d.id, d.parent) into v_map from unnest(d_id, d_parent) as d(id, parent);
      select coalesce(array_agg(distinct w.parent), '{}') into v_walk_from
        from (select m.node, m.parent, count(*) over (partition by m.node) as moves
                from unnest(p_moves) m) w
        left join unnest(p_no_walk) as l(id) on l.id collate "C" = w.node
       where l.id is null
         and (w.moves > 1 or (v_map ? w.node and v_map ->> w.node is distinct from w.parent));
    end if;

    -- The ancestors the walks pass, and, when a walk passes a node the window moves, those of
    -- its new parents too, until nothing is added. A walk starts at a named node, which is
    -- loaded (d_*): what it loads starts at that node's parent.
    v_more := v_walk_from;
    while cardinality(v_more) > 0 loop
      select coalesce(array_agg(d.parent), '{}') into v_from
        from unnest(d_id, d_parent) as d(id, parent)
        join unnest(v_more) as w(id) on w.id collate "C" = d.id
       where d.parent is not null;
      select a_id || coalesce(array_agg(u.id), '{}'), a_parent || coalesce(array_agg(u.parent), '{}'),
             a_pos || coalesce(array_agg(u.pos), '{}'), a_ctid || coalesce(array_agg(u.ctid), '{}')
        into a_id, a_parent, a_pos, a_ctid
        from treesync.ancestor_rows(p_tree, v_from) u;
      exit when p_late;
      select coalesce(array_agg(x.id), '{}') into v_more
        from (select m.parent from unnest(p_moves) m
                join (select unnest(a_id) union select unnest(v_walk_from)) i(id) on i.id = m.node
              except select i from unnest(v_walk_from) i) x(id);
      v_walk_from := v_walk_from || v_more;
    end loop;

    select coalesce(array_agg(x.id), '{}'), coalesce(array_agg(x.parent), '{}'), coalesce(array_agg(x.pos), '{}'),
           coalesce(array_agg(x.ctid), '{}')
      into ids, v_parent_ids, poss, ctids
      from (select distinct on (l.id) l.id, l.parent, l.pos, l.ctid
              from (select * from unnest(a_id, a_parent, a_pos, a_ctid)
                    union all select * from unnest(d_id, d_parent, d_pos, d_ctid))
                   as l(id, parent, pos, ctid)
             order by l.id) x;
    -- the parents of loaded nodes that are not loaded (they exist; their parent is unknown),
    -- and the named ids that are not in the tree (new nodes, parents that do not exist)
    select coalesce(array_agg(x.id), '{}') into v_stubs
      from (select i from unnest(v_parent_ids) i where i is not null except select i from unnest(ids) i) x(id);
    select coalesce(array_agg(x.id), '{}') into v_missing
      from (select i from unnest(v_named) i except select i from unnest(ids) i) x(id);
  end if;

  -- Slots for the ids not loaded come after those of the loaded nodes.
  v_loaded := cardinality(ids);
  ids := ids || v_stubs || v_missing;
  parents := treesync.slots_of(ids, v_parent_ids)
             || array_fill(-1, array[cardinality(v_stubs)])
             || array_fill(0, array[cardinality(v_missing)]);
  poss := poss || array_fill(''::text, array[cardinality(v_stubs) + cardinality(v_missing)]);
  ctids := ctids || array_fill(null::tid, array[cardinality(v_stubs) + cardinality(v_missing)]);
  present := array_fill(true, array[v_loaded + cardinality(v_stubs)])
             || array_fill(false, array[cardinality(v_missing)]);
  name_slots := treesync.slots_of(ids, v_names);
end
$function$

CREATE OR REPLACE FUNCTION treesync.write_nodes(p_tree text, p_gone text[], p_moved_id text[], p_moved_parent text[], p_moved_pos text[], p_new_id text[], p_new_parent text[], p_new_pos text[])
 RETURNS void
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_material TO 'off'
AS $function$
declare
  v_ctids tid[];
  v_values jsonb;
  v_count integer;
begin
  if cardinality(p_gone) > 0 then
    v_ctids := treesync.node_ctids(p_tree, p_gone);
    delete from treesync.nodes n where n.ctid = any(v_ctids);
    get diagnostics v_count = row_count;
    if v_count <> cardinality(p_gone) then
      raise exception 'treesync: write_nodes deleted % nodes of %, not % (a bug)', v_count, p_tree, cardinality(p_gone);
    end if;
  end if;
  if cardinality(p_moved_id) > 0 then
    v_ctids := treesync.node_ctids(p_tree, p_moved_id);
    select jsonb_object_agg(u.id, jsonb_build_array(u.parent, u.pos)) into v_values
      from unnest(p_moved_id, p_moved_parent, p_moved_pos) as u(id, parent, pos);
    update treesync.nodes n
       set parent = v_values -> n.id ->> 0, pos = v_values -> n.id ->> 1
     where n.ctid = any(v_ctids);
    get diagnostics v_count = row_count;
    if v_count <> cardinality(p_moved_id) then
      raise exception 'treesync: write_nodes moved % nodes of %, not % (a bug)', v_count, p_tree, cardinality(p_moved_id);
    end if;
  end if;
  insert into treesync.nodes (tree, id, parent, pos)
  select p_tree, i.id, i.parent, i.pos
    from unnest(p_new_id, p_new_parent, p_new_pos) as i(id, parent, pos)
   order by i.id;
end
$function$

CREATE OR REPLACE FUNCTION treesync.write_nodes_at(p_tree text, p_gone_at tid[], p_gone text[], p_moved_at tid[], p_moved_id text[], p_moved_parent text[], p_moved_pos text[], p_new_id text[], p_new_parent text[], p_new_pos text[])
 RETURNS void
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_material TO 'off'
AS $function$
declare
  v_values jsonb;
  v_count integer;
begin
  if cardinality(p_gone) > 0 then
    select jsonb_object_agg(g.id, true) into v_values from unnest(p_gone) g(id);
    delete from treesync.nodes n
     where n.ctid = any(p_gone_at) and (n.tree = p_tree and v_values ? n.id) is true;
    get diagnostics v_count = row_count;
    if v_count <> cardinality(p_gone) then
      raise exception 'treesync: write_nodes_at deleted % nodes of %, not % (a bug)', v_count, p_tree, cardinality(p_gone);
    end if;
  end if;
  if cardinality(p_moved_id) > 0 then
    select jsonb_object_agg(u.id, jsonb_build_array(u.parent, u.pos)) into v_values
      from unnest(p_moved_id, p_moved_parent, p_moved_pos) as u(id, parent, pos);
    update treesync.nodes n
       set parent = v_values -> n.id ->> 0, pos = v_values -> n.id ->> 1
     where n.ctid = any(p_moved_at) and (n.tree = p_tree and v_values ? n.id) is true;
    get diagnostics v_count = row_count;
    if v_count <> cardinality(p_moved_id) then
      raise exception 'treesync: write_nodes_at moved % nodes of %, not % (a bug)', v_count, p_tree, cardinality(p_moved_id);
    end if;
  end if;
  insert into treesync.nodes (tree, id, parent, pos)
  select p_tree, i.id, i.parent, i.pos
    from unnest(p_new_id, p_new_parent, p_new_pos) as i(id, parent, pos)
   order by i.id;
end
$function$
