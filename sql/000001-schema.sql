-- treesync: the tables of the merge.
--
-- Every identifier and timestamp column is `collate "C"`: timestamps are compared byte by byte
-- everywhere (design.md), whatever the database's default collation is.
--
-- The hot tables carry no foreign keys to `trees`: a foreign key is a trigger per inserted row,
-- and the merge writes rows one move at a time. `apply_ops` only ever writes rows for a tree it
-- has locked, so the reference cannot dangle.

create schema if not exists treesync;

-- One row per tree. `seq` is the number of operations stored so far: every stored operation has
-- a `seq` from 1 to `seq`, without gaps. Locking this row (`for update`) serialises the merges of
-- one tree; it is held until commit, so `seq` order is also commit order.
create table treesync.trees (
  id text collate "C" primary key,
  seq bigint not null default 0,
  created_at timestamptz not null default now()
);

-- The tree as it stands: every node that exists, `ROOT` and `TRASH` (parent null) included.
-- A node exists once a move of it has been applied; a node whose moves were all skipped does not.
create table treesync.nodes (
  tree text collate "C" not null,
  id text collate "C" not null,
  parent text collate "C",
  pos text collate "C" not null default '',
  primary key (tree, id)
);

-- Every operation stored, in the order it was stored (`seq`). `ts` is the operation's identity:
-- storing it twice is a duplicate, storing it with other content is a conflict. `value` is the
-- `set` value as JSON (JSON `null` removes the field), SQL null for moves.
create table treesync.ops (
  tree text collate "C" not null,
  seq bigint not null,
  ts text collate "C" not null,
  type text collate "C" not null check (type in ('move', 'set')),
  node text collate "C" not null,
  parent text collate "C",
  pos text collate "C",
  key text collate "C",
  value jsonb,
  primary key (tree, seq),
  unique (tree, ts)
);

-- The move log, in timestamp order: what a replica needs to undo and redo moves when an older
-- one arrives late. `old_parent` and `old_pos` are where the node really was just before this
-- move was applied, as this replica computed it (never as a client claimed); `old_parent` is
-- null when the move created the node. A skipped move (`applied` false) changed nothing.
create table treesync.moves (
  tree text collate "C" not null,
  ts text collate "C" not null,
  node text collate "C" not null,
  parent text collate "C" not null,
  pos text collate "C" not null,
  old_parent text collate "C",
  old_pos text collate "C",
  applied boolean not null,
  primary key (tree, ts)
);

-- Node content: one value per (node, key), the one with the greatest `ts`. A removed field stays
-- as a JSON `null` tombstone so that an older write arriving later still loses. Fields are kept
-- whether or not their node exists: existence depends on move order, content does not.
create table treesync.fields (
  tree text collate "C" not null,
  node text collate "C" not null,
  key text collate "C" not null,
  value jsonb not null,
  ts text collate "C" not null,
  primary key (tree, node, key)
);

-- The replicas of a tree and how far back each may still send operations: its floor (its
-- oldest unpushed operation, else its clock), as it last said. The smallest floor among the
-- replicas seen within the retention window is the tree's stability frontier: no operation
-- older than it can still arrive, so one that does is refused (design.md, "how far back").
create table treesync.replicas (
  tree text collate "C" not null,
  replica text collate "C" not null,
  floor text collate "C" not null,
  seen_at timestamptz not null default now(),
  primary key (tree, replica)
);

-- An operation of a batch after validation; `idx` is its index in the batch (0-based).
create type treesync.op as (
  idx integer,
  ts text collate "C",
  type text collate "C",
  node text collate "C",
  parent text collate "C",
  pos text collate "C",
  key text collate "C",
  value jsonb
);
