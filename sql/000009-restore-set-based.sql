-- treesync: the restore check of a merge (000005) asks "is this node in the trash?" once for a
-- whole set of nodes, sharing the walk up, instead of once per operation.
--
-- Why: after a batch whose author had not seen the whole tree (any push that meets others: a
-- group of pushes merged as one batch always), restore_concurrent looked at every edit of the
-- concurrent window with restore_for, whose first step walks from the edit's node up to ROOT
-- (path_up, one probe per level), only to stop there for nearly all of them: an edit needs a
-- restore only when its node is in the trash. With 32 writers on one tree that walk was 95% of
-- the time of a push (bench:server, BENCH_PROFILE=1).
--
-- Now the nodes of the window's edits (and the new parents of its moves) are walked up
-- together, level by level, each node probed once however many of them share it, and only the
-- edits whose node is in the trash go on to restore_for. The outcome is the same: a restore
-- moves a node that is in the trash, and with it only nodes inside the trash, so a node that is
-- not in the trash when a pass starts is not in it at any point of the pass (the check is made
-- again at the start of each pass).

-- The edges from `p_nodes` up to ROOT or TRASH: each distinct node and ancestor probed once,
-- by key (a lateral that cannot be flattened), level by level (the parents not read yet are
-- the next level; a node without a row ends its path). `ids[i]`'s parent is `parents[i]`.
create function treesync.ancestry(p_tree text, p_nodes text[], out ids text[], out parents text[])
language plpgsql
stable
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = on
set enable_hashagg = on
as $$
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
$$;

-- Which of `p_nodes` are TRASH or inside it now (in no particular order): down from TRASH over
-- the edges of their ancestry, in memory, where hashing is the right plan (the callers turn it
-- off for their table reads, so it is turned on here by name).
create function treesync.in_trash_among(p_tree text, p_nodes text[])
returns text[]
language sql
stable
set enable_hashjoin = on
set enable_hashagg = on
as $$
  with recursive edge(id, parent) as (
    select e.id collate "C", e.parent collate "C"
      from treesync.ancestry(p_tree, p_nodes) a, unnest(a.ids, a.parents) e(id, parent)
  ), below(id) as (
    select 'TRASH'::text collate "C"
    union
    select e.id from edge e join below b on e.parent = b.id
  )
  select array(select b.id from below b where b.id in (select n collate "C" from unnest(p_nodes) n))
$$;

-- For each edit (node, replica, seen) of a restore pass: whether restore_for can act on it,
-- that is whether some node on its path below TRASH (itself included) was put there by its
-- latest applied move, from elsewhere than TRASH, and that move was made by another replica
-- with a seq above the edit's `seen` (restore_for's "delete" that can be concurrent with the
-- edit: a replica has seen its own earlier operations, and an edit has seen the seqs up to
-- its `seen`). A superset of the edits restore_for restores for; false only where it would
-- find nothing. The latest moves are read only for the nodes in the trash on those paths.
create function treesync.restore_suspects(p_tree text, p_nodes text[], p_replicas text[], p_seen bigint[])
returns boolean[]
language plpgsql
stable
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = on
set enable_hashagg = on
set enable_sort = off
as $$
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
$$;

-- 000005's restore_concurrent with two changes.
--
-- 1. A pusher that is behind (docs/deletes.md, "Cost"). restore_concurrent of 000005 looked at
-- every operation after the smallest `seen` of the batch's deletes, and walked each one's path
-- up: a push whose `seen` is far behind read rows by the thousand per operation stored since.
-- Only edits inside a subtree that one of the batch's deletes put in the trash can be restored
-- by those deletes (an older edit's pairs with older deletes were checked when the later of
-- the two was merged), so those are now found from the subtrees: a walk down each deleted
-- node's subtree (nodes_parent) and the operations on its nodes in the window (ops_node), one
-- probe each. When the subtrees hold more nodes than the window holds operations, the window
-- is read as before: whichever is smaller.
--
-- 2. (*) The steps marked so ask "is this node in the trash?" once for a whole set of nodes
-- (in_trash_among, restore_suspects above): the same deletes, the same edits, in the same
-- order, each pass skipping only the edits whose node is not in the trash (restore_for would
-- have stopped at its first step for them).
create or replace function treesync.restore_concurrent(p_tree text, p_first bigint, p_last bigint, p_late boolean,
                                                        p_informed boolean)
returns integer
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set enable_material = off
as $$
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
           where p_late and m.tree = p_tree and m.ts >= v_oldest_move) c
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
  end loop;
  return v_restored;
end
$$;
