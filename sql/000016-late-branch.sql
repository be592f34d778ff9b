-- treesync: a late branch costs in proportion to what it undoes and redoes (issue 6,
-- docs/merge.md "What it costs").
--
-- A late branch of 5,000 moves older than 100,000 logged ones (bench:merge (e)) took 3.8 s on a
-- quiet machine, and five times the size cost about nine times the time. Measured with
-- auto_explain on a copy (Postgres 18, one push of 11 s there): 9 s went to the undo's one
-- statement, which joined the logged moves with the window's ids three times (node, parent,
-- old parent; `unnest(s_id)` each). The planner multiplies the row estimates of such joins
-- (no statistics on arrays: 20,454 × 85,002 × 85,002 × … × 0.005 each), so the hash join on
-- top expected 3.7 billion rows, split its hash table into 4,096 batches on disk and spent
-- 5 s writing and 5 s reading them for 80,642 rows. The estimate grows with the cube of the
-- window, hence the superlinear cost. The loop's query had the same shape (1.9 trillion rows
-- expected, 25,000 read; in memory only because its inner sides were plain arrays).
--
-- Now no statement of the merge joins moves with the window's ids: window_nodes returns the
-- slot of every id it was handed, the late path reads the logged moves once (they were read
-- four times) and does the undo, the test of what cannot change and the loop by slot
-- (integers, one hash of plain arrays at most per statement). The undo sorts once (Postgres 15
-- sorted the input of each of its five ordered aggregates), and the test of what cannot change
-- compares the new moves' ids and the skipped logged moves only. Measured, same copy: the push
-- of 11 s took 1.9–2.8 s of backend CPU; docs/merge.md, "A late branch (000016)".

drop function treesync.window_nodes(text, treesync.op[], text, boolean, text[], out text[], out integer[], out text[], out boolean[], out tid[]);

-- window_nodes of 000015, handed the ids the logged moves name (`p_logged`) instead of reading
-- the log itself, and returning the slot of every id it was handed (`name_slots`): the new
-- moves' nodes, then their parents, then `p_logged`, in that order (0 for a null), so the merge
-- needs no join of the window's ids with the moves' (each such join hashes the whole window;
-- chained in one statement, their row estimates multiplied into billions and the hash join of
-- the undo split into 4,096 batches on disk: 9 of 11 s of a late branch of 5,000 moves).
-- From 000015: each loaded row's address (`ctids`, null for the slots of ids not loaded), and
-- walks that start from the parents of the loaded nodes they start at. From 000013:
-- `p_no_walk`, nodes the window moves whose moves start no walk (not late only).
-- The part of a tree a window of moves can see (the contract of load_window, 000003, without
-- its jsonb map: slots are places in `ids`). Slot 0 is "none"; `parents` holds slots, -1 for a
-- node loaded only as someone's parent, which no walk may pass.
create function treesync.window_nodes(p_tree text, p_moves treesync.op[], p_logged text[], p_late boolean,
                                      p_no_walk text[],
                                      out ids text[], out parents integer[], out poss text[],
                                      out present boolean[], out ctids tid[], out name_slots integer[])
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = on
set enable_mergejoin = off
set enable_nestloop = off
set work_mem = '64MB'
as $$
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
$$;


-- merge_moves of 000015, with the late path's bookkeeping done by slot (above; the steps are
-- those of docs/merge.md). From 000015: nodes written back at the addresses window_nodes loaded
-- them from. From 000013: the moves of nodes that have no descendants are applied without a
-- walk. Merges new moves into a tree's nodes and move log (contract: 000002; the steps of
-- 000003).
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
$$;
