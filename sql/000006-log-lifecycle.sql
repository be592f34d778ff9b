-- treesync: the log stops growing. Move-log rows older than the stability frontier F are
-- deleted (truncate_log), stored operations older than F go once no puller needs them
-- (trees.kept_seq), and trashed subtrees deleted long ago are purged (purge_trash).
--
-- Why truncation never changes a merge: an operation older than F is refused (TS005) before
-- anything is merged, and a merge only ever reads the log after its oldest new move
-- (moves_after), which is at least F. So no merge reads a row below F. F itself never moves
-- back once rows below it are gone: trees.log_from is the F the log was truncated at, and
-- frontier() is never below it (below, "frontier").

-- The F the move log was truncated at: log rows older than it are gone (null: nothing was
-- truncated). frontier() is never below it, so nothing older can be merged again.
alter table treesync.trees add column log_from text collate "C";

-- Pulls need the operations after their `since`. Operations with seq <= kept_seq may be gone
-- (truncated or purged), so a pull or push whose `since`/`seen` is below kept_seq is told to
-- bootstrap again from a snapshot. Every operation with a greater seq is kept.
alter table treesync.trees add column kept_seq bigint not null default 0;

-- The highest seq a replica said it had applied (its last pull's `since`, or the seq of the
-- snapshot it bootstrapped from); null when it never said. Operations a replica seen within
-- the retention window still needs are not deleted.
alter table treesync.replicas add column pulled bigint;

-- When each trashed node was put in the trash, for the log rows that truncation deleted:
-- the greatest ts of an applied move of the node into TRASH among the deleted rows. A purge
-- needs when a subtree was deleted, after its log row is gone.
create table treesync.trash_times (
  tree text collate "C" not null,
  node text collate "C" not null,
  ts text collate "C" not null,
  primary key (tree, node)
);

-- The retention window (setting treesync.retention, default 30 days).
create function treesync.retention()
returns interval
language sql
stable
as $$
  select coalesce(nullif(current_setting('treesync.retention', true), ''), '30 days')::interval
$$;

-- The frontier as 000002 defines it, never below the point the log was truncated at: when
-- every replica has left the retention window, or a new one registers with an old floor,
-- operations older than what was truncated are still refused.
create or replace function treesync.frontier(p_tree text)
returns text
language sql
stable
as $$
  select greatest(
    (select min(r.floor)
       from treesync.replicas r
      where r.tree = p_tree
        and r.seen_at > now() - treesync.retention()),
    (select t.log_from from treesync.trees t where t.id = p_tree))
$$;

-- Records the highest seq a replica has applied (a pull's `since`). Only for a replica already
-- noted (note_replica checks its id, floor and owner first); never moves back.
create function treesync.note_pulled(p_tree text, p_replica text, p_seq bigint)
returns void
language sql
as $$
  update treesync.replicas r
     set pulled = greatest(coalesce(r.pulled, 0), p_seq)
   where r.tree = p_tree and r.replica = p_replica
$$;

-- One batch of truncation, in the caller's transaction: locks the tree (so no merge runs
-- meanwhile), deletes at most p_max_rows log rows older than F and at most p_max_rows
-- operations that are older than F and that no puller needs, and answers
--   {frontier, moves, ops, kept_seq, more, held_ms}
-- (`more`: a batch was full, call again; `held_ms`: how long this call held the lock so far).
-- Call it in short transactions until `more` is false: each holds the lock for one batch only.
--
-- Operations: kept_seq moves forward over a prefix of seqs whose operations are all older than
-- F (an operation at or above F must stay: a retry of it must be found a duplicate), and not
-- past the smallest `pulled` of the replicas seen within the retention window (replicas that
-- never said are not waited for; a pull below kept_seq bootstraps again).
create function treesync.truncate_log(p_tree text, p_max_rows integer)
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

  -- Log rows below F, oldest first (a range of the primary key); note when trashed nodes were
  -- trashed, then delete those rows by key (`= any`: one index probe each, whatever the
  -- planner thinks of the tree's size).
  with batch as (
    select l.ts, l.node, l.parent, l.applied
      from treesync.moves l
     where l.tree = p_tree and l.ts < v_f
     order by l.ts
     limit p_max_rows
  ), trashed as (
    insert into treesync.trash_times as tt (tree, node, ts)
    select p_tree, b.node, max(b.ts)
      from batch b
     where b.applied and b.parent = 'TRASH'
     group by b.node
    on conflict (tree, node) do update set ts = greatest(tt.ts, excluded.ts)
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

-- Purges the tree's trashed subtrees whose delete is older than both the retention window and
-- F, in the caller's transaction, under the tree's lock: their nodes, their fields, their log
-- rows and trash_times rows. A subtree is purged only when nothing about it is at or above F
-- (no log row of one of its nodes, no field written at or after F), so no operation that can
-- still arrive needs what is deleted. An operation arriving later for a purged node acts as on
-- any unknown node (a move creates it alone; a set stores a field of a node that does not exist).
--
-- Replicas learn of a purge by a reset: kept_seq moves to the tree's seq, so every pull or push
-- from before the purge is told to bootstrap again, and the fresh snapshot lacks the subtree.
-- Answers {purged: tops purged, nodes, fields, moves, kept_seq}. It reads the tree's nodes and
-- log whole (a background job, daily at most), holding the tree's lock meanwhile.
create function treesync.purge_trash(p_tree text)
returns jsonb
language plpgsql
-- Joins by hash: nodes has no index by parent, and a nested loop in the recursive walk down
-- the trashed subtrees would scan the tree's nodes once per node reached (a hash of them is
-- built once and probed at every level).
set enable_nestloop = off
as $$
declare
  v_seq bigint;
  v_f text collate "C";
  v_cutoff text collate "C";
  v_tops integer;
  v_nodes integer;
  v_fields integer;
  v_moves integer;
begin
  select t.seq into v_seq from treesync.trees t where t.id = p_tree for update;
  if not found then
    raise exception using
      errcode = 'TS003',
      message = format('tree %s does not exist', coalesce(quote_literal(p_tree), 'null'));
  end if;
  v_f := treesync.frontier(p_tree);
  if v_f is null then
    return jsonb_build_object('purged', 0, 'nodes', 0, 'fields', 0, 'moves', 0, 'kept_seq', null);
  end if;
  -- A ts is older than the retention window when its wall time (its first 13 digits, ms) is.
  v_cutoff := lpad((floor(extract(epoch from now() - treesync.retention()) * 1000))::bigint::text, 13, '0');

  create temporary table if not exists purge_nodes (id text collate "C" primary key, top text collate "C")
    on commit drop;
  truncate purge_nodes;
  -- The tops: children of TRASH, with when they were put there (their last applied move into
  -- TRASH, from the log or, once truncated, from trash_times). Set-based: one pass over the
  -- tree's log and its nodes, joined by hash, never a scan per node.
  with recursive trashed_at as (
    select l.node, max(l.ts) as ts
      from treesync.moves l
     where l.tree = p_tree and l.parent = 'TRASH' and l.applied
     group by l.node
  ), tops as (
    select n.id, greatest(a.ts, tt.ts) as deleted
      from treesync.nodes n
      left join trashed_at a on a.node = n.id
      left join treesync.trash_times tt on tt.tree = p_tree and tt.node = n.id
     where n.tree = p_tree and n.parent = 'TRASH'
  ), subtree as (
    select t.id, t.id as top from tops t where t.deleted < v_f and t.deleted < v_cutoff
    union all
    select n.id, s.top from treesync.nodes n join subtree s on n.tree = p_tree and n.parent = s.id
  )
  insert into purge_nodes select id, top from subtree;
  analyze purge_nodes;

  -- Keep whole subtrees that something at or above F still touches: a log row naming one of
  -- their nodes (as node, parent or old parent), or a field written at or above F.
  delete from purge_nodes p
   where p.top in (
     select q.top
       from purge_nodes q
       join (select l.node as id from treesync.moves l where l.tree = p_tree and l.ts >= v_f
             union select l.parent from treesync.moves l where l.tree = p_tree and l.ts >= v_f
             union select l.old_parent from treesync.moves l where l.tree = p_tree and l.ts >= v_f) t
         on t.id = q.id
     union
     select q.top
       from purge_nodes q
       join treesync.fields f on f.tree = p_tree and f.node = q.id
      where f.ts >= v_f);

  select count(distinct top) into v_tops from purge_nodes;
  if v_tops = 0 then
    return jsonb_build_object('purged', 0, 'nodes', 0, 'fields', 0, 'moves', 0, 'kept_seq', null);
  end if;
  delete from treesync.nodes n using purge_nodes p where n.tree = p_tree and n.id = p.id;
  get diagnostics v_nodes = row_count;
  delete from treesync.fields f using purge_nodes p where f.tree = p_tree and f.node = p.id;
  get diagnostics v_fields = row_count;
  delete from treesync.moves l using purge_nodes p where l.tree = p_tree and l.node = p.id;
  get diagnostics v_moves = row_count;
  delete from treesync.trash_times tt using purge_nodes p where tt.tree = p_tree and tt.node = p.id;
  update treesync.trees set kept_seq = v_seq where id = p_tree;
  return jsonb_build_object('purged', v_tops, 'nodes', v_nodes, 'fields', v_fields, 'moves', v_moves,
                            'kept_seq', v_seq);
end
$$;
