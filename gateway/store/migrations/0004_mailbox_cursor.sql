-- High-water marks of the mailbox listing (replies). The poller lists the
-- gateway's mailbox by reception date from the mark minus an overlap, so a
-- delivery that someone else marked as received (NoReception no longer
-- lists it) is still found; the inbound table deduplicates. value is the
-- intermediary's reception time of the newest delivery listed, in Unix ms.
CREATE TABLE mailbox_cursor (
	name       TEXT PRIMARY KEY,
	value      BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
