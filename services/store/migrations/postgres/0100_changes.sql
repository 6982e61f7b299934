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

-- A row of a table with an `id` column changed; the entity's name is the trigger's argument.
CREATE FUNCTION record_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO changes (entity, entity_id, change) VALUES (TG_ARGV[0], OLD.id, 'delete');
    ELSE
        INSERT INTO changes (entity, entity_id, change) VALUES (TG_ARGV[0], NEW.id, lower(TG_OP));
    END IF;
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

CREATE TRIGGER policies_change AFTER INSERT OR UPDATE OR DELETE ON policies
    FOR EACH ROW EXECUTE FUNCTION record_row_change('policy');
CREATE TRIGGER profiles_change AFTER INSERT OR UPDATE OR DELETE ON profiles
    FOR EACH ROW EXECUTE FUNCTION record_row_change('profile');
CREATE TRIGGER tags_change AFTER INSERT OR UPDATE OR DELETE ON tags
    FOR EACH ROW EXECUTE FUNCTION record_row_change('tag');
CREATE TRIGGER scoring_weights_change AFTER INSERT ON scoring_weights
    FOR EACH ROW EXECUTE FUNCTION record_whole_change('weights');
CREATE TRIGGER attribute_fields_change AFTER INSERT OR UPDATE OR DELETE ON attribute_fields
    FOR EACH ROW EXECUTE FUNCTION record_whole_change('attribute');
