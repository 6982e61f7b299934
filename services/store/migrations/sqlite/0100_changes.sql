-- The change log: one row per write that the matcher or the search index must follow, written
-- by triggers, so it commits (or rolls back) with the write itself whatever code path made it.
-- Every instance's follower applies it in id order from the committed data. AUTOINCREMENT keeps
-- ids growing even after old rows are pruned. `entity_id` is empty for entities followed whole
-- (scoring weights, the attribute schema).
CREATE TABLE changes (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    entity              TEXT NOT NULL,
    entity_id           INTEGER,
    change              TEXT NOT NULL,
    recorded_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX changes_recorded_idx ON changes (recorded_at);

CREATE TRIGGER policies_insert_change AFTER INSERT ON policies BEGIN
    INSERT INTO changes (entity, entity_id, change) VALUES ('policy', NEW.id, 'insert');
END;
CREATE TRIGGER policies_update_change AFTER UPDATE ON policies BEGIN
    INSERT INTO changes (entity, entity_id, change) VALUES ('policy', NEW.id, 'update');
END;
CREATE TRIGGER policies_delete_change AFTER DELETE ON policies BEGIN
    INSERT INTO changes (entity, entity_id, change) VALUES ('policy', OLD.id, 'delete');
END;

CREATE TRIGGER profiles_insert_change AFTER INSERT ON profiles BEGIN
    INSERT INTO changes (entity, entity_id, change) VALUES ('profile', NEW.id, 'insert');
END;
CREATE TRIGGER profiles_update_change AFTER UPDATE ON profiles BEGIN
    INSERT INTO changes (entity, entity_id, change) VALUES ('profile', NEW.id, 'update');
END;
CREATE TRIGGER profiles_delete_change AFTER DELETE ON profiles BEGIN
    INSERT INTO changes (entity, entity_id, change) VALUES ('profile', OLD.id, 'delete');
END;

CREATE TRIGGER tags_insert_change AFTER INSERT ON tags BEGIN
    INSERT INTO changes (entity, entity_id, change) VALUES ('tag', NEW.id, 'insert');
END;
CREATE TRIGGER tags_update_change AFTER UPDATE ON tags BEGIN
    INSERT INTO changes (entity, entity_id, change) VALUES ('tag', NEW.id, 'update');
END;
CREATE TRIGGER tags_delete_change AFTER DELETE ON tags BEGIN
    INSERT INTO changes (entity, entity_id, change) VALUES ('tag', OLD.id, 'delete');
END;

CREATE TRIGGER scoring_weights_insert_change AFTER INSERT ON scoring_weights BEGIN
    INSERT INTO changes (entity, change) VALUES ('weights', 'insert');
END;

CREATE TRIGGER attribute_fields_insert_change AFTER INSERT ON attribute_fields BEGIN
    INSERT INTO changes (entity, change) VALUES ('attribute', 'insert');
END;
CREATE TRIGGER attribute_fields_update_change AFTER UPDATE ON attribute_fields BEGIN
    INSERT INTO changes (entity, change) VALUES ('attribute', 'update');
END;
CREATE TRIGGER attribute_fields_delete_change AFTER DELETE ON attribute_fields BEGIN
    INSERT INTO changes (entity, change) VALUES ('attribute', 'delete');
END;
