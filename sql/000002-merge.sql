-- treesync: the merge, as functions any SQL client can call.
--
-- Errors are raised with the project's own SQLSTATE codes (class TS); `detail` holds a JSON
-- object with machine-readable facts (the index of the bad operation, its ts). The server maps
-- them to protocol error codes in one place (protocol/errors.ts):
--   TS001 invalid_op      an operation is malformed (detail: index)
--   TS002 ts_conflict     a ts is already stored, or repeated in the batch, with other content
--   TS003 tree_not_found  no such tree
--   TS004 invalid_tree_id a tree id is not [A-Za-z0-9_-]{1,64}

-- What is wrong with one operation, as a sentence, or null when it is valid.
-- `p_max_value_bytes` bounds the serialised size of a `set` value. One expression without
-- sub-selects, and stable like format(), so that Postgres inlines it into the query that
-- validates a batch instead of calling it once per operation. The patterns have no counted
-- repetitions ({1,64}): Postgres' regex engine makes those several times slower, so lengths
-- and the fixed '.' positions of a timestamp are checked apart.
create function treesync.op_problem(p_op jsonb, p_max_value_bytes integer)
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
        when p_op - '{ts,type,node,key,value}'::text[] <> '{}'::jsonb then
          'a set has only the fields ts, type, node, key, value'
      end
    else
      'type must be "move" or "set"'
  end
$$;

-- Creates a tree with its ROOT and TRASH. True when it was created, false when it existed
-- (then nothing changes).
create function treesync.create_tree(p_tree text)
returns boolean
language plpgsql
as $$
begin
  if p_tree is null or not (p_tree collate "C" ~ '^[A-Za-z0-9_-]{1,64}$') then
    raise exception using
      errcode = 'TS004',
      message = format('tree id %s is not [A-Za-z0-9_-]{1,64}', coalesce(quote_literal(p_tree), 'null'));
  end if;

  insert into treesync.trees (id) values (p_tree) on conflict do nothing;
  if not found then
    return false;
  end if;

  insert into treesync.nodes (tree, id, parent, pos)
  values (p_tree, 'ROOT', null, ''), (p_tree, 'TRASH', null, '');
  return true;
end
$$;

-- Merges a batch of operations into a tree: atomically (it raises, and so stores nothing, or
-- stores the whole batch) and safely under concurrency (merges of one tree are serialised).
--
-- The result is a pure function of the set of operations stored: moves are applied in
-- timestamp order, each skipped when its parent does not exist at that point or when it would
-- make a cycle; when a move arrives late, the moves after it are undone, it is applied, and they
-- are redone (Kleppmann et al. 2021). Sets are last-writer-wins per (node, key).
--
-- Returns {seq, accepted, duplicates, first_seq, undone, redone, skipped}:
--   seq        the tree's seq after the batch
--   accepted   operations stored now (they have seqs first_seq .. seq)
--   duplicates operations of the batch that were stored already (or repeated in the batch)
--   undone     moves undone because an older one arrived (they were redone too: `redone`)
--   skipped    moves of this batch that were skipped (parent missing, or a cycle)
create function treesync.apply_ops(p_tree text, p_ops jsonb)
returns jsonb
language plpgsql
-- Every statement here reads one tree's rows by key, and PL/pgSQL keeps each statement's plan
-- for the session: a plan made while a table was small or its statistics stale (a sequential
-- scan, a hash join, a materialised scan of the whole tree) would be kept as it grows to
-- millions of rows, and each move would then read the whole tree. Lookups by key are right at
-- every size, so these settings leave the planner nothing else: nested loops over the batch
-- (or the walk up the tree) with an index lookup per row.
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
  v_bad record;
  v_ops treesync.op[];
  v_new treesync.op[];
  v_accepted integer;
  v_oldest_new text collate "C";
  v_newest_logged text collate "C";
  v_undone integer := 0;
  -- nodes created in bulk by this batch (5a), with the ts of their creation
  v_created jsonb := '{}';
  v_skipped integer := 0;
  r record;
  v_found boolean;
  v_old_parent text collate "C";
  v_old_pos text collate "C";
  v_applied boolean;
  v_parent_exists boolean;
  v_cycle boolean;
  -- the new log entries, written in one statement after the loop
  v_log_ts text[] := '{}';
  v_log_node text[] := '{}';
  v_log_parent text[] := '{}';
  v_log_pos text[] := '{}';
  v_log_old_parent text[] := '{}';
  v_log_old_pos text[] := '{}';
  v_log_applied boolean[] := '{}';
begin
  -- 1. Serialise the merges of this tree. The lock is held until commit, so two merges never
  --    interleave (interleaved cycle checks could each pass and together make a cycle), and seqs
  --    become visible in order.
  select t.seq into v_seq from treesync.trees t where t.id = p_tree for update;
  if not found then
    raise exception using
      errcode = 'TS003',
      message = format('tree %s does not exist', coalesce(quote_literal(p_tree), 'null'));
  end if;

  -- 2. Validate every operation before anything is written; name the first bad one.
  if p_ops is null or jsonb_typeof(p_ops) <> 'array' then
    raise exception using
      errcode = 'TS001',
      message = 'operations must be a JSON array';
  end if;

  select e.idx - 1 as idx, e.op
    into v_bad
    from jsonb_array_elements(p_ops) with ordinality as e(op, idx)
   where treesync.op_problem(e.op, v_max_value_bytes) is not null
   order by e.idx
   limit 1;
  if found then
    raise exception using
      errcode = 'TS001',
      message = format('operation %s: %s', v_bad.idx,
                       treesync.op_problem(v_bad.op, v_max_value_bytes)),
      detail = jsonb_build_object('index', v_bad.idx)::text;
  end if;

  select coalesce(array_agg(row(
           e.idx - 1, e.op ->> 'ts', e.op ->> 'type', e.op ->> 'node', e.op ->> 'parent',
           e.op ->> 'pos', e.op ->> 'key',
           case when e.op ->> 'type' = 'set' then e.op -> 'value' end
         )::treesync.op order by e.idx), '{}')
    into v_ops
    from jsonb_array_elements(p_ops) with ordinality as e(op, idx);

  -- 3. A ts is an operation's identity: the same ts again with the same content is a duplicate,
  --    with other content a conflict (within the batch, or with what is stored).
  select o.idx, o.ts, 'is repeated in the batch with other content' as why
    into v_bad
    from (select u.idx, u.ts, u.type, u.node, u.parent, u.pos, u.key, u.value,
                 first_value(u) over (partition by u.ts order by u.idx) as f
            from unnest(v_ops) u) o
   where (o.type, o.node, o.parent, o.pos, o.key, o.value)
         is distinct from ((o.f).type, (o.f).node, (o.f).parent, (o.f).pos, (o.f).key, (o.f).value)
   order by o.idx
   limit 1;
  if not found then
    -- (a lateral subquery that cannot be flattened: one lookup by key per operation)
    select o.idx, o.ts, 'is already stored with other content' as why
      into v_bad
      from unnest(v_ops) o
      cross join lateral (
        select s.* from treesync.ops s where s.tree = p_tree and s.ts = o.ts offset 0
      ) s
     where (o.type, o.node, o.parent, o.pos, o.key, o.value)
           is distinct from (s.type, s.node, s.parent, s.pos, s.key, s.value)
     order by o.idx
     limit 1;
  end if;
  if found then
    raise exception using
      errcode = 'TS002',
      message = format('operation %s: ts %s %s', v_bad.idx, v_bad.ts, v_bad.why),
      detail = jsonb_build_object('index', v_bad.idx, 'ts', v_bad.ts)::text;
  end if;

  select coalesce(array_agg(row(o.*)::treesync.op order by o.idx), '{}')
    into v_new
    from (select distinct on (u.ts) u.* from unnest(v_ops) u order by u.ts, u.idx) o
   where not exists (select from treesync.ops s where s.tree = p_tree and s.ts = o.ts);
  v_accepted := cardinality(v_new);

  -- 4. Store the new operations, in batch order, with the next seqs.
  insert into treesync.ops (tree, seq, ts, type, node, parent, pos, key, value)
  select p_tree, v_seq + row_number() over (order by o.idx), o.ts, o.type, o.node, o.parent,
         o.pos, o.key, o.value
    from unnest(v_new) o;
  if v_accepted > 0 then
    update treesync.trees set seq = v_seq + v_accepted where id = p_tree;
    -- Tell listeners (every server process) at commit that the tree's seq grew.
    perform pg_notify('treesync_seq', jsonb_build_object('tree', p_tree, 'seq', v_seq + v_accepted)::text);
  end if;

  -- 5. Moves. When the oldest new move is older than the newest logged one, undo every logged
  --    move after it. Undoing them one by one in reverse order would restore each node to where
  --    its first applied move after that point found it, so do exactly that, once per node
  --    (a node whose first such move created it did not exist then).
  select min(o.ts) into v_oldest_new from unnest(v_new) o where o.type = 'move';
  if v_oldest_new is not null then
    select max(m.ts) into v_newest_logged from treesync.moves m where m.tree = p_tree;
    if v_newest_logged is null or v_newest_logged < v_oldest_new then
      -- 5a. Nothing to undo: every new move comes after the log. Then a node that exists keeps
      --     existing, so a move that creates a node under a parent that already exists is
      --     applied whatever else the batch does (a new node has no descendants: no cycle).
      --     Apply those creations in bulk, the common case of a growing tree. The loop below
      --     does the rest; to it, such a node exists only from its creation's ts on.
      with creation as materialized (
        select c.ts, c.node, c.parent, c.pos
          from (select o.ts, o.node, o.parent, o.pos, count(*) over (partition by o.node) as moves
                  from unnest(v_new) o
                 where o.type = 'move') c
         where c.moves = 1
           and not exists (select from treesync.nodes n where n.tree = p_tree and n.id = c.node)
           and exists (select from treesync.nodes n where n.tree = p_tree and n.id = c.parent)
      ), created as (
        insert into treesync.nodes (tree, id, parent, pos)
        select p_tree, c.node, c.parent, c.pos from creation c order by c.node
      ), logged as (
        insert into treesync.moves (tree, ts, node, parent, pos, old_parent, old_pos, applied)
        select p_tree, c.ts, c.node, c.parent, c.pos, null, null, true from creation c order by c.ts
      )
      select coalesce(jsonb_object_agg(c.node, c.ts), '{}') into v_created from creation c;
    else
      for r in
        select distinct on (m.node) m.node, m.old_parent, m.old_pos
          from treesync.moves m
         where m.tree = p_tree and m.ts > v_oldest_new and m.applied
         order by m.node, m.ts
      loop
        if r.old_parent is null then
          delete from treesync.nodes n where n.tree = p_tree and n.id = r.node;
        else
          update treesync.nodes n set parent = r.old_parent, pos = r.old_pos
           where n.tree = p_tree and n.id = r.node;
        end if;
      end loop;

      select count(*) into v_undone from treesync.moves m
       where m.tree = p_tree and m.ts > v_oldest_new;
    end if;

    -- 6. Apply the new moves and redo the undone ones, all in timestamp order.
    for r in
      select m.ts, m.node, m.parent, m.pos, m.old_parent, m.old_pos, m.applied, false as is_new
        from treesync.moves m
       where v_undone > 0 and m.tree = p_tree and m.ts > v_oldest_new
      union all
      select o.ts, o.node, o.parent, o.pos, null, null, null, true
        from unnest(v_new) o
       where o.type = 'move' and not v_created ? o.node
      order by 1
    loop
      select n.parent, n.pos into v_old_parent, v_old_pos
        from treesync.nodes n where n.tree = p_tree and n.id = r.node;
      v_found := found;
      v_applied := false;

      if r.node = r.parent then
        -- A node under itself: the smallest cycle.
        null;
      elsif not v_found then
        -- Creating a node: it has no descendants yet, so only its parent's existence matters.
        if not coalesce(v_created ->> r.parent > r.ts, false) then
          insert into treesync.nodes (tree, id, parent, pos)
          select p_tree, r.node, r.parent, r.pos
           where exists (select from treesync.nodes n where n.tree = p_tree and n.id = r.parent);
          v_applied := found;
        end if;
      elsif v_old_parent = r.parent then
        -- Staying under the same parent cannot make a cycle: only the order key changes.
        update treesync.nodes n set pos = r.pos where n.tree = p_tree and n.id = r.node;
        v_applied := true;
      else
        -- Walk up from the new parent: the move is skipped if the parent does not exist or if
        -- the node is found on the way (it would become its own ancestor). The tree has no
        -- cycle, so the walk ends after ROOT or TRASH (a null id); no depth limit. Each step is
        -- a scalar subquery: one lookup by key, whatever the planner thinks of the table.
        with recursive up(id) as (
          select n.id from treesync.nodes n where n.tree = p_tree and n.id = r.parent
          union all
          select (select n.parent from treesync.nodes n where n.tree = p_tree and n.id = up.id)
            from up
           where up.id <> r.node
        )
        select count(*) > 0, coalesce(bool_or(up.id = r.node), false)
          into v_parent_exists, v_cycle
          from up;
        if v_parent_exists and not v_cycle
           and not coalesce(v_created ->> r.parent > r.ts, false) then
          update treesync.nodes n set parent = r.parent, pos = r.pos
           where n.tree = p_tree and n.id = r.node;
          v_applied := true;
        end if;
      end if;

      if not v_found then
        v_old_parent := null;
        v_old_pos := null;
      end if;
      if r.is_new then
        v_skipped := v_skipped + (not v_applied)::integer;
        v_log_ts := v_log_ts || r.ts::text;
        v_log_node := v_log_node || r.node::text;
        v_log_parent := v_log_parent || r.parent::text;
        v_log_pos := v_log_pos || r.pos::text;
        v_log_old_parent := v_log_old_parent || v_old_parent::text;
        v_log_old_pos := v_log_old_pos || v_old_pos::text;
        v_log_applied := v_log_applied || v_applied;
      elsif (r.old_parent, r.old_pos, r.applied) is distinct from (v_old_parent, v_old_pos, v_applied) then
        -- A redone move whose outcome changed: the log must say what really happened.
        update treesync.moves m
           set old_parent = v_old_parent, old_pos = v_old_pos, applied = v_applied
         where m.tree = p_tree and m.ts = r.ts;
      end if;
    end loop;

    -- 7. Log the new moves.
    insert into treesync.moves (tree, ts, node, parent, pos, old_parent, old_pos, applied)
    select p_tree, l.ts, l.node, l.parent, l.pos, l.old_parent, l.old_pos, l.applied
      from unnest(v_log_ts, v_log_node, v_log_parent, v_log_pos, v_log_old_parent, v_log_old_pos,
                  v_log_applied) as l(ts, node, parent, pos, old_parent, old_pos, applied);
  end if;

  -- 8. Sets: last writer wins per (node, key); within the batch only the newest counts.
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
