-- The API's needs: keys (stored hashed), each scoped to a territory subtree; the incident's
-- territory path for scoped lists; gateway credentials beside the devices' own.

CREATE TABLE api_key (
    key_id         text PRIMARY KEY,              -- the public half, shown in listings
    secret_sha256  bytea NOT NULL,                -- sha256 of the secret half (random, 256 bit)
    role           text NOT NULL CHECK (role IN ('viewer', 'responder', 'integrator', 'admin')),
    territory_code text REFERENCES territory (code) ON DELETE CASCADE,  -- NULL: the whole city
    name           text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);

ALTER TABLE alert ADD COLUMN territory_path text;
UPDATE alert a SET territory_path = t.path FROM territory t WHERE t.code = a.grid_code;
CREATE INDEX alert_path_idx ON alert (territory_path text_pattern_ops, opened_at DESC, alert_id DESC);

ALTER TABLE gateway ADD COLUMN credential_hash text;
