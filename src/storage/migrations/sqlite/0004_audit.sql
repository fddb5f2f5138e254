-- Tenet schema for SQLite, version 4: the tamper-evident audit log (an RFC 6962 Merkle log of
-- OCSF events), its signed checkpoints and what pruning left behind. Never edit a migration
-- once it has landed; add the next numbered file.

-- One row per entry. `seq` is the leaf index (the rowid: reads by seq range are a b-tree walk).
-- `event` is the canonical JSON exactly as hashed, `leaf_hash` its 32-byte RFC 6962 leaf hash;
-- the other columns copy some of the event's values so that queries can use indexes. `time` is
-- RFC 3339 UTC with milliseconds, which sorts as text. No foreign keys: entries outlive the
-- stores and policies they name.
CREATE TABLE audit_entries (
  seq       INTEGER NOT NULL PRIMARY KEY,
  time      TEXT    NOT NULL,
  type      TEXT    NOT NULL,
  class_uid INTEGER NOT NULL,
  store_id  TEXT,
  subject   TEXT,
  resource  TEXT,
  decision  TEXT,
  policy    TEXT,
  event     TEXT    NOT NULL,
  leaf_hash BLOB    NOT NULL
) STRICT;

-- Queries filter on these columns (and a time range) and page by seq, newest or oldest first:
-- each index leads with its column and then seq, so a filter is one index range walked in seq
-- order with no sort. Columns often empty are indexed only where set (`col = ?` implies it).
CREATE INDEX audit_entries_by_time     ON audit_entries (time, seq);
CREATE INDEX audit_entries_by_type     ON audit_entries (type, seq);
CREATE INDEX audit_entries_by_store    ON audit_entries (store_id, seq) WHERE store_id IS NOT NULL;
CREATE INDEX audit_entries_by_subject  ON audit_entries (subject, seq)  WHERE subject IS NOT NULL;
CREATE INDEX audit_entries_by_resource ON audit_entries (resource, seq) WHERE resource IS NOT NULL;
CREATE INDEX audit_entries_by_decision ON audit_entries (decision, seq) WHERE decision IS NOT NULL;
CREATE INDEX audit_entries_by_policy   ON audit_entries (policy, seq)   WHERE policy IS NOT NULL;

-- Signed tree heads: the 32-byte root of entries [0, size) and the C2SP signed note as served.
CREATE TABLE audit_checkpoints (
  size      INTEGER NOT NULL PRIMARY KEY,
  root_hash BLOB    NOT NULL,
  time      TEXT    NOT NULL,
  note      TEXT    NOT NULL
) STRICT;

-- At most one row (id 1): the latest pruning. Entries [0, size) are gone; `subtrees` are the
-- roots of the perfect subtrees that covered them, 32 bytes each back to back, left to right;
-- root_hash, checkpoint_time and note are the signed checkpoint at exactly `size`; `time` is
-- when the log was pruned.
CREATE TABLE audit_pruned (
  id              INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
  size            INTEGER NOT NULL,
  subtrees        BLOB    NOT NULL,
  root_hash       BLOB    NOT NULL,
  checkpoint_time TEXT    NOT NULL,
  note            TEXT    NOT NULL,
  time            TEXT    NOT NULL
) STRICT;
