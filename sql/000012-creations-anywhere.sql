-- treesync: every creation of a batch that cannot fail goes set-based, not only the leading
-- ones (issue 6, docs/merge.md "What it costs").
--
-- merge_creations (000003) merged the moves at the start of a window that create nodes, and
-- stopped at the first other move; everything after it went through window_nodes and the
-- loop. A push from an app mixes creations with moves and deletes (bench:server, 88%
-- creations): its first re-parenting came after a few dozen creations, so nine tenths of the
-- batch were loaded, looped over and written back one slot at a time, after merge_creations
-- had already looked up every move's node and parent (profiled with bench/merge-profile.ts).
--
-- Now, in a window that is not late, a move is merged set-based (merge_new_nodes) when it is
-- the first move of its node in the window, the node does not exist, and its parent exists
-- or is created that way by an earlier move of the window. Such a move is applied whatever
-- the window's other moves do: nothing before it can have put a node under the new node (a
-- move under a node that does not exist yet is skipped), so it cannot close a cycle, and a
-- node once created never stops existing unless a late window undoes it. The other moves go
-- through the loop as before, with the created nodes in the tree: each remembers when it was
-- created (s_born, as the late path's settled creations do), so a move of that window at an
-- earlier point does not see it. A walk cannot pass through such a node before it was
-- created: only a move under it, applied after it, gives it a descendant.
--
-- A batch that only re-parents would pay two lookups per move for nothing: when the first,
-- middle and last moves all move nodes that exist, the batch is taken as one without
-- creations and no move is looked up (a cost rule only: a creation left out goes through the
-- loop, with the same outcome).

-- The moves of a window (not late) that create a node and cannot fail, merged: their nodes
-- and log entries inserted. Returns their nodes and timestamps.
create function treesync.merge_new_nodes(p_tree text, p_moves treesync.op[], out nodes text[], out ts text[])
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set enable_material = off
as $$
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
$$;

-- merge_moves of 000008 with step 0 as above. Merges new moves into a tree's nodes and move
-- log (contract: 000002; the steps of 000003).
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
  -- the creations merged set-based (step 0)
  c_nodes text[] := '{}';
  c_ts text[] := '{}';
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

  -- 1. Load what the window can see.
  select w.ids, w.parents, w.poss, w.present into s_id, s_parent, s_pos, s_exists
    from treesync.window_nodes(p_tree, p_moves, v_oldest_new, v_late) w;
  v_size := cardinality(s_id);
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
    elsif not v_old_exists or v_old_parent = r.p then
      -- Creating a node (it has no descendants, so no cycle), or a new order key under the
      -- same parent.
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
         coalesce(array_agg(s.id) filter (where s.present and not s.db_present), '{}'),
         coalesce(array_agg(p.id) filter (where s.present and not s.db_present), '{}'),
         coalesce(array_agg(s.pos) filter (where s.present and not s.db_present), '{}'),
         coalesce(array_agg(s.id) filter (where s.present and s.db_present), '{}'),
         coalesce(array_agg(p.id) filter (where s.present and s.db_present), '{}'),
         coalesce(array_agg(s.pos) filter (where s.present and s.db_present), '{}')
    into w_gone, w_new_id, w_new_parent, w_new_pos, w_moved_id, w_moved_parent, w_moved_pos
    from unnest(s_id, s_exists, s_parent, s_pos, db_exists, db_parent, db_pos)
         with ordinality as s(id, present, parent, pos, db_present, db_parent, db_pos, i)
    left join unnest(s_id) with ordinality as p(id, i) on p.i = s.parent
   where (s.present, s.parent, s.pos) is distinct from (s.db_present, s.db_parent, s.db_pos)
     and (s.present or s.db_present);
  perform treesync.write_nodes(p_tree, w_gone, w_moved_id, w_moved_parent, w_moved_pos,
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

-- merge_creations (000003) has no caller now.
drop function treesync.merge_creations(text, treesync.op[]);
