-- treesync: the trash listing after truncation (docs/deletes.md, "The trash and undelete").
--
-- treesync.trash (000005) read each top's delete (its latest applied move into TRASH) from the
-- move log only, so once truncate_log (000006) had deleted that row the top was left out of
-- the listing, although it is still in the trash until purged. trash_times kept only when.
-- Now truncation keeps, with when, where the node was taken from (the old parent and order
-- key; the replica is part of ts), exactly what the log row said, and the listing reads the
-- log or, when the row is gone, trash_times: the same answer before and after truncation, and
-- the same as a client replica's (client/worker/trash.ts, `trash_origins`).
--
-- Rows truncated before this migration cannot be completed (the log rows are gone): their
-- old_parent and old_pos stay null, and such a top is listed with its ts but without where it
-- came from (as a node created in the trash is), and undelete puts it at the end of ROOT.

alter table treesync.trash_times
  add column old_parent text collate "C",
  add column old_pos text collate "C";

-- truncate_log of 000006, keeping the whole origin of each node's newest truncated move into
-- TRASH (not only its ts). Batches go oldest first, so a later batch's row is the newer one;
-- the `where` keeps the newest anyway.
create or replace function treesync.truncate_log(p_tree text, p_max_rows integer)
returns jsonb
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
as $$
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
$$;

-- The trash: the tops of deleted subtrees (children of TRASH), newest delete first (then by
-- id), with the delete's ts and where it took the node from (null for a node created in the
-- trash, or deleted before 000010 and truncated since), and whether that parent still exists.
-- The delete is the top's latest applied move in the log or, once truncation deleted it, what
-- trash_times kept of it. At most `p_limit` rows. One range of nodes_in_trash for the tops,
-- then per top a probe of moves_node and, only when the log has no row, of trash_times; per
-- listed top a probe of nodes for its old parent.
create or replace function treesync.trash(p_tree text, p_limit integer)
returns table (node text, ts text, old_parent text, old_pos text, parent_exists boolean)
language sql
stable
set enable_seqscan = off
set enable_bitmapscan = off
as $$
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
$$;
