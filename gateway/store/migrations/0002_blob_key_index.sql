-- Startup checks that every key id still sealing a blob is configured
-- (store.KeyIDsInUse); without this index that is a full scan of blobs.
CREATE INDEX blobs_key_id ON blobs (key_id);
