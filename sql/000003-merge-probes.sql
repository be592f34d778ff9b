-- treesync: the merge reads rows by key only, on every supported Postgres (15 to 18), under
-- custom and generic plans, whatever the planner's statistics say.
--
-- Why: `where n.tree = p_tree and n.id = any(v_ids)` is planned by Postgres 15, on a table
-- without fresh statistics, as an index scan with `tree = …` as the only index condition and
-- `id = any(…)` as a filter: it reads every node of the tree, once per batch. Joins of an
-- unnested array to a table can be planned either way round, and `not exists (…)` becomes such
-- a join. So every "rows whose key is in this array" access here is one of two forms:
--
-- * a lateral subquery per key that cannot be flattened (`offset 0`): the array drives a
--   nested loop, and each key is one lookup with the full key (nodes_at, node_ctids, …);
-- * writes by row address: the addresses are found by those lookups first, and the update or
--   delete is a TID scan (`ctid = any(<variable>)`, with no other indexable condition). The
--   tree's lock (apply_ops) is held, so no one else writes its rows between the lookup and the
--   write; the count of rows written is checked all the same.
--
-- Functions: one job each. merge_moves reads like the model's loop (test/model/reference.ts):
-- load the part of the tree the window can see (load_window), undo the logged moves after the
-- oldest new one, apply and redo in timestamp order, write back.
-- apply_ops: validate (op_problem, now with the value depth rule), tell new operations from
-- duplicates and conflicts (new_ops), store, merge.

-- Storage: two things the lookups need.
--
-- `ops` had two indexes that begin with `tree`: (tree, seq) and the unique (tree, ts). A
-- lookup by (tree, ts) could be planned on either, and with statistics that predate a tree (a
-- tree created after the last ANALYZE looks empty) both look equally cheap: Postgres then reads
-- the whole tree through (tree, seq), filtering on ts, once per operation. The uniqueness of a
-- ts within a tree now lives in an index that begins with `ts`, and the lookups (new_ops) give
-- only that index a condition: one probe, whatever the statistics.
alter table treesync.ops drop constraint ops_tree_ts_key;
create unique index ops_ts_tree_key on treesync.ops (ts, tree);
alter table treesync.ops add constraint ops_ts_tree_key unique using index ops_ts_tree_key;

-- The greatest ts stored in a tree (null when none), kept by apply_ops under the tree's lock:
-- a batch whose oldest ts is newer than it has no duplicates to look up.
alter table treesync.trees add column newest_ts text collate "C";
update treesync.trees t set newest_ts = (select max(o.ts) from treesync.ops o where o.tree = t.id);

-- The nodes of a tree with these ids (those that exist), one lookup per id.
create function treesync.nodes_at(p_tree text, p_ids text[])
returns setof treesync.nodes
language sql
stable
as $$
  select n.*
    from unnest(p_ids) k(id)
   cross join lateral (select n.* from treesync.nodes n
                        where n.tree = p_tree and n.id = k.id offset 0) n
$$;

-- The row addresses of a tree's nodes with these ids, for writes by TID scan.
create function treesync.node_ctids(p_tree text, p_ids text[])
returns tid[]
language sql
stable
as $$
  select coalesce(array_agg(n.ctid), '{}')
    from unnest(p_ids) k(id)
   cross join lateral (select n.ctid from treesync.nodes n
                        where n.tree = p_tree and n.id = k.id offset 0) n
$$;

-- The row addresses of a tree's logged moves with these timestamps.
create function treesync.move_ctids(p_tree text, p_ts text[])
returns tid[]
language sql
stable
as $$
  select coalesce(array_agg(l.ctid), '{}')
    from unnest(p_ts) k(ts)
   cross join lateral (select l.ctid from treesync.moves l
                        where l.tree = p_tree and l.ts = k.ts offset 0) l
$$;

-- The nodes with these ids and all their ancestors, each once: one lookup by key per step up.
create function treesync.ancestors_of(p_tree text, p_ids text[])
returns setof treesync.nodes
language sql
stable
as $$
  with recursive up as (
    select * from treesync.nodes_at(p_tree, p_ids)
    union
    select a.*
      from up
     cross join lateral (select n.* from treesync.nodes n
                          where n.tree = p_tree and n.id = up.parent offset 0) a
  )
  select * from up
$$;

-- The logged moves of a tree after a timestamp (one range of the primary key).
create function treesync.moves_after(p_tree text, p_ts text)
returns setof treesync.moves
language sql
stable
as $$
  select l.* from treesync.moves l where l.tree = p_tree and l.ts > p_ts collate "C"
$$;

-- How deeply a JSON value nests arrays and objects: a scalar is 0, `[1]`, `[]` and `{"a":1}`
-- are 1. Counting stops past `p_limit` (the answer is then `p_limit + 1`), so a hostile value
-- costs no more than one at the limit.
create function treesync.value_depth(p_value jsonb, p_limit integer)
returns integer
language sql
immutable
parallel safe
as $$
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
$$;

-- op_problem (000002) with one more rule: a `set` value nests arrays and objects at most 64
-- levels deep. The exact depth is computed only when the value's text holds more than 64
-- brackets (a bound on its depth), so ordinary values pay one string scan.
create or replace function treesync.op_problem(p_op jsonb, p_max_value_bytes integer)
returns text
language sql
stable
parallel safe
as $$
  select case
    when jsonb_typeof(p_op) is distinct from 'object' then
      'an operation must be a JSON object'
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
        when p_op - '{ts,type,node,parent,pos}'::text[] <> '{}'::jsonb then
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
        when p_op - '{ts,type,node,key,value}'::text[] <> '{}'::jsonb then
          'a set has only the fields ts, type, node, key, value'
      end
    else
      'type must be "move" or "set"'
  end
$$;

-- The part of a tree a window of moves can see, loaded into arrays for merge_moves: a node is
-- a slot 1..n (`ids`); slot 0 is "none", the parent of ROOT and TRASH. For each slot: its
-- parent's slot (`parents`; -1 when unknown: a node loaded only as someone's parent, which no
-- walk may pass), its order key and whether it exists; `slot` maps id -> slot.
--
-- What is loaded: the nodes the window names (the new moves' nodes and parents, and when the
-- window is late, also the logged moves' nodes, parents and replaced parents, which undoing
-- puts back), and the ancestors the cycle checks walk through. A walk starts at the parent of
-- a move that may walk: unless the window is late (then anything can change, and every named
-- id starts a walk), a move of a node that exists, or that the window moves more than once,
-- except a lone change of order key under the node's present parent. A growing tree (every
-- move creates a node) reads no ancestors at all. A walk can also pass through a node the
-- window moves and go on from where the window put it: when such a node is among the loaded
-- ones, its new parents' ancestors are loaded too, until nothing is added.
create function treesync.load_window(p_tree text, p_moves treesync.op[], p_oldest_new text, p_late boolean,
                                     out ids text[], out parents integer[], out poss text[],
                                     out present boolean[], out slot jsonb)
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set enable_material = off
as $$
declare
  v_named text[];
  v_walk_from text[];
  v_more text[];
  v_map jsonb;
  v_parent_ids text[];
  v_stubs text[];
  v_missing text[];
  v_loaded integer;
  -- the named nodes that exist (d_*), the ancestors the walks need (a_*)
  d_id text[];
  d_parent text[];
  d_pos text[];
  a_id text[] := '{}';
  a_parent text[] := '{}';
  a_pos text[] := '{}';
begin
  select array_agg(distinct x.id) into v_named
    from (select m.node as id from unnest(p_moves) m
          union all select m.parent from unnest(p_moves) m
          union all select l.node from treesync.moves_after(p_tree, p_oldest_new) l where p_late
          union all select l.parent from treesync.moves_after(p_tree, p_oldest_new) l where p_late
          union all select l.old_parent from treesync.moves_after(p_tree, p_oldest_new) l
                     where p_late and l.old_parent is not null
         ) x;

  select coalesce(array_agg(n.id), '{}'), coalesce(array_agg(n.parent), '{}'), coalesce(array_agg(n.pos), '{}')
    into d_id, d_parent, d_pos
    from treesync.nodes_at(p_tree, v_named) n;

  -- (Membership tests go through jsonb objects keyed by id: a join of two arrays would be a
  -- nested loop here, where hash joins are off.)
  if p_late then
    v_walk_from := v_named;
  else
    select jsonb_object_agg(d.id, d.parent) into v_map from unnest(d_id, d_parent) as d(id, parent);
    select coalesce(array_agg(distinct w.parent), '{}') into v_walk_from
      from (select m.node, m.parent, count(*) over (partition by m.node) as moves
              from unnest(p_moves) m) w
     where w.moves > 1 or (v_map ? w.node and v_map ->> w.node is distinct from w.parent);
  end if;

  v_more := v_walk_from;
  while cardinality(v_more) > 0 loop
    select a_id || coalesce(array_agg(u.id), '{}'), a_parent || coalesce(array_agg(u.parent), '{}'),
           a_pos || coalesce(array_agg(u.pos), '{}')
      into a_id, a_parent, a_pos
      from treesync.ancestors_of(p_tree, v_more) u;
    exit when p_late;  -- every id the window names started a walk already
    select jsonb_object_agg(i.id, true) into v_map
      from (select unnest(a_id) union select unnest(v_walk_from)) i(id);
    select coalesce(array_agg(x.id), '{}') into v_more
      from (select m.parent from unnest(p_moves) m where v_map ? m.node
            except select i from unnest(v_walk_from) i) x(id);
    v_walk_from := v_walk_from || v_more;
  end loop;

  -- The loaded nodes, each once; then slots for the ids not loaded: the parents of loaded nodes
  -- (they exist; their parent is unknown) and the named ids that are not in the tree (new
  -- nodes, parents that do not exist).
  select coalesce(array_agg(x.id), '{}'), coalesce(array_agg(x.parent), '{}'), coalesce(array_agg(x.pos), '{}')
    into ids, v_parent_ids, poss
    from (select distinct on (l.id) l.id, l.parent, l.pos
            from (select * from unnest(a_id, a_parent, a_pos) union all select * from unnest(d_id, d_parent, d_pos))
                 as l(id, parent, pos)
           order by l.id) x;
  v_loaded := cardinality(ids);
  select coalesce(array_agg(x.id), '{}') into v_stubs
    from (select i from unnest(v_parent_ids) i where i is not null except select i from unnest(ids) i) x(id);
  select coalesce(array_agg(x.id), '{}') into v_missing
    from (select i from unnest(v_named) i except select i from unnest(ids) i) x(id);
  ids := ids || v_stubs || v_missing;
  select jsonb_object_agg(i.id, i.slot) into slot from unnest(ids) with ordinality as i(id, slot);
  parents := array(select coalesce((slot ->> p.id)::integer, 0)
                     from unnest(v_parent_ids) with ordinality as p(id, ord) order by p.ord)
             || array_fill(-1, array[cardinality(v_stubs)])
             || array_fill(0, array[cardinality(v_missing)]);
  poss := poss || array_fill(''::text, array[cardinality(v_stubs) + cardinality(v_missing)]);
  present := array_fill(true, array[v_loaded + cardinality(v_stubs)])
             || array_fill(false, array[cardinality(v_missing)]);
end
$$;

-- Writes nodes back by key: deletes `p_gone`, updates `p_moved_*` (existing nodes, new parent
-- and order key), inserts `p_new_*`. The rows to change are found by lookups by key first, then
-- changed by address: a TID scan is the only plan for `ctid = any(<variable>)`, whereas with
-- `tree = …` also in the condition a planner without statistics prefers scanning the tree.
create function treesync.write_nodes(p_tree text, p_gone text[],
                                     p_moved_id text[], p_moved_parent text[], p_moved_pos text[],
                                     p_new_id text[], p_new_parent text[], p_new_pos text[])
returns void
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set enable_material = off
as $$
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
$$;

-- Corrects the log entries of redone moves whose outcome changed (by address, as write_nodes).
create function treesync.rewrite_log(p_tree text, p_ts text[], p_old_parent text[], p_old_pos text[],
                                     p_applied boolean[])
returns void
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set enable_material = off
as $$
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
$$;

-- The fast path of merge_moves, set-based: the leading moves of a window (in timestamp order)
-- that each create a node under a parent that exists or that an earlier one of them created.
-- Such a move is always applied (a new node has no descendants, so it cannot close a cycle)
-- and needs no loop and no ancestors: its node and log entry are inserted as they are. Only
-- for a window that is not late (no logged move is newer), so nothing is undone. Returns the
-- ts of the first move it did not merge (null when it merged them all).
create function treesync.merge_creations(p_tree text, p_moves treesync.op[])
returns text
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set enable_material = off
as $$
declare
  v_first jsonb;
  v_stop text collate "C";
begin
  -- A window that starts with a move of a node that exists (re-parenting) has no leading
  -- creations: one lookup says so, instead of two per move.
  select m.ts into v_stop from unnest(p_moves) m order by m.ts limit 1;
  if exists (select from treesync.nodes n
              where n.tree = p_tree and n.id = (select m.node from unnest(p_moves) m order by m.ts limit 1)) then
    return v_stop;
  end if;
  v_stop := null;
  -- the ts of each node's first move in the window (a parent created earlier must be older)
  select jsonb_object_agg(f.node, f.ts) into v_first
    from (select m.node, min(m.ts) as ts from unnest(p_moves) m group by m.node) f;
  select min(m.ts) into v_stop
    from (select m.ts, m.node, m.parent,
                 row_number() over (partition by m.node order by m.ts) as nth
            from unnest(p_moves) m) m
    left join lateral (select true as found from treesync.nodes n
                        where n.tree = p_tree and n.id = m.node offset 0) node on true
    left join lateral (select true as found from treesync.nodes n
                        where n.tree = p_tree and n.id = m.parent offset 0) parent on true
   where not (node.found is null and m.nth = 1 and m.node <> m.parent
              and (coalesce(parent.found, false)
                   or coalesce((v_first ->> m.parent) collate "C" < m.ts, false)));

  insert into treesync.nodes (tree, id, parent, pos)
  select p_tree, m.node, m.parent, m.pos
    from unnest(p_moves) m
   where v_stop is null or m.ts < v_stop
   order by m.node;
  insert into treesync.moves (tree, ts, node, parent, pos, old_parent, old_pos, applied)
  select p_tree, m.ts, m.node, m.parent, m.pos, null, null, true
    from unnest(p_moves) m
   where v_stop is null or m.ts < v_stop;
  return v_stop;
end
$$;

-- Merges new moves into a tree's nodes and move log (contract: 000002). Kleppmann et al.
-- (2021): apply all moves in timestamp order; a move is skipped when its parent does not exist
-- at that point or when the node is its parent or one of its ancestors. New moves older than
-- logged ones (late) undo the logged moves after the oldest new one, which are then redone
-- with the new ones in timestamp order. All of it runs on the arrays load_window fills, with no
-- query per move; only what changed is written back.
create or replace function treesync.merge_moves(p_tree text, p_moves treesync.op[],
                                                out undone integer, out skipped integer)
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set enable_material = off
as $$
declare
  v_oldest_new text collate "C";
  v_late boolean;
  -- the window's part of the tree (load_window): s_* as it is being computed, db_* as stored
  s_id text[];
  s_parent integer[];
  s_pos text[];
  s_exists boolean[];
  v_slot jsonb;
  db_parent integer[];
  db_pos text[];
  db_exists boolean[];
  s_touched boolean[];
  v_touched integer[] := '{}';
  r record;
  v_x integer;
  v_p integer;
  v_a integer;
  v_steps integer;
  v_old_exists boolean;
  v_old_parent integer;
  v_old_pos text;
  v_applied boolean;
  v_old_parent_id text;
  -- the new log entries
  l_ts text[] := '{}';
  l_node text[] := '{}';
  l_parent text[] := '{}';
  l_pos text[] := '{}';
  l_old_parent text[] := '{}';
  l_old_pos text[] := '{}';
  l_applied boolean[] := '{}';
  -- redone log entries whose outcome changed
  f_ts text[] := '{}';
  f_old_parent text[] := '{}';
  f_old_pos text[] := '{}';
  f_applied boolean[] := '{}';
  -- what to write back to nodes
  w_gone text[] := '{}';
  w_new_id text[] := '{}';
  w_new_parent text[] := '{}';
  w_new_pos text[] := '{}';
  w_moved_id text[] := '{}';
  w_moved_parent text[] := '{}';
  w_moved_pos text[] := '{}';
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

  -- 0. Leading creations, set-based (merge_creations); the rest goes the general way.
  if not v_late then
    v_oldest_new := treesync.merge_creations(p_tree, p_moves);
    if v_oldest_new is null then
      return;
    end if;
    p_moves := array(select m from unnest(p_moves) m where m.ts >= v_oldest_new);
  end if;

  -- 1. Load what the window can see.
  select w.ids, w.parents, w.poss, w.present, w.slot
    into s_id, s_parent, s_pos, s_exists, v_slot
    from treesync.load_window(p_tree, p_moves, v_oldest_new, v_late) w;
  s_touched := array_fill(false, array[cardinality(s_id)]);
  db_parent := s_parent;
  db_pos := s_pos;
  db_exists := s_exists;

  -- 2. Undo the logged moves after the oldest new one: each node goes back to where its first
  --    applied move after that point found it (the same as undoing them one by one, newest
  --    first); a node that move created did not exist then.
  if v_late then
    for r in
      select distinct on (l.node) l.node, l.old_parent, l.old_pos
        from treesync.moves_after(p_tree, v_oldest_new) l
       where l.applied
       order by l.node, l.ts
    loop
      v_x := (v_slot ->> r.node)::integer;
      if r.old_parent is null then
        s_exists[v_x] := false;
        s_parent[v_x] := 0;
        s_pos[v_x] := '';
      else
        s_parent[v_x] := (v_slot ->> r.old_parent)::integer;
        s_pos[v_x] := r.old_pos;
      end if;
    end loop;
    select count(*) into undone from treesync.moves_after(p_tree, v_oldest_new);
  end if;

  -- 3. Apply the new moves and redo the undone ones, in timestamp order (the model's loop).
  for r in
    select l.ts, l.node, l.parent, l.pos, l.old_parent, l.old_pos, l.applied, false as is_new
      from treesync.moves_after(p_tree, v_oldest_new) l
     where v_late
    union all
    select m.ts, m.node, m.parent, m.pos, null, null, null, true
      from unnest(p_moves) m
    order by 1
  loop
    v_x := (v_slot ->> r.node)::integer;
    v_p := (v_slot ->> r.parent)::integer;
    if not s_touched[v_x] then
      s_touched[v_x] := true;
      v_touched := v_touched || v_x;
    end if;
    v_old_exists := s_exists[v_x];
    v_old_parent := s_parent[v_x];
    v_old_pos := s_pos[v_x];
    v_applied := false;

    if v_x = v_p or not s_exists[v_p] then
      -- Under itself, or under a node that does not exist (yet): skipped.
      null;
    elsif not v_old_exists or v_old_parent = v_p then
      -- Creating a node (it has no descendants, so no cycle), or a new order key under the
      -- same parent.
      v_applied := true;
    else
      -- Walk up from the new parent; finding the node means the move would make a cycle. The
      -- tree never has one, so the walk ends at ROOT or TRASH (whose parent is slot 0). The
      -- step count only guards against looping forever on a broken tree.
      v_a := v_p;
      v_steps := 0;
      while v_a > 0 and v_a <> v_x loop
        v_a := s_parent[v_a];
        v_steps := v_steps + 1;
        if v_steps > cardinality(s_id) then
          raise exception 'treesync: tree % has a cycle through %', p_tree, s_id[v_p];
        end if;
      end loop;
      if v_a < 0 then
        raise exception 'treesync: merge_moves did not load an ancestor of % (a bug)', s_id[v_p];
      end if;
      v_applied := v_a = 0;
    end if;
    if v_applied then
      s_exists[v_x] := true;
      s_parent[v_x] := v_p;
      s_pos[v_x] := r.pos;
    end if;

    v_old_parent_id := case when v_old_exists then s_id[v_old_parent] end;
    if not v_old_exists then
      v_old_pos := null;
    end if;
    if r.is_new then
      skipped := skipped + (not v_applied)::integer;
      l_ts := l_ts || r.ts::text;
      l_node := l_node || r.node::text;
      l_parent := l_parent || r.parent::text;
      l_pos := l_pos || r.pos::text;
      l_old_parent := l_old_parent || v_old_parent_id;
      l_old_pos := l_old_pos || v_old_pos;
      l_applied := l_applied || v_applied;
    elsif (r.old_parent, r.old_pos, r.applied)
          is distinct from (v_old_parent_id, v_old_pos, v_applied) then
      -- A redone move whose outcome changed: the log must say what really happened.
      f_ts := f_ts || r.ts::text;
      f_old_parent := f_old_parent || v_old_parent_id;
      f_old_pos := f_old_pos || v_old_pos;
      f_applied := f_applied || v_applied;
    end if;
  end loop;

  -- 4. Write back the nodes that differ from the database (only moved nodes can), and the log:
  --    the new entries, and the redone ones whose outcome changed.
  foreach v_x in array v_touched loop
    if s_exists[v_x] is distinct from db_exists[v_x]
       or s_parent[v_x] is distinct from db_parent[v_x]
       or s_pos[v_x] is distinct from db_pos[v_x] then
      if not s_exists[v_x] then
        w_gone := w_gone || s_id[v_x];
      elsif not db_exists[v_x] then
        w_new_id := w_new_id || s_id[v_x];
        w_new_parent := w_new_parent || s_id[s_parent[v_x]];
        w_new_pos := w_new_pos || s_pos[v_x];
      else
        w_moved_id := w_moved_id || s_id[v_x];
        w_moved_parent := w_moved_parent || s_id[s_parent[v_x]];
        w_moved_pos := w_moved_pos || s_pos[v_x];
      end if;
    end if;
  end loop;
  perform treesync.write_nodes(p_tree, w_gone, w_moved_id, w_moved_parent, w_moved_pos,
                               w_new_id, w_new_parent, w_new_pos);

  insert into treesync.moves (tree, ts, node, parent, pos, old_parent, old_pos, applied)
  select p_tree, l.ts, l.node, l.parent, l.pos, l.old_parent, l.old_pos, l.applied
    from unnest(l_ts, l_node, l_parent, l_pos, l_old_parent, l_old_pos, l_applied)
         as l(ts, node, parent, pos, old_parent, old_pos, applied);
  perform treesync.rewrite_log(p_tree, f_ts, f_old_parent, f_old_pos, f_applied);
end
$$;

-- The operations of a batch, validated and parsed (in batch order), or TS001 naming the first
-- bad one. Nothing is read from the tables.
create function treesync.parse_ops(p_ops jsonb, p_max_value_bytes integer)
returns treesync.op[]
language plpgsql
stable
as $$
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
$$;

-- The operations of a batch never stored before, each once (the first of a repeated ts), or
-- TS002 naming the first whose ts is repeated in the batch, or stored, with other content.
-- A ts is an operation's identity. `p_newest_stored` is the tree's newest stored ts
-- (trees.newest_ts): when the batch's oldest ts is newer, as with a replica pushing its new
-- edits, nothing is looked up; else one lookup per operation, through the (ts, tree) index
-- only: the tree is compared in a form no index can use (`(…) is true`), so the (tree, seq)
-- index is never a candidate.
create function treesync.new_ops(p_tree text, p_ops treesync.op[], p_newest_stored text)
returns treesync.op[]
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set enable_material = off
as $$
declare
  v_bad record;
  v_oldest text collate "C";
  v_new treesync.op[];
begin
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

  select min(u.ts) into v_oldest from unnest(p_ops) u;
  if p_newest_stored is null or v_oldest > p_newest_stored collate "C" then
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
$$;

-- Merges a batch of operations into a tree (contract and answer: 000002).
create or replace function treesync.apply_ops(p_tree text, p_ops jsonb)
returns jsonb
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set enable_material = off
as $$
declare
  v_max_value_bytes integer :=
    coalesce(nullif(current_setting('treesync.max_value_bytes', true), '')::integer, 65536);
  v_seq bigint;
  v_newest_stored text collate "C";
  v_ops treesync.op[];
  v_new treesync.op[];
  v_accepted integer;
  v_undone integer;
  v_skipped integer;
  v_frontier text collate "C";
  v_stale text[];
begin
  -- 1. Serialise the merges of this tree. The lock is held until commit, so two merges never
  --    interleave (interleaved cycle checks could each pass and together make a cycle), and seqs
  --    become visible in order.
  select t.seq, t.newest_ts into v_seq, v_newest_stored from treesync.trees t where t.id = p_tree for update;
  if not found then
    raise exception using
      errcode = 'TS003',
      message = format('tree %s does not exist', coalesce(quote_literal(p_tree), 'null'));
  end if;

  -- 2. Validate every operation before anything is written; keep those never stored.
  v_ops := treesync.parse_ops(p_ops, v_max_value_bytes);
  v_new := treesync.new_ops(p_tree, v_ops, v_newest_stored);
  v_accepted := cardinality(v_new);

  --    Operations older than the stability frontier can no longer arrive from a replica that
  --    is still counted: refuse them, naming them, so it re-issues its edits with fresh
  --    timestamps. (Duplicates change nothing and do not count.)
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

  -- 3. Store the new operations, in batch order, with the next seqs.
  insert into treesync.ops (tree, seq, ts, type, node, parent, pos, key, value)
  select p_tree, v_seq + row_number() over (order by o.idx), o.ts, o.type, o.node, o.parent,
         o.pos, o.key, o.value
    from unnest(v_new) o;
  if v_accepted > 0 then
    update treesync.trees
       set seq = v_seq + v_accepted,
           newest_ts = greatest(newest_ts, (select max(o.ts) from unnest(v_new) o))
     where id = p_tree;
    -- Tell listeners (every server process) at commit that the tree's seq grew.
    perform pg_notify('treesync_seq', jsonb_build_object('tree', p_tree, 'seq', v_seq + v_accepted)::text);
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

  return jsonb_build_object(
    'seq', v_seq + v_accepted,
    'accepted', v_accepted,
    'duplicates', cardinality(v_ops) - v_accepted,
    'first_seq', case when v_accepted > 0 then v_seq + 1 end,
    'undone', v_undone,
    'redone', v_undone,
    'skipped', v_skipped
  );
end
$$;
