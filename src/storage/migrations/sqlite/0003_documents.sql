-- Tenet schema for SQLite, version 3: documents, small JSON records of the planes that need no
-- query beyond "by id" and "in id order" (access policy versions, just-in-time access requests,
-- the webhook outbox, risk history). Never edit a migration once it has landed.

-- `version` counts the writes of one document (1 at creation): writers say which version they
-- read, so that two concurrent updates cannot both win (optimistic concurrency).
CREATE TABLE documents (
  collection TEXT    NOT NULL,
  id         TEXT    NOT NULL,
  version    INTEGER NOT NULL,
  body       TEXT    NOT NULL,
  created_at TEXT    NOT NULL,
  updated_at TEXT    NOT NULL,
  PRIMARY KEY (collection, id)
) STRICT, WITHOUT ROWID;
