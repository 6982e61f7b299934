-- Sign-in attempts per throttle key (a hashed user name or client address) and fixed window,
-- shared by every instance. Rows are deleted once their window is over, so the table stays as
-- small as the attempts of one window.
CREATE TABLE sign_in_attempts (
    key_hash            TEXT NOT NULL,
    window_start        BIGINT NOT NULL,
    attempts            BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    PRIMARY KEY (key_hash, window_start)
);
CREATE INDEX sign_in_attempts_expiry ON sign_in_attempts (expires_at);
