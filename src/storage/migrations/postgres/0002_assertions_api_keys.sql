-- Tenet schema for PostgreSQL, version 2: assertions of authorization models, and the API keys
-- of Tenet's own API. Never edit a migration once it has landed; add the next numbered file.

-- The assertions of one model: the whole list, replaced at every write (`json`: exactly as written).
CREATE TABLE assertions (
  store_id   text COLLATE "C" NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  model_id   text COLLATE "C" NOT NULL,
  assertions json             NOT NULL,
  PRIMARY KEY (store_id, model_id)
);

-- API keys are global, not per store. Only the SHA-256 of a key's secret is stored, never the
-- secret. The timestamps are the record's own ISO 8601 strings, kept as text so that they come
-- back exactly as given (a timestamptz would normalise them); revoked_at is NULL while active.
CREATE TABLE api_keys (
  id          text COLLATE "C" NOT NULL PRIMARY KEY,
  name        text             NOT NULL,
  secret_hash text             NOT NULL,
  scopes      text[]           NOT NULL,
  stores      text[]           NOT NULL,
  created_at  text COLLATE "C" NOT NULL,
  revoked_at  text COLLATE "C",
  rate_limit  double precision NOT NULL
);
