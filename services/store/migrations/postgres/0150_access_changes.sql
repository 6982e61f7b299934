-- Who may sign in with what: a token or session revoked, a user disabled, renamed, given another
-- role, region or profile (a deleted profile clears `users.profile_id`). Each instance keeps the
-- principals of recent tokens and sessions in memory; these rows tell every instance's follower
-- to forget them. Insertions need no row: nothing about an unknown credential is kept.
-- Users log per row, so a profile deleted without a bound user (each one clears `profile_id` in a
-- statement of its own) logs nothing; tokens and sessions per statement, so a bulk deletion of
-- ended sessions logs one row; TRUNCATE, which fires no row triggers, logs too.
CREATE FUNCTION record_access_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (entity, change) VALUES ('access', lower(TG_OP));
    RETURN NULL;
END;
$$;
CREATE TRIGGER users_access AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION record_access_change();
CREATE TRIGGER users_truncated_access AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION record_access_change();
CREATE TRIGGER api_tokens_access AFTER UPDATE OR DELETE OR TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION record_access_change();
CREATE TRIGGER sessions_access AFTER UPDATE OR DELETE OR TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION record_access_change();
