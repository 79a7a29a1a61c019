-- One set of migrations for SQLite and PostgreSQL. The only dialect
-- differences are written as tokens the store replaces before executing:
--   {{AUTOID}}  an auto-incrementing 64-bit primary key column type
--   {{BLOB}}    a binary column type
-- Times are Unix milliseconds (UTC) in BIGINT columns, so comparisons and
-- indexes behave the same on both databases.

-- The outbox. Everything here is ids, codes, times and states: no personal
-- data. Bodies live encrypted in blobs, so purging them is one DELETE.
CREATE TABLE messages (
	id               TEXT PRIMARY KEY,
	client_id        TEXT NOT NULL,
	idempotency_key  TEXT,
	request_hash     TEXT NOT NULL,
	recipient        TEXT NOT NULL,
	type_code        TEXT NOT NULL,
	version          TEXT NOT NULL,
	message_uuid     TEXT NOT NULL,
	application_id   TEXT NOT NULL DEFAULT '',
	state            TEXT NOT NULL,
	resume_state     TEXT NOT NULL DEFAULT '',
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  BIGINT,
	lease_owner      TEXT,
	lease_until      BIGINT,
	route            TEXT,
	osci_message_id  TEXT NOT NULL DEFAULT '',
	last_error_code  TEXT NOT NULL DEFAULT '',
	last_error       TEXT NOT NULL DEFAULT '',
	created_at       BIGINT NOT NULL,
	updated_at       BIGINT NOT NULL,
	delivered_at     BIGINT,
	purged_at        BIGINT,
	UNIQUE (client_id, idempotency_key)
);
-- Terminal states have next_attempt_at NULL, so this index holds the work queue.
CREATE INDEX messages_due ON messages (next_attempt_at);
CREATE INDEX messages_state ON messages (state, id);
CREATE INDEX messages_client ON messages (client_id, id);
CREATE INDEX messages_uuid ON messages (message_uuid);
CREATE INDEX messages_application ON messages (application_id);
CREATE INDEX messages_purge ON messages (delivered_at);

-- The timeline / audit trail: ids, times, outcomes and reasons only. It
-- outlives the purge of the bodies.
CREATE TABLE message_events (
	seq             {{AUTOID}},
	message_id      TEXT NOT NULL,
	at              BIGINT NOT NULL,
	kind            TEXT NOT NULL,
	state           TEXT NOT NULL,
	attempt         INTEGER NOT NULL DEFAULT 0,
	code            TEXT NOT NULL DEFAULT '',
	reason          TEXT NOT NULL DEFAULT '',
	osci_message_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX message_events_message ON message_events (message_id, seq);

-- Encrypted bodies, attachments and replies. owner is a message or inbox id.
CREATE TABLE blobs (
	owner      TEXT NOT NULL,
	part       TEXT NOT NULL,
	key_id     TEXT NOT NULL,
	data       {{BLOB}} NOT NULL,
	size       BIGINT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (owner, part)
);

-- Replies fetched from the gateway's own OSCI mailbox. osci_message_id is
-- unique: fetching the same delivery twice stores it once.
CREATE TABLE inbox (
	seq             {{AUTOID}},
	id              TEXT NOT NULL UNIQUE,
	osci_message_id TEXT NOT NULL UNIQUE,
	message_id      TEXT NOT NULL DEFAULT '',
	client_id       TEXT NOT NULL DEFAULT '',
	kind            TEXT NOT NULL,
	type_code       TEXT NOT NULL DEFAULT '',
	message_uuid    TEXT NOT NULL DEFAULT '',
	trigger_uuid    TEXT NOT NULL DEFAULT '',
	application_id  TEXT NOT NULL DEFAULT '',
	author_key      TEXT NOT NULL DEFAULT '',
	problem         TEXT NOT NULL DEFAULT '',
	received_at     BIGINT NOT NULL,
	stored_at       BIGINT NOT NULL,
	acked_at        BIGINT,
	purged_at       BIGINT
);
CREATE INDEX inbox_client ON inbox (client_id, acked_at, seq);
CREATE INDEX inbox_message ON inbox (message_id);

-- Ids seen in the mailbox, recorded before fetching (OSCI marks a delivery
-- received on fetch; a crash after the fetch must be able to fetch again).
CREATE TABLE inbound (
	osci_message_id TEXT PRIMARY KEY,
	state           TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	seen_at         BIGINT NOT NULL,
	done_at         BIGINT
);
CREATE INDEX inbound_state ON inbound (state);

-- Webhook deliveries: one row per subscriber and event, retried with backoff.
CREATE TABLE webhook_deliveries (
	id              TEXT PRIMARY KEY,
	subscriber      TEXT NOT NULL,
	event           TEXT NOT NULL,
	subject_id      TEXT NOT NULL,
	state           TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at BIGINT,
	lease_owner     TEXT,
	lease_until     BIGINT,
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      BIGINT NOT NULL,
	delivered_at    BIGINT,
	UNIQUE (subscriber, event, subject_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at);

-- API clients. Tokens are stored as SHA-256 hashes only.
CREATE TABLE api_clients (
	id           TEXT PRIMARY KEY,
	token_sha256 TEXT NOT NULL DEFAULT '',
	cert_sha256  TEXT NOT NULL DEFAULT '',
	admin        INTEGER NOT NULL DEFAULT 0,
	updated_at   BIGINT NOT NULL
);
