-- The change log: one row per write that the matcher or the search index must follow, written
-- by triggers, so it commits (or rolls back) with the write itself whatever code path made it.
-- Every instance's follower applies it in id order from the committed data; ids come from a
-- sequence, so they may commit out of order (the follower revisits the gaps it sees).
-- `entity_id` is empty for entities followed whole (scoring weights, the attribute schema).
CREATE TABLE changes (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity              TEXT NOT NULL,
    entity_id           BIGINT,
    change              TEXT NOT NULL,
    recorded_at         TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX changes_recorded_idx ON changes (recorded_at);

-- Rows of a table with an `id` column were inserted, updated or deleted: one log row each, written
-- once per statement from its transition table, so a multi-row insert of a bulk import adds one
-- INSERT … SELECT rather than a trigger call per row. The entity's name is the trigger's argument.
CREATE FUNCTION record_inserted_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (entity, entity_id, change)
        SELECT TG_ARGV[0], id, 'insert' FROM new_rows ORDER BY id;
    RETURN NULL;
END;
$$;
CREATE FUNCTION record_updated_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (entity, entity_id, change)
        SELECT TG_ARGV[0], id, 'update' FROM new_rows ORDER BY id;
    RETURN NULL;
END;
$$;
CREATE FUNCTION record_deleted_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (entity, entity_id, change)
        SELECT TG_ARGV[0], id, 'delete' FROM old_rows ORDER BY id;
    RETURN NULL;
END;
$$;

-- A table followed whole changed.
CREATE FUNCTION record_whole_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (entity, change) VALUES (TG_ARGV[0], lower(TG_OP));
    RETURN NULL;
END;
$$;

CREATE TRIGGER policies_inserted AFTER INSERT ON policies REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_inserted_rows('policy');
CREATE TRIGGER policies_updated AFTER UPDATE ON policies REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_updated_rows('policy');
CREATE TRIGGER policies_deleted AFTER DELETE ON policies REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_deleted_rows('policy');
CREATE TRIGGER profiles_inserted AFTER INSERT ON profiles REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_inserted_rows('profile');
CREATE TRIGGER profiles_updated AFTER UPDATE ON profiles REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_updated_rows('profile');
CREATE TRIGGER profiles_deleted AFTER DELETE ON profiles REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_deleted_rows('profile');
CREATE TRIGGER tags_inserted AFTER INSERT ON tags REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_inserted_rows('tag');
CREATE TRIGGER tags_updated AFTER UPDATE ON tags REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_updated_rows('tag');
CREATE TRIGGER tags_deleted AFTER DELETE ON tags REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_deleted_rows('tag');
CREATE TRIGGER scoring_weights_change AFTER INSERT ON scoring_weights
    FOR EACH ROW EXECUTE FUNCTION record_whole_change('weights');
CREATE TRIGGER attribute_fields_change AFTER INSERT OR UPDATE OR DELETE ON attribute_fields
    FOR EACH ROW EXECUTE FUNCTION record_whole_change('attribute');
