-- Tenet schema for SQLite, version 5: the audit filters with many distinct values (store,
-- subject, resource, policy) are indexed per block of 4,096 entries.
--
-- An index keyed (subject, seq) puts each new entry at a random place in the b-tree: a commit of
-- a few hundred entries dirtied a few hundred index pages per index, and writing those pages was
-- most of an append's cost (~17k entries/s with these four indexes, ~31k/s without). Keyed
-- (seq >> 12, subject, seq), the entries of the current block share a few dozen pages, so an
-- append costs about what it would without the index. A query walks the blocks of its seq range,
-- one index seek per block (src/storage/sqlite/audit-query.ts).
DROP INDEX audit_entries_by_store;
DROP INDEX audit_entries_by_subject;
DROP INDEX audit_entries_by_resource;
DROP INDEX audit_entries_by_policy;
CREATE INDEX audit_entries_by_store    ON audit_entries (seq >> 12, store_id, seq) WHERE store_id IS NOT NULL;
CREATE INDEX audit_entries_by_subject  ON audit_entries (seq >> 12, subject, seq)  WHERE subject IS NOT NULL;
CREATE INDEX audit_entries_by_resource ON audit_entries (seq >> 12, resource, seq) WHERE resource IS NOT NULL;
CREATE INDEX audit_entries_by_policy   ON audit_entries (seq >> 12, policy, seq)   WHERE policy IS NOT NULL;
