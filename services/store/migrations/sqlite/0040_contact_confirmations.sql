-- Addresses a profile's own user added that have not yet confirmed the link sent to them: packs
-- skip them. An address of a profile with no row here counts as confirmed (set by an
-- administrator, by import, or confirmed through its link). The nonce makes each link single-use:
-- confirming deletes the row, and a re-added address gets a new row with a new nonce.
CREATE TABLE contact_confirmations (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    profile_id          BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    email               TEXT NOT NULL,
    nonce               BIGINT NOT NULL,
    created_at          TEXT NOT NULL,
    UNIQUE (profile_id, email)
);

-- One e-mail delivery sends one message per address; each address's latest outcome (sent,
-- refused by the relay for good, failed for now) is kept so a retry reaches only the addresses
-- still owed a copy.
CREATE TABLE delivery_recipients (
    delivery_id         BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    email               TEXT NOT NULL,
    outcome             TEXT NOT NULL,
    detail              TEXT,
    at                  TEXT NOT NULL,
    PRIMARY KEY (delivery_id, email)
);
