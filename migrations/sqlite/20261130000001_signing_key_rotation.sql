-- Key rotation: a key is published from its creation and signs from
-- `activates_at`; the key it replaces stays published for a token lifetime.
-- `retired_at` was never written: the retirement time follows from the next
-- key's activation.
ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT NOT NULL DEFAULT 0;
UPDATE signing_keys SET activates_at = created_at;
ALTER TABLE signing_keys DROP COLUMN retired_at;
