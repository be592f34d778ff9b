-- treesync: a restore that takes a node out from under a deleted node lets that node's delete
-- be judged again (docs/deletes.md, "Decisions").
--
-- A pair (delete D of node X, edit E inside X) is judged when it meets. D may be left alone then
-- because it cannot be undone (its old parent is inside X's subtree), or its restore may later
-- be skipped by a late move (a redo that would now make a cycle). When a restore of the same
-- merge then moves that old parent out from under X, D can be undone, but restore_concurrent
-- (000009) only looked again at the edits it had gathered from the batch, the window and the
-- deleted subtrees of the batch's own deletes: E, older and elsewhere, was not among them and
-- stayed in the trash. The restore property test (test/merge/restore-property.pg.test.ts) found
-- both histories.
--
-- Now, after a pass that restored something, the nodes in the trash above the old parents of
-- its restores are looked at: those whose latest applied move is a delete have the operations
-- on their subtrees after that delete's `seen` added to the next pass's edits (a walk down by
-- nodes_parent, the operations by ops_node, one probe each). Only a restore triggers it, so a
-- merge without restores costs what it did. A move out of the trash by a replica does not: the
-- pair had been judged, and that replica's move takes out what it names (the test
-- "a delete that could not be undone when it met the edit" in test/merge/restore.pg.test.ts).
--
-- The function is 000009's, with the steps marked (**).

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
$$;
