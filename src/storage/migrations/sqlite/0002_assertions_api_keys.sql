-- Tenet schema for SQLite, version 2: assertions of authorization models, and the API keys of
-- Tenet's own API. Never edit a migration once it has landed; add the next numbered file.

-- The assertions of one model: the whole list, replaced at every write, as JSON text.
CREATE TABLE assertions (
  store_id   TEXT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  model_id   TEXT NOT NULL,
  assertions TEXT NOT NULL,
  PRIMARY KEY (store_id, model_id)
) STRICT, WITHOUT ROWID;

-- API keys are global, not per store. Only the SHA-256 of a key's secret is stored, never the
-- secret. Timestamps are the record's own ISO 8601 strings; revoked_at is NULL while active.
CREATE TABLE api_keys (
  id          TEXT NOT NULL PRIMARY KEY,
  name        TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  -- JSON arrays of strings.
  scopes      TEXT NOT NULL,
  stores      TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  revoked_at  TEXT,
  rate_limit  REAL NOT NULL
) STRICT;
