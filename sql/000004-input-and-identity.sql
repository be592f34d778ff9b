-- treesync: hostile input and replica identity.
--
-- New SQLSTATE (mapped in protocol/errors.ts with the others of sql/000002-merge.sql):
--   TS007 forbidden       a replica id that belongs to another token subject

-- 1. Operations given as text. Postgres' jsonb cannot hold every JSON text: `\u0000` and
--    unpaired surrogates (`"\ud800"`) are refused by the parser, and so is a document nested
--    deeper than the parser's stack allows. Cast outside the function, such text fails with a
--    generic data error before apply_ops runs; through this overload it is TS001 with the
--    parser's reason, like any other malformed batch.
--
--    Overload resolution keeps every existing call meaning what it meant:
--    - `apply_ops('t', '[...]')` (an untyped literal) and an untyped bind parameter resolve
--      here, since for an argument of unknown type Postgres prefers the string category
--      (text) over jsonb; this parses and calls the jsonb version, so the result is the same;
--    - `apply_ops('t', $2::jsonb)` or any jsonb expression calls the jsonb version directly.
create function treesync.apply_ops(p_tree text, p_ops text)
returns jsonb
language plpgsql
as $$
declare
  v_ops jsonb;
  v_detail text;
begin
  begin
    v_ops := p_ops::jsonb;
  exception
    -- Class 22 (data exception: bad syntax, \u0000, lone surrogates) and class 54 (program
    -- limit: the parser's stack depth).
    when data_exception or program_limit_exceeded then
      get stacked diagnostics v_detail = pg_exception_detail;
      raise exception using
        errcode = 'TS001',
        message = format('operations are not JSON that can be stored: %s%s',
                         sqlerrm, coalesce(' (' || nullif(v_detail, '') || ')', ''));
  end;
  return treesync.apply_ops(p_tree, v_ops);
end
$$;

-- 2. A replica id belongs to the token subject that first used it on the tree: another
--    subject could otherwise push operations stamped with that replica's future timestamps
--    (making its later pushes fail with ts_conflict) or move its floor forward (making its
--    unpushed work stale). `subject` is recorded with the floor; null for replicas noted
--    before this migration, which the next subject to use them claims.
alter table treesync.replicas add column subject text collate "C";

-- note_replica with the caller's subject: records the floor as the 3-argument version does,
-- then claims the replica for `p_subject` if nobody has, and refuses (TS007) when it belongs
-- to another subject. The row lock taken by the insert/update serialises two first uses.
create function treesync.note_replica(p_tree text, p_replica text, p_floor text, p_subject text)
returns void
language plpgsql
as $$
declare
  v_owner text collate "C";
begin
  if p_subject is null or p_subject = '' then
    raise exception using
      errcode = 'TS006',
      message = 'a replica is noted with the token subject that uses it; the subject is empty';
  end if;
  perform treesync.note_replica(p_tree, p_replica, p_floor);
  update treesync.replicas r
     set subject = coalesce(r.subject, p_subject)
   where r.tree = p_tree and r.replica = p_replica
  returning r.subject into v_owner;
  if v_owner is distinct from p_subject then
    raise exception using
      errcode = 'TS007',
      message = format('replica %s of tree %s belongs to another subject; use a replica id of your own',
                       p_replica, p_tree),
      detail = jsonb_build_object('replica', p_replica)::text;
  end if;
end
$$;
