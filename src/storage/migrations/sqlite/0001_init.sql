-- Tenet schema for SQLite, version 1: stores, authorization models, relationship tuples and the
-- tuple change log. Never edit a migration once it has landed; add the next numbered file.
-- Timestamps are ISO 8601 UTC text; JSON documents are text written by JSON.stringify.

CREATE TABLE stores (
  id         TEXT    NOT NULL PRIMARY KEY,
  name       TEXT    NOT NULL,
  created_at TEXT    NOT NULL,
  updated_at TEXT    NOT NULL,
  -- The store's tuple revision, incremented by every tuple write in the same transaction.
  revision   INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE models (
  store_id   TEXT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  -- A ULID: ordering by id is ordering by creation time.
  id         TEXT NOT NULL,
  model      TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (store_id, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE tuples (
  store_id          TEXT    NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  object            TEXT    NOT NULL,
  relation          TEXT    NOT NULL,
  subject           TEXT    NOT NULL,
  condition_name    TEXT,
  condition_context TEXT,
  revision          INTEGER NOT NULL,
  written_at        TEXT    NOT NULL,
  PRIMARY KEY (store_id, object, relation, subject)
) STRICT, WITHOUT ROWID;

-- Reverse reads: every tuple of a subject.
CREATE INDEX tuples_by_subject ON tuples (store_id, subject, object, relation);

CREATE TABLE changelog (
  id                INTEGER NOT NULL PRIMARY KEY,
  store_id          TEXT    NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  revision          INTEGER NOT NULL,
  operation         TEXT    NOT NULL CHECK (operation IN ('write', 'delete')),
  object            TEXT    NOT NULL,
  relation          TEXT    NOT NULL,
  subject           TEXT    NOT NULL,
  condition_name    TEXT,
  condition_context TEXT,
  changed_at        TEXT    NOT NULL
) STRICT;

CREATE INDEX changelog_by_revision ON changelog (store_id, revision, id);
