-- Logins in progress. Secrets never appear in clear: the browser secret and the
-- upstream state are hashed, the pending authorize request is sealed with a key
-- derived from the browser secret.
CREATE TABLE flows (
    id TEXT PRIMARY KEY NOT NULL,
    browser_hash TEXT NOT NULL,
    origin TEXT NOT NULL,
    redirect_url TEXT,
    department TEXT,
    state TEXT NOT NULL,
    upstream_id TEXT,
    upstream_state_hash TEXT UNIQUE,
    pending_authorize TEXT,
    identity_id TEXT,
    failure TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX flows_browser_state ON flows (browser_hash, state, department);
CREATE INDEX flows_expires ON flows (expires_at);

CREATE TABLE identities (
    id TEXT PRIMARY KEY NOT NULL,
    department TEXT NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    localpart TEXT NOT NULL,
    display_name TEXT,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    UNIQUE (department, issuer, subject),
    UNIQUE (department, localpart)
);

CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    nonce TEXT,
    scope TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);
CREATE INDEX access_tokens_code ON access_tokens (code_hash);

CREATE TABLE login_token_routes (
    token_hash TEXT PRIMARY KEY NOT NULL,
    department TEXT NOT NULL,
    homeserver TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_token_routes_expires ON login_token_routes (expires_at);

-- The OpenID Provider's signing keys, sealed with the configured encryption key.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    algorithm TEXT NOT NULL,
    sealed_private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
