-- The issuer that signed a session's id_token: its logout token must carry
-- the same `iss`, so only an instance serving that issuer may send it.
ALTER TABLE sessions ADD COLUMN issuer TEXT;
ALTER TABLE logout_deliveries ADD COLUMN issuer TEXT;
