-- Tenet schema for PostgreSQL, version 1: stores, authorization models, relationship tuples and
-- the tuple change log. Never edit a migration once it has landed; add the next numbered file.
-- Key columns use the "C" collation so that ordering (keyset pagination) and the `type:` prefix
-- range are bytewise, whatever the database's default collation is. JSON documents are `json`
-- (not `jsonb`) so they come back exactly as written.

CREATE TABLE stores (
  id         text COLLATE "C" NOT NULL PRIMARY KEY,
  name       text             NOT NULL,
  created_at timestamptz      NOT NULL,
  updated_at timestamptz      NOT NULL,
  -- The store's tuple revision. Writers increment it first (UPDATE ... RETURNING), which takes
  -- the row lock and so serialises concurrent writers to one store: revisions have no gaps.
  revision   bigint           NOT NULL DEFAULT 0
);

CREATE TABLE models (
  store_id   text COLLATE "C" NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  -- A ULID: ordering by id is ordering by creation time.
  id         text COLLATE "C" NOT NULL,
  model      json             NOT NULL,
  created_at timestamptz      NOT NULL,
  PRIMARY KEY (store_id, id)
);

CREATE TABLE tuples (
  store_id          text COLLATE "C" NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  object            text COLLATE "C" NOT NULL,
  relation          text COLLATE "C" NOT NULL,
  subject           text COLLATE "C" NOT NULL,
  condition_name    text,
  condition_context json,
  revision          bigint           NOT NULL,
  written_at        timestamptz      NOT NULL,
  PRIMARY KEY (store_id, object, relation, subject)
);

-- Reverse reads: every tuple of a subject.
CREATE INDEX tuples_by_subject ON tuples (store_id, subject, object, relation);

CREATE TABLE changelog (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  store_id          text COLLATE "C" NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  revision          bigint           NOT NULL,
  operation         text             NOT NULL CHECK (operation IN ('write', 'delete')),
  object            text COLLATE "C" NOT NULL,
  relation          text COLLATE "C" NOT NULL,
  subject           text COLLATE "C" NOT NULL,
  condition_name    text,
  condition_context json,
  changed_at        timestamptz      NOT NULL
);

CREATE INDEX changelog_by_revision ON changelog (store_id, revision, id);
