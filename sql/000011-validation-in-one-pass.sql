-- treesync: cheaper validation of a batch (issue 6, docs/merge.md "What it costs").
--
-- Profiled with pg_stat_statements (bench/merge-profile.ts) on a random tree of 200,000 nodes,
-- validating a batch took a fifth to a quarter of apply_ops' time for in-order creations.
-- Measured alone on 1,000 creations (load average ~6, median of runs): op_problem 29-58 ms,
-- the same checks without 000005's wrapper 10 ms. The wrapper calls the checks of 000003
-- twice in a `case`, on `p_op - 'seen'` (an expression, not a column), so Postgres cannot
-- inline them: every operation paid a SQL function call and a copy of its JSON. op_problem is
-- now one expression, with the same rules in the same order and the same messages: `seen` is
-- checked right after "is an object", and the field lists of a move and a set allow `seen`.
--
-- And a batch whose timestamps strictly increase in batch order (a replica pushes its edits in
-- the order it made them) repeats no ts: new_ops says so from one comparison of neighbours and
-- skips the search for repeats (a window over the batch, sorted by ts).
--
-- load_window (000003) has had no caller since 000008 replaced it with window_nodes.

drop function treesync.load_window(text, treesync.op[], text, boolean);

-- What is wrong with one operation of a batch (null: nothing). The contract of 000002, with
-- the value depth rule of 000003 and the `seen` rule of 000005.
create or replace function treesync.op_problem(p_op jsonb, p_max_value_bytes integer)
returns text
language sql
stable
parallel safe
as $$
  select case
    when jsonb_typeof(p_op) is distinct from 'object' then
      'an operation must be a JSON object'
    when p_op ? 'seen'
         and not (jsonb_typeof(p_op -> 'seen') = 'number'
                  and (p_op ->> 'seen') ~ '^[0-9]{1,15}$') then
      'seen must be a non-negative integer'
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
        when p_op - '{ts,type,node,parent,pos,seen}'::text[] <> '{}'::jsonb then
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
        when jsonb_typeof(p_op -> 'value') in ('array', 'object')
             and octet_length(translate((p_op -> 'value')::text, '[{', ''))
                 < octet_length((p_op -> 'value')::text) - 64
             and treesync.value_depth(p_op -> 'value', 64) > 64 then
          'value nests deeper than 64 levels'
        when p_op - '{ts,type,node,key,value,seen}'::text[] <> '{}'::jsonb then
          'a set has only the fields ts, type, node, key, value'
      end
    else
      'type must be "move" or "set"'
  end
$$;

drop function treesync.op_fields_problem(jsonb, integer);

-- new_ops (contract: 000003), skipping the search for repeated timestamps when none can be
-- repeated: the batch's ts strictly increase in batch order.
create or replace function treesync.new_ops(p_tree text, p_ops treesync.op[], p_newest_stored text)
returns treesync.op[]
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set enable_material = off
as $$
declare
  v_bad record;
  v_ts text[];
  v_oldest text collate "C";
  v_increasing boolean;
  v_new treesync.op[];
begin
  -- One comparison of each ts with the next (in batch order, no sort): all greater means no
  -- ts is repeated, and the batch is its own list of distinct operations.
  v_ts := array(select u.ts from unnest(p_ops) u);
  select coalesce(bool_and(t.a collate "C" < t.b), true) into v_increasing
    from unnest(v_ts[1:cardinality(v_ts) - 1], v_ts[2:]) as t(a, b);

  if not v_increasing then
    select o.idx, o.ts, 'is repeated in the batch with other content' as why
      into v_bad
      from (select u.idx, u.ts, u.type, u.node, u.parent, u.pos, u.key, u.value,
                   first_value(u) over (partition by u.ts order by u.idx) as f
              from unnest(p_ops) u) o
     where (o.type, o.node, o.parent, o.pos, o.key, o.value)
           is distinct from ((o.f).type, (o.f).node, (o.f).parent, (o.f).pos, (o.f).key, (o.f).value)
     order by o.idx
     limit 1;
    if found then
      raise exception using
        errcode = 'TS002',
        message = format('operation %s: ts %s %s', v_bad.idx, v_bad.ts, v_bad.why),
        detail = jsonb_build_object('index', v_bad.idx, 'ts', v_bad.ts)::text;
    end if;
  end if;

  select min(u collate "C") into v_oldest from unnest(v_ts) u;
  if p_newest_stored is null or v_oldest > p_newest_stored collate "C" then
    if v_increasing then
      return p_ops;
    end if;
    select coalesce(array_agg(o order by o.idx), '{}')
      into v_new
      from (select distinct on (u.ts) u.* from unnest(p_ops) u order by u.ts, u.idx) o;
    return v_new;
  end if;

  -- (a lateral subquery that cannot be flattened: one lookup by key per operation)
  select o.idx, o.ts, 'is already stored with other content' as why
    into v_bad
    from unnest(p_ops) o
   cross join lateral (select s.* from treesync.ops s
                        where s.ts = o.ts and (s.tree = p_tree) is true offset 0) s
   where (o.type, o.node, o.parent, o.pos, o.key, o.value)
         is distinct from (s.type, s.node, s.parent, s.pos, s.key, s.value)
   order by o.idx
   limit 1;
  if found then
    raise exception using
      errcode = 'TS002',
      message = format('operation %s: ts %s %s', v_bad.idx, v_bad.ts, v_bad.why),
      detail = jsonb_build_object('index', v_bad.idx, 'ts', v_bad.ts)::text;
  end if;

  select coalesce(array_agg(row(o.idx, o.ts, o.type, o.node, o.parent, o.pos, o.key, o.value)::treesync.op
                            order by o.idx), '{}')
    into v_new
    from (select distinct on (u.ts) u.* from unnest(p_ops) u order by u.ts, u.idx) o
    left join lateral (select true as stored from treesync.ops s
                        where s.ts = o.ts and (s.tree = p_tree) is true offset 0) s on true
   where s.stored is null;
  return v_new;
end
$$;
