-- Tenet schema for PostgreSQL, version 3: documents, small JSON records of the planes that need
-- no query beyond "by id" and "in id order" (access policy versions, just-in-time access
-- requests, the webhook outbox, risk history). Never edit a migration once it has landed.

-- `version` counts the writes of one document (1 at creation): writers say which version they
-- read, so that two concurrent updates cannot both win (optimistic concurrency). Timestamps are
-- the record's own ISO 8601 strings.
CREATE TABLE documents (
  collection text COLLATE "C" NOT NULL,
  id         text COLLATE "C" NOT NULL,
  version    integer          NOT NULL,
  body       jsonb            NOT NULL,
  created_at text COLLATE "C" NOT NULL,
  updated_at text COLLATE "C" NOT NULL,
  PRIMARY KEY (collection, id)
);
