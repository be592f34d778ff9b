-- treesync: the purge in short batches (docs/lifecycle.md, "Purge"), and the restore check of a
-- pusher that is behind read by probes (docs/deletes.md, "Cost"; at the end of this file).
--
-- 000006's purge_trash walked every trashed subtree in one transaction, reading the tree's
-- nodes (no index by parent) and its log whole, so it held the tree's lock for seconds on a
-- large tree. Here a call purges one batch of subtrees, found and checked by index probes:
--   - the tops are read from nodes_in_trash (000005), after a cursor, in id order;
--   - when a top was deleted: its latest applied move (moves_node), else trash_times;
--   - its subtree: a walk down nodes_parent (below), one probe per node;
--   - what still touches it: its nodes' log rows (moves_node), their fields (the primary key),
--     and the log from the frontier on (moves written at or after F: the only ones a late
--     operation can still undo), which truncation keeps short.
-- The caller runs batches until `more` is false, each its own transaction.

-- Children by parent: the purge's walk down a trashed subtree. The merge never reads by
-- parent; it pays one more index entry per node created or re-parented (measured in
-- docs/lifecycle.md, "What the index costs the merge"). Parent first: an index led by the tree
-- alone would look, to a planner without statistics, as good a way as the primary key to find
-- a tree's nodes by a list of ids (`id = any (…)`), and read the whole tree.
create index nodes_parent on treesync.nodes (parent, tree);

drop function treesync.purge_trash(text);

-- One batch of the purge, in the caller's transaction: under the tree's lock, the trashed
-- subtrees after top `p_after` (null: from the first), in top id order, until about
-- `p_max_nodes` nodes were walked (a batch holds at least one whole subtree, so a single
-- subtree larger than that is purged whole) or `p_max_nodes` tops were looked at.
--
-- A subtree goes when its delete (the move that put its top in TRASH) is older than both the
-- retention window and F, and nothing about it is at or above F: no log row at or above F
-- names one of its nodes (as node, parent or old parent) and no field of one of its nodes was
-- written at or after F. Its nodes, fields, log rows and trash_times rows are deleted, and
-- kept_seq moves to the tree's seq (every replica from before bootstraps again).
--
-- Answers {purged, nodes, fields, moves, kept_seq (null when nothing went), after (the
-- cursor for the next call), more, held_ms}.
create function treesync.purge_trash(p_tree text, p_max_nodes integer, p_after text)
returns jsonb
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
as $$
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
$$;

-- The operations of a node, for the restore check of a pusher that is behind (its function is
-- sql/000009-restore-set-based.sql's restore_concurrent).
-- (node first, as nodes_parent above: never a candidate for the merge's lookups by tree)
create index ops_node on treesync.ops (node, tree, seq);
