-- Policy Push schema (SQLite). The PostgreSQL twin in ../postgres has the same tables, columns and
-- version numbers; only the types differ. Bodies that the service reads whole are JSON text; the
-- columns beside them are the ones queries filter, sort or join on.

CREATE TABLE policies (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_number          TEXT NOT NULL,
    title               TEXT NOT NULL,
    region_code         TEXT NOT NULL,
    level               TEXT NOT NULL,
    status              TEXT NOT NULL,
    delivery_mode       TEXT NOT NULL,
    written_on          TEXT,
    published_on        TEXT,
    valid_from          TEXT,
    valid_until         TEXT,
    body                TEXT NOT NULL,
    version             BIGINT NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX policies_status_valid_idx ON policies (status, valid_until);
CREATE INDEX policies_region_idx ON policies (region_code);
CREATE INDEX policies_published_idx ON policies (published_on);

-- Every saved state of a policy, so a published policy's earlier versions stay readable.
CREATE TABLE policy_versions (
    policy_id           BIGINT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    version             BIGINT NOT NULL,
    snapshot            TEXT NOT NULL,
    actor               TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    PRIMARY KEY (policy_id, version)
);

-- Topic, audience and applicability tags of a policy, flattened so filters and the taxonomy's
-- rename/merge can reach them with plain indexed SQL.
CREATE TABLE policy_tags (
    policy_id           BIGINT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    dimension           TEXT NOT NULL,
    code                TEXT NOT NULL,
    PRIMARY KEY (policy_id, dimension, code)
);
CREATE INDEX policy_tags_code_idx ON policy_tags (dimension, code);

CREATE TABLE policy_departments (
    policy_id           BIGINT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    department          TEXT NOT NULL,
    PRIMARY KEY (policy_id, department)
);
CREATE INDEX policy_departments_idx ON policy_departments (department);

-- Application windows of benefit items: the calendar and deadline reminders query these.
CREATE TABLE application_windows (
    policy_id           BIGINT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    item_index          BIGINT NOT NULL,
    item_name           TEXT NOT NULL,
    opens_on            TEXT,
    closes_on           TEXT,
    PRIMARY KEY (policy_id, item_index)
);
CREATE INDEX application_windows_closes_idx ON application_windows (closes_on);
CREATE INDEX application_windows_opens_idx ON application_windows (opens_on);

CREATE TABLE profiles (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                TEXT NOT NULL,
    name                TEXT NOT NULL,
    region_code         TEXT NOT NULL,
    credit_code         TEXT,
    id_hash             TEXT,
    industry_code       TEXT,
    ownership           TEXT,
    employees           REAL,
    revenue             REAL,
    founded_on          TEXT,
    birth_date          TEXT,
    body                TEXT NOT NULL,
    labels              TEXT NOT NULL,
    version             BIGINT NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    CONSTRAINT profiles_credit_code_key UNIQUE (credit_code),
    CONSTRAINT profiles_id_hash_key UNIQUE (id_hash)
);
CREATE INDEX profiles_kind_region_idx ON profiles (kind, region_code);
CREATE INDEX profiles_region_idx ON profiles (region_code);
CREATE INDEX profiles_industry_idx ON profiles (industry_code);
CREATE INDEX profiles_employees_idx ON profiles (employees);
CREATE INDEX profiles_revenue_idx ON profiles (revenue);
CREATE INDEX profiles_founded_idx ON profiles (founded_on);
CREATE INDEX profiles_birth_idx ON profiles (birth_date);
CREATE INDEX profiles_name_idx ON profiles (name);

-- Admin-defined profile fields (attr.<key>), on top of the built-in schema.
CREATE TABLE attribute_fields (
    key                 TEXT PRIMARY KEY,
    definition          TEXT NOT NULL,
    created_at          TEXT NOT NULL
);

CREATE TABLE tag_dimensions (
    code                TEXT PRIMARY KEY,
    label_zh            TEXT NOT NULL,
    label_en            TEXT NOT NULL,
    hierarchical        BOOLEAN NOT NULL,
    weight              REAL NOT NULL
);

CREATE TABLE tags (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    dimension           TEXT NOT NULL REFERENCES tag_dimensions (code),
    code                TEXT NOT NULL,
    label_zh            TEXT NOT NULL,
    label_en            TEXT NOT NULL,
    synonyms            TEXT NOT NULL,
    parent_code         TEXT,
    weight              REAL NOT NULL,
    status              TEXT NOT NULL,
    merged_into         TEXT,
    version             BIGINT NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    CONSTRAINT tags_dimension_code_key UNIQUE (dimension, code)
);
CREATE INDEX tags_parent_idx ON tags (dimension, parent_code);

-- Scoring weights are data administrators edit; each save is a new rule version.
CREATE TABLE scoring_weights (
    version             BIGINT PRIMARY KEY,
    weights             TEXT NOT NULL,
    actor               TEXT NOT NULL,
    created_at          TEXT NOT NULL
);

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    username            TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL,
    profile_id          BIGINT REFERENCES profiles (id) ON DELETE SET NULL,
    region_code         TEXT,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          TEXT NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);

CREATE TABLE api_tokens (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id             BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    token_hash          TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    last_used_at        TEXT,
    CONSTRAINT api_tokens_hash_key UNIQUE (token_hash)
);

CREATE TABLE sessions (
    id_hash             TEXT PRIMARY KEY,
    user_id             BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token          TEXT NOT NULL,
    expires_at          TEXT NOT NULL
);

CREATE TABLE audit_log (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    at                  TEXT NOT NULL,
    actor               TEXT NOT NULL,
    action              TEXT NOT NULL,
    entity              TEXT NOT NULL,
    entity_id           TEXT NOT NULL,
    detail              TEXT NOT NULL
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- One row per trigger (publish, schedule run, staff push).
CREATE TABLE pushes (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger_kind        TEXT NOT NULL,
    trigger_key         TEXT NOT NULL,
    requested_by        TEXT NOT NULL,
    spec                TEXT NOT NULL,
    status              TEXT NOT NULL,
    audience_count      BIGINT NOT NULL DEFAULT 0,
    rule_version        BIGINT NOT NULL,
    created_at          TEXT NOT NULL,
    finished_at         TEXT,
    CONSTRAINT pushes_trigger_key UNIQUE (trigger_kind, trigger_key)
);

-- The outbox is the source of truth for delivery. The idempotency key (recipient, policy,
-- reason, channel) is the real exactly-once guard, whatever claims the work.
CREATE TABLE deliveries (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    push_id             BIGINT NOT NULL REFERENCES pushes (id),
    profile_id          BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    channel             TEXT NOT NULL,
    idempotency_key     TEXT NOT NULL,
    payload             TEXT NOT NULL,
    status              TEXT NOT NULL,
    attempts            BIGINT NOT NULL DEFAULT 0,
    next_attempt_at     TEXT NOT NULL,
    claimed_by          TEXT,
    claimed_until       TEXT,
    last_error          TEXT,
    created_at          TEXT NOT NULL,
    sent_at             TEXT,
    CONSTRAINT deliveries_idempotency_key UNIQUE (idempotency_key)
);
CREATE INDEX deliveries_due_idx ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_push_idx ON deliveries (push_id, status);

CREATE TABLE delivery_attempts (
    delivery_id         BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt             BIGINT NOT NULL,
    at                  TEXT NOT NULL,
    outcome             TEXT NOT NULL,
    detail              TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE inbox_items (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    profile_id          BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    push_id             BIGINT NOT NULL REFERENCES pushes (id),
    idempotency_key     TEXT NOT NULL,
    pack                TEXT NOT NULL,
    rule_version        BIGINT NOT NULL,
    state               TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    read_at             TEXT,
    CONSTRAINT inbox_items_idempotency_key UNIQUE (idempotency_key)
);
CREATE INDEX inbox_items_profile_idx ON inbox_items (profile_id, state, created_at);

CREATE TABLE feedback (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    inbox_item_id       BIGINT NOT NULL REFERENCES inbox_items (id) ON DELETE CASCADE,
    policy_id           BIGINT NOT NULL,
    useful              BOOLEAN NOT NULL,
    comment             TEXT,
    created_at          TEXT NOT NULL,
    CONSTRAINT feedback_item_policy_key UNIQUE (inbox_item_id, policy_id)
);
CREATE INDEX feedback_policy_idx ON feedback (policy_id);

-- 意愿确认 for 免申即享 / 直达快享 policies.
CREATE TABLE confirmations (
    policy_id           BIGINT NOT NULL,
    profile_id          BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    confirmed_at        TEXT NOT NULL,
    PRIMARY KEY (policy_id, profile_id)
);

CREATE TABLE preferences (
    profile_id          BIGINT PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
    settings            TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);

CREATE TABLE schedules (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    name                TEXT NOT NULL,
    cron                TEXT NOT NULL,
    job                 TEXT NOT NULL,
    enabled             BOOLEAN NOT NULL,
    last_fired_at       TEXT,
    created_at          TEXT NOT NULL,
    CONSTRAINT schedules_name_key UNIQUE (name)
);

CREATE TABLE import_jobs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                TEXT NOT NULL,
    status              TEXT NOT NULL,
    total_rows          BIGINT NOT NULL DEFAULT 0,
    imported_rows       BIGINT NOT NULL DEFAULT 0,
    failed_rows         BIGINT NOT NULL DEFAULT 0,
    report              TEXT NOT NULL DEFAULT '',
    created_at          TEXT NOT NULL,
    finished_at         TEXT
);
