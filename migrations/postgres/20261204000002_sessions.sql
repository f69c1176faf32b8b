-- Where a login came from at its IdP, for single logout: the IdP's own session
-- reference (OIDC `sid`, SAML SessionIndex) and the SAML NameID, as hashes that
-- are only ever compared.
ALTER TABLE flows ADD COLUMN upstream_session_hash TEXT;
ALTER TABLE flows ADD COLUMN upstream_name_id_hash TEXT;

-- A login's session at one department: the `sid` of the id_token its homeserver
-- received, so the bridge can end it there (OIDC Back-Channel Logout). The sid
-- is no secret (the homeserver has it, and only the bridge's signing key can
-- use it); the upstream references are hashes.
CREATE TABLE sessions (
    sid TEXT PRIMARY KEY NOT NULL,
    identity_id TEXT NOT NULL,
    department TEXT NOT NULL,
    upstream_id TEXT,
    upstream_session_hash TEXT,
    upstream_name_id_hash TEXT,
    created_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX sessions_identity ON sessions (identity_id);
CREATE INDEX sessions_upstream ON sessions (upstream_id, upstream_session_hash);
CREATE INDEX sessions_name_id ON sessions (upstream_id, upstream_name_id_hash);

-- Logout tokens owed to a homeserver, kept until it answers 2xx: each attempt
-- is claimed by one instance (`claimed_until`), retried with backoff, given up
-- at `give_up_at`.
CREATE TABLE logout_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    sid TEXT NOT NULL,
    department TEXT NOT NULL,
    subject TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    give_up_at BIGINT NOT NULL,
    delivered_at BIGINT,
    given_up_at BIGINT,
    last_error TEXT
);
CREATE INDEX logout_deliveries_due ON logout_deliveries (delivered_at, given_up_at, next_attempt_at);
