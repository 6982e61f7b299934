-- Who may sign in with what: a token or session revoked, a user disabled, renamed, given another
-- role, region or profile (a deleted profile clears `users.profile_id`). Each instance keeps the
-- principals of recent tokens and sessions in memory; these rows tell every instance's follower
-- to forget them. Insertions need no row: nothing about an unknown credential is kept.
CREATE TRIGGER users_update_access AFTER UPDATE ON users BEGIN
    INSERT INTO changes (entity, change) VALUES ('access', 'update');
END;
CREATE TRIGGER users_delete_access AFTER DELETE ON users BEGIN
    INSERT INTO changes (entity, change) VALUES ('access', 'delete');
END;
CREATE TRIGGER api_tokens_update_access AFTER UPDATE ON api_tokens BEGIN
    INSERT INTO changes (entity, change) VALUES ('access', 'update');
END;
CREATE TRIGGER api_tokens_delete_access AFTER DELETE ON api_tokens BEGIN
    INSERT INTO changes (entity, change) VALUES ('access', 'delete');
END;
CREATE TRIGGER sessions_update_access AFTER UPDATE ON sessions BEGIN
    INSERT INTO changes (entity, change) VALUES ('access', 'update');
END;
CREATE TRIGGER sessions_delete_access AFTER DELETE ON sessions BEGIN
    INSERT INTO changes (entity, change) VALUES ('access', 'delete');
END;
