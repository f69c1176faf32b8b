-- SAML replay cache: an assertion ID is remembered until its validity ends plus skew.
CREATE TABLE assertion_ids (
    idp TEXT NOT NULL,
    assertion_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (idp, assertion_id)
);
CREATE INDEX assertion_ids_expires ON assertion_ids (expires_at);
