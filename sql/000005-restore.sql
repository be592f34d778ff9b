-- treesync: deleting never loses concurrent work (docs/deletes.md).
--
-- 1. Knowledge. Each operation carries `seen`, the tree's seq its author had applied when it
--    made it: the operation's own `seen` field, else the batch's (apply_ops' third argument),
--    else, for the pinned 2-argument calls, the tree's seq before the batch (a caller that says
--    nothing is taken to have seen everything stored, and its batch's ops each other: such a
--    batch of ops without `seen` merges exactly as before this migration). It is stored with the operation
--    (ops.seen, capped at the seq before its batch: nobody has seen the future) and is not part
--    of an operation's identity: a duplicate with another `seen` is still a duplicate.
--
-- 2. Restore. A delete D (a move of an existing node into the trash, not from TRASH) and an
--    edit E (a set, or an applied move that is not into TRASH) are concurrent when neither author had seen the other:
--    seen(D) < seq(E) and seen(E) < seq(D). Operations of one replica are never concurrent: a
--    replica has seen its own earlier operations. After each merge, for the batch's edits and
--    deletes against the concurrent window (the ops after the batch's smallest `seen`), when
--    E's node is still inside a subtree whose top A was put where it is by a concurrent delete
--    D (A's latest applied move), the server appends a restore: a move of A back to the parent
--    and position D replaced (the move log's old_parent, old_pos), stamped later than every ts
--    of the tree, by replica `server`, stored with its own seq. Top-down: the topmost such A
--    first, then the walk starts again from E's node, so a chain of deletes concurrent with E
--    is undone and a delete that had seen E stops it.
--
-- 3. A tree may choose `deletes = 'win'` at creation (create_tree's options): no restores.

-- Storage.
alter table treesync.ops add column seen bigint;
alter table treesync.trees add column deletes text collate "C" not null default 'restore'
  check (deletes in ('restore', 'win'));
-- A node's latest applied move: one probe (restores, the trash listing).
create index moves_node on treesync.moves (tree, node, ts);
-- The tops of deleted subtrees, for the trash listing: a partial index holds only them.
create index nodes_in_trash on treesync.nodes (tree, id) where parent = 'TRASH';

-- op_problem of 000003 checks the fields an operation is made of; `seen` is checked here and
-- removed before those rules, which therefore stay word for word.
alter function treesync.op_problem(jsonb, integer) rename to op_fields_problem;

create function treesync.op_problem(p_op jsonb, p_max_value_bytes integer)
returns text
language sql
stable
parallel safe
as $$
  select case
    when jsonb_typeof(p_op) = 'object' and p_op ? 'seen'
         and not (jsonb_typeof(p_op -> 'seen') = 'number'
                  and (p_op ->> 'seen') ~ '^[0-9]{1,15}$') then
      'seen must be a non-negative integer'
    when jsonb_typeof(p_op) = 'object' then
      treesync.op_fields_problem(p_op - 'seen', p_max_value_bytes)
    else
      treesync.op_fields_problem(p_op, p_max_value_bytes)
  end
$$;

-- create_tree with options: `{"deletes": "restore"}` (the default) or `{"deletes": "win"}`.
-- Options are fixed at creation: for a tree that exists nothing changes (false).
create function treesync.create_tree(p_tree text, p_options jsonb)
returns boolean
language plpgsql
as $$
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
$$;

-- The node's latest applied move (the one that put it where it is), or no row. Ordered as
-- moves_node is, so that index (both keys equal, read backwards) is the only plan that needs
-- no sort: the primary key (tree, ts) read backwards would filter the tree's whole log.
create function treesync.latest_move(p_tree text, p_node text)
returns setof treesync.moves
language sql
stable
set enable_seqscan = off
set enable_bitmapscan = off
set enable_sort = off
as $$
  select m.* from treesync.moves m
   where m.tree = p_tree and m.node = p_node and m.applied
   order by m.tree desc, m.node desc, m.ts desc
   limit 1
$$;

-- The path from a node up to ROOT or TRASH: the node first, then its ancestors, the last one
-- being ROOT, TRASH, or a node without parent row (not existing). One probe per step, bounded.
create function treesync.path_up(p_tree text, p_node text)
returns text[]
language plpgsql
stable
set enable_seqscan = off
set enable_bitmapscan = off
as $$
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
$$;

-- Whether a node is TRASH or inside it.
create function treesync.in_trash(p_tree text, p_node text)
returns boolean
language sql
stable
as $$
  select p[cardinality(p)] = 'TRASH' from treesync.path_up(p_tree, p_node) p
$$;

-- Whether the op with seq/seen/ts `a` had seen op `b` (seq, ts): its seen reaches b's seq, or
-- both are of one replica and b is older.
create function treesync.had_seen(a_seen bigint, a_ts text, b_seq bigint, b_ts text)
returns boolean
language sql
immutable
as $$
  select a_seen >= b_seq
      or (substr(a_ts, 21) = substr(b_ts, 21) and b_ts collate "C" < a_ts collate "C")
$$;

-- A server timestamp later than `p_after` (null: none) and not behind the clock.
create function treesync.server_ts(p_after text)
returns text
language plpgsql
stable
as $$
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
$$;

-- Restores for one edit E (seq, seen, ts, node): while E's node is inside the trash and a node
-- on its path (topmost first) was put there by a delete concurrent with E, move that node
-- back, as a new operation. Returns how many restores were stored.
create function treesync.restore_for(p_tree text, p_seq bigint, p_seen bigint, p_ts text, p_node text)
returns integer
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set enable_material = off
as $$
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
$$;

-- The restores a merged batch calls for (rule: the header). The batch is seqs p_first ..
-- p_last; `p_late` when its merge undid and redid logged moves (their outcomes may have
-- changed). What is looked at:
-- - the deletes this merge placed: the batch's moves, and when late every move it redid, that
--   now stand (their node's latest applied move, into the trash, from elsewhere than TRASH);
-- - the edits: the batch's, the ops after the smallest `seen` of those deletes (the only ones
--   that can be concurrent with them), and when late the redone moves.
-- Nothing is read but the batch when its author had seen the whole tree (an up-to-date
-- replica's push).
create function treesync.restore_concurrent(p_tree text, p_first bigint, p_last bigint, p_late boolean,
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
  v_from bigint;
  v_pass integer;
  v_restored integer := 0;
  e record;
begin
  if p_last < p_first then
    return 0;
  end if;
  select min(o.seen), count(distinct substr(o.ts, 21)), min(o.ts) filter (where o.type = 'move')
    into v_min_seen, v_replicas, v_oldest_move
    from treesync.ops o where o.tree = p_tree and o.seq between p_first and p_last;
  -- An author who had seen the whole tree: nothing stored is concurrent with the batch, and its
  -- batch is not late either (a hybrid clock is past every ts it has seen), so no older pair
  -- changed. A batch given without any `seen` (`p_informed`: the pinned 2-argument form) is
  -- taken to be informed of everything, its own ops of several replicas included: it merges
  -- exactly as before restores existed.
  if v_min_seen >= p_first - 1 and (v_replicas = 1 or p_informed) then
    return 0;
  end if;

  -- The moves this merge placed (not late: exactly the batch's), those that stand as deletes,
  -- and the least that any of them had seen.
  select min(coalesce(o.seen, o.seq - 1)) into v_del_seen
    from treesync.moves m
    cross join lateral (select l.ts from treesync.latest_move(p_tree, m.node) l offset 0) l
    cross join lateral (select s.seq, s.seen from treesync.ops s
                         where s.ts = m.ts and (s.tree = p_tree) is true offset 0) o
   where m.tree = p_tree and m.ts >= v_oldest_move and m.applied and l.ts = m.ts
     and m.old_parent is not null and m.old_parent <> 'TRASH'
     and treesync.in_trash(p_tree, m.parent);
  v_from := least(coalesce(v_del_seen + 1, p_first), p_first);

  -- A restore moves a subtree, which can change what an edit looked at earlier in the pass
  -- sees: passes until one restores nothing (a fixpoint; each restore is a new op that saw
  -- everything, so this ends).
  for pass in 1 .. 100 loop
  v_pass := 0;
  for e in
    select c.seq, c.seen, c.ts, c.node
      from (select o.seq, coalesce(o.seen, o.seq - 1) as seen, o.ts, o.node, o.type, o.parent
              from treesync.ops o
             where o.tree = p_tree and o.seq between v_from and p_last
            union
            select o.seq, coalesce(o.seen, o.seq - 1), o.ts, o.node, o.type, o.parent
              from treesync.moves m
             cross join lateral (select s.* from treesync.ops s
                                  where s.ts = m.ts and (s.tree = p_tree) is true offset 0) o
             where p_late and m.tree = p_tree and m.ts >= v_oldest_move) c
     where c.type = 'set'
        or (c.parent <> 'TRASH'
            and exists (select from treesync.moves m where m.tree = p_tree and m.ts = c.ts and m.applied))
     order by c.seq
  loop
    v_pass := v_pass + treesync.restore_for(p_tree, e.seq, e.seen, e.ts, e.node);
  end loop;
  v_restored := v_restored + v_pass;
  exit when v_pass = 0;
  end loop;
  return v_restored;
end
$$;

-- Text parsing shared by the text overloads (000004's rule: TS001 with the parser's reason).
create function treesync.parse_json_ops(p_ops text)
returns jsonb
language plpgsql
immutable
as $$
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
$$;

-- Merges a batch whose author had applied the tree up to seq `p_seen` (null: the tree's seq
-- before the batch). Contract and answer as the 2-argument form (000002), plus `restored`:
-- the restores stored after the batch, with the seqs after `seq`.
create function treesync.apply_ops(p_tree text, p_ops jsonb, p_seen bigint)
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
$$;

-- The pinned forms call the one above: the 2-argument ones with no `seen` (null).
create or replace function treesync.apply_ops(p_tree text, p_ops jsonb)
returns jsonb
language sql
as $$ select treesync.apply_ops(p_tree, p_ops, null::bigint) $$;

create function treesync.apply_ops(p_tree text, p_ops text, p_seen bigint)
returns jsonb
language sql
as $$ select treesync.apply_ops(p_tree, treesync.parse_json_ops(p_ops), p_seen) $$;

-- The trash: the tops of deleted subtrees (children of TRASH), newest delete first, with the
-- delete's ts and where it took the node from (null for a node created in the trash), and
-- whether that parent still exists. At most `p_limit` rows.
create function treesync.trash(p_tree text, p_limit integer)
returns table (node text, ts text, old_parent text, old_pos text, parent_exists boolean)
language sql
stable
set enable_seqscan = off
set enable_bitmapscan = off
as $$
  select n.id, m.ts, m.old_parent, m.old_pos,
         exists (select from treesync.nodes p where p.tree = p_tree and p.id = m.old_parent)
    from treesync.nodes n
    cross join lateral (select * from treesync.latest_move(p_tree, n.id) offset 0) m
   where n.tree = p_tree and n.parent = 'TRASH'   -- nodes_in_trash
   order by m.ts collate "C" desc
   limit p_limit
$$;
