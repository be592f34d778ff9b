-- treesync: a move's rows are looked up once per batch (issue 6, docs/merge.md "Where the time
-- of a batch goes").
--
-- Profiled with bench/merge-profile.ts, a batch of 1,000 re-parenting moves on a random tree
-- of 200,000 nodes looked the same rows up more than once:
--
-- * window_nodes loads the nodes the window names (the moved nodes and their new parents),
--   then walks up from the new parents with ancestors_of, which starts by looking those
--   parents up again: about 500 of the ~3,500 lookups of the walk (measured on a copy,
--   EXPLAIN (ANALYZE, BUFFERS): 14,126 buffers for 3,031 rows). The walk now starts from the
--   parents of the loaded nodes.
-- * write_nodes looks up every node it updates or deletes to find its row's address
--   (node_ctids), although the merge loaded that very row: 1,000 lookups for 1,000 moves. The
--   window now keeps each loaded row's address, and the write-back uses it. The tree's lock
--   (apply_ops, merge_moves) is held from the load to the write, and nothing writes a node in
--   between, so the address still holds the row; the write checks the id at the address and
--   the count of rows written all the same, as write_nodes does.

-- The rows of a tree's nodes with these ids and of all their ancestors, each once, with their
-- addresses: ancestors_of (000003) with ctid.
create function treesync.ancestor_rows(p_tree text, p_ids text[])
returns table (ctid tid, id text, parent text, pos text)
language sql
stable
as $$
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
$$;

-- Writes nodes back by row address (write_nodes of 000003 without its lookups): deletes the
-- rows at `p_gone_at` (nodes `p_gone`), updates those at `p_moved_at` (nodes `p_moved_id`) to
-- their new parent and order key, inserts `p_new_*`. The caller read those rows under the
-- tree's lock and has written no node since. A row whose id is not the one expected at its
-- address is not written, and then the count of rows written says so (a bug).
create function treesync.write_nodes_at(p_tree text, p_gone_at tid[], p_gone text[],
                                        p_moved_at tid[], p_moved_id text[], p_moved_parent text[], p_moved_pos text[],
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
$$;

drop function treesync.window_nodes(text, treesync.op[], text, boolean, text[]);

-- window_nodes of 000013, with each loaded row's address (`ctids`, null for the slots of ids not
-- loaded), and walks that start from the parents of the loaded nodes they start at (those nodes
-- are loaded already). From 000013: `p_no_walk`, nodes the window moves whose moves start no
-- walk (not late only).
-- The part of a tree a window of moves can see (the contract of load_window, 000003, without
-- its jsonb map: slots are places in `ids`). Slot 0 is "none"; `parents` holds slots, -1 for a
-- node loaded only as someone's parent, which no walk may pass.
create function treesync.window_nodes(p_tree text, p_moves treesync.op[], p_oldest_new text, p_late boolean,
                                      p_no_walk text[],
                                      out ids text[], out parents integer[], out poss text[],
                                      out present boolean[], out ctids tid[])
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = on
set enable_mergejoin = off
set enable_nestloop = off
set work_mem = '64MB'
as $$
declare
  v_names text[];
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
  -- window is late, also the logged moves' nodes, parents and replaced parents.
  v_names := array(select x.id
                     from (select unnest(array[m.node, m.parent]) as id from unnest(p_moves) m
                           union all
                           select unnest(array[l.node, l.parent, l.old_parent])
                             from treesync.moves_after(p_tree, p_oldest_new) l where p_late) x
                    where x.id is not null);

  -- A late window starts a walk at every id it names. When it names many ids for the size of
  -- its tree, their ancestors are most of the tree: the whole tree (one range of the primary
  -- key, at most two rows per name, counted first within that bound) costs less than walks.
  if p_late then
    select count(*) into v_tree_nodes
      from (select from treesync.nodes n where n.tree = p_tree limit 2 * cardinality(v_names) + 1) x;
  end if;
  if p_late and v_tree_nodes <= 2 * cardinality(v_names) then
    select coalesce(array_agg(n.id), '{}'), coalesce(array_agg(n.parent), '{}'), coalesce(array_agg(n.pos), '{}'),
           coalesce(array_agg(n.ctid), '{}')
      into ids, v_parent_ids, poss, ctids
      from treesync.nodes n
     where n.tree = p_tree;
    v_stubs := '{}';  -- every parent is in the tree
    select coalesce(array_agg(distinct u.id), '{}') into v_missing
      from unnest(v_names, treesync.slots_of(ids, v_names)) as u(id, x)
     where u.x = 0;
  else
    select coalesce(array_agg(x.id), '{}') into v_named
      from (select k.id from unnest(v_names) k(id) group by k.id) x;
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
end
$$;


-- merge_moves of 000013, writing nodes back at the addresses window_nodes loaded them from
-- (write_nodes_at, above). From 000013: the moves of nodes that have no descendants are applied
-- without a walk. Merges new moves into a tree's nodes and move log (contract: 000002; the
-- steps of 000003).
-- Kleppmann et al. (2021): apply all moves in timestamp order; a move is skipped when its
-- parent does not exist at that point or when the node is its parent or one of its ancestors.
-- New moves older than logged ones (late) undo the logged moves after the oldest new one,
-- which are then redone with the new ones in timestamp order.
create or replace function treesync.merge_moves(p_tree text, p_moves treesync.op[],
                                                out undone integer, out skipped integer)
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = on
set enable_mergejoin = off
set enable_nestloop = off
set work_mem = '64MB'
as $$
declare
  v_oldest_new text collate "C";
  v_late boolean;
  -- the window's part of the tree (window_nodes): s_* as it is being computed, db_* as stored
  s_id text[];
  s_parent integer[];
  s_pos text[];
  s_exists boolean[];
  s_born text[] := '{}';
  s_ctid tid[];  -- the address of each loaded node's row
  -- the creations merged set-based (step 0)
  c_nodes text[] := '{}';
  c_ts text[] := '{}';
  -- (not late) the nodes the window moves that have no descendants in it, and by slot
  v_leaves text[] := '{}';
  s_leaf boolean[] := '{}';
  v_all boolean := true;
  v_before boolean[];  -- (late) whether the node existed before the window
  v_f text[];
  v_c text[];
  v_w_node text[];
  v_w_parent text[];
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

  -- 1. Load what the window can see. A node the window moves that has no child, and under
  --    which none of its moves puts anything, has no descendants at any point of the window:
  --    no move of it can close a cycle, so none needs a walk (nor its ancestors loaded).
  if not v_late then
    v_leaves := treesync.childless(p_tree, array(select m.node from unnest(p_moves) m
                                                 except select m.parent from unnest(p_moves) m));
  end if;
  select w.ids, w.parents, w.poss, w.present, w.ctids into s_id, s_parent, s_pos, s_exists, s_ctid
    from treesync.window_nodes(p_tree, p_moves, v_oldest_new, v_late, v_leaves) w;
  v_size := cardinality(s_id);
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
  if v_late then
    select array_agg(case when u.x is null then s.parent when u.old_parent is null then u.p else u.op end order by s.i),
           array_agg(case when u.x is null then s.pos when u.old_parent is null then u.pos else u.old_pos end order by s.i),
           array_agg(s.present and u.x is null or u.x is not null order by s.i),
           array_agg(case when u.old_parent is null then u.ts end order by s.i),
           array_agg(case when u.x is null then s.present else u.old_parent is not null end order by s.i)
      into s_parent, s_pos, s_exists, s_born, v_before
      from unnest(s_parent, s_pos, s_exists) with ordinality as s(parent, pos, present, i)
      left join (select x.i as x, p.i::integer as p, op.i::integer as op, f.old_parent, f.old_pos, f.pos, f.ts
                   from (select distinct on (l.node) l.node, l.parent, l.pos, l.old_parent, l.old_pos, l.ts
                           from (select * from treesync.moves_after(p_tree, v_oldest_new) offset 0) l
                          where l.applied
                          order by l.node, l.ts) f
                   join unnest(s_id) with ordinality as x(id, i) on x.id = f.node
                   join unnest(s_id) with ordinality as p(id, i) on p.id = f.parent
                   left join unnest(s_id) with ordinality as op(id, i) on op.id = f.old_parent) u
        on u.x = s.i;

    -- F and C by slot; the sets are compared by slots_of (hash joins: no join here may become
    -- a nested loop of window × window).
    select array_agg(l.node), array_agg(l.parent) into v_w_node, v_w_parent
      from treesync.moves_after(p_tree, v_oldest_new) l;
    undone := cardinality(v_w_node);
    select coalesce(array_agg(u.node) filter (where not v_before[u.x]), '{}') into v_f
      from unnest(array(select m.node from unnest(p_moves) m),
                  treesync.slots_of(s_id, array(select m.node from unnest(p_moves) m))) as u(node, x);
    select coalesce(array_agg(u.node) filter (where not v_before[u.x]), '{}') into v_c
      from unnest(v_w_node, treesync.slots_of(s_id, v_w_node)) as u(node, x);
    v_all := 0 < any(treesync.slots_of(v_f, v_w_node || v_w_parent))
             or 0 < any(treesync.slots_of(v_c, array(select unnest(array[m.node, m.parent]) from unnest(p_moves) m)));
    if v_all then
      select array_agg(case when s.before then s.parent else 0 end order by s.i),
             array_agg(case when s.before then s.pos else '' end order by s.i)
        into s_parent, s_pos
        from unnest(s_parent, s_pos, v_before) with ordinality as s(parent, pos, before, i);
      s_exists := v_before;
      s_born := '{}';
    end if;
  end if;

  -- 3. Apply the new moves and redo the undone ones (those 2b did not settle), in timestamp
  --    order (the model's loop). Each move comes with its node, parent and logged old parent
  --    as slots.
  for r in
    select w.ts, x.i::integer as x, p.i::integer as p, w.pos, o.i::integer as old_parent, w.old_pos, w.applied, w.is_new
      from (select l.ts, l.node, l.parent, l.pos, l.old_parent, l.old_pos, l.applied, false as is_new
              from treesync.moves_after(p_tree, v_oldest_new) l
             where v_late and (v_all or l.old_parent is not null)
            union all
            select m.ts, m.node, m.parent, m.pos, null, null, null, true
              from unnest(p_moves) m) w
      join unnest(s_id) with ordinality as x(id, i) on x.id = w.node
      join unnest(s_id) with ordinality as p(id, i) on p.id = w.parent
      left join unnest(s_id) with ordinality as o(id, i) on o.id = w.old_parent
     order by w.ts
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
$$;
