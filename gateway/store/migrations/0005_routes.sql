-- Routes stored once, content-addressed. A route is the JSON of a DVDV
-- lookup (URLs and four certificates, ~6 KB) and is the same for every
-- message to one ABH until its certificates change. Kept in each message
-- row it made PostgreSQL TOAST and compress it per message and made SQLite
-- rewrite the row's overflow pages on every later UPDATE of the row (the
-- claim included); here each distinct route is written once and a message
-- refers to it by the SHA-256 (hex) of its bytes.
--
-- Rows written before this migration keep their inline route (route_sha256
-- NULL) and are read as before. Routes hold no personal data, so purging a
-- message's bodies leaves them; they are never deleted (the store relies on
-- that: a route it has seen committed is not inserted again).
CREATE TABLE routes (
	sha256     TEXT PRIMARY KEY,
	route      TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
ALTER TABLE messages ADD COLUMN route_sha256 TEXT REFERENCES routes (sha256);
