//! Policy persistence: create, read, update, delete and list, with every saved state kept as a
//! version and the filterable facets (tags, departments, application windows) kept in step.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::types::Json;

use crate::audit::{audit_rows, write_audit};
use crate::backend::{
    Arg, BeginWrite, Listing, SqlBuf, bind_args, execute_all, fetch_listing, in_id_lists,
    in_text_lists, insert_rows, on_pool,
};
use crate::policy::{Policy, PolicyContent, PolicyLevel, PolicyStatus};
use crate::{FieldError, Page, Paging, Store, StoreError};

/// Tag codes already resolved to the tags they were merged into, by (dimension, code).
type CanonicalTags = HashMap<(String, String), String>;

/// Filters of a policy listing; every one set must hold.
#[derive(Clone, Debug, Default)]
pub struct PolicyFilter {
    pub status: Option<PolicyStatus>,
    pub level: Option<PolicyLevel>,
    /// Issuing region within this code (GB/T 2260 hierarchy).
    pub region_within: Option<String>,
    pub topic: Option<String>,
    pub audience: Option<String>,
    pub department: Option<String>,
    /// Substring of the title or 文号.
    pub text: Option<String>,
    pub published_from: Option<NaiveDate>,
    pub published_to: Option<NaiveDate>,
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: i64,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    body: Json<PolicyContent>,
}

impl From<PolicyRow> for Policy {
    fn from(row: PolicyRow) -> Self {
        Self {
            id: row.id,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            content: row.body.0,
        }
    }
}

const SELECT_POLICY: &str = "SELECT id, version, created_at, updated_at, body FROM policies";

const INSERT_POLICY: &str = "INSERT INTO policies (doc_number, title, region_code, level, status, \
     delivery_mode, written_on, published_on, valid_from, valid_until, body, version, created_at, \
     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12) RETURNING id";

const UPDATE_POLICY: &str = "UPDATE policies SET doc_number = $1, title = $2, region_code = $3, \
     level = $4, status = $5, delivery_mode = $6, written_on = $7, published_on = $8, \
     valid_from = $9, valid_until = $10, body = $11, version = version + 1, updated_at = $12 \
     WHERE id = $13 RETURNING version";

/// The snake_case name serde gives a unit enum value; the same text goes into the SQL columns.
pub(crate) fn enum_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        other => unreachable!("unit enum serialised as {other:?}"),
    }
}

/// A status as stored; `None` for text no status reads as (the lifecycle check passes it over).
fn status_of(text: String) -> Option<PolicyStatus> {
    serde_json::from_value(serde_json::Value::String(text)).ok()
}

/// Binds the columns shared by insert and update ($1–$12) for `content` at `now`.
macro_rules! bind_policy_columns {
    ($query:expr, $content:expr, $now:expr) => {
        $query
            .bind($content.doc_number.as_str())
            .bind($content.title.as_str())
            .bind($content.region_code.as_str())
            .bind(enum_text(&$content.level))
            .bind(enum_text(&$content.status))
            .bind(enum_text(&$content.delivery_mode))
            .bind($content.written_on)
            .bind($content.published_on)
            .bind($content.valid_from)
            .bind($content.valid_until)
            .bind(Json($content))
            .bind($now)
    };
}

/// One save of a policy inside a write transaction: the policy, the version the save made, and
/// what it holds.
struct Saved<'a> {
    id: i64,
    version: i64,
    content: &'a PolicyContent,
}

/// The statements that bring the facet rows (tags, departments, application windows) of the
/// saved policies in step and keep every save as a version. A policy saved twice gets its facet
/// rows once, from its last save; every save gets its version row. Rows go in multi-row
/// `INSERT`s and old rows out by `policy_id IN (…)`, so a batch costs a few statements, not a
/// few per policy.
fn child_statements(
    saves: &[Saved<'_>],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<SqlBuf>, StoreError> {
    let mut last: HashMap<i64, &PolicyContent> = HashMap::with_capacity(saves.len());
    let mut ids = Vec::with_capacity(saves.len());
    for save in saves {
        if last.insert(save.id, save.content).is_none() {
            ids.push(save.id);
        }
    }
    let mut statements = Vec::new();
    for table in ["policy_tags", "policy_departments", "application_windows"] {
        statements.extend(in_id_lists(
            &format!("DELETE FROM {table} WHERE policy_id IN "),
            &ids,
        ));
    }
    let latest = || ids.iter().map(|id| (*id, last[id]));
    statements.extend(insert_rows(
        "INSERT INTO policy_tags (policy_id, dimension, code) VALUES ",
        3,
        latest().flat_map(|(id, content)| {
            content
                .tag_rows()
                .into_iter()
                .map(move |(dimension, code)| {
                    vec![Arg::Int(id), Arg::Text(dimension), Arg::Text(code)]
                })
        }),
    ));
    statements.extend(insert_rows(
        "INSERT INTO policy_departments (policy_id, department) VALUES ",
        2,
        latest().flat_map(|(id, content)| {
            let mut departments: Vec<&str> = content
                .issuing_departments
                .iter()
                .map(|d| d.trim())
                .filter(|d| !d.is_empty())
                .collect();
            departments.sort_unstable();
            departments.dedup();
            departments
                .into_iter()
                .map(move |department| vec![Arg::Int(id), Arg::Text(department.to_owned())])
        }),
    ));
    statements.extend(insert_rows(
        "INSERT INTO application_windows (policy_id, item_index, item_name, opens_on, closes_on) \
         VALUES ",
        5,
        latest().flat_map(|(id, content)| {
            content
                .benefit_items
                .iter()
                .enumerate()
                .map(move |(index, item)| {
                    vec![
                        Arg::Int(id),
                        Arg::Int(index as i64),
                        Arg::Text(item.name.clone()),
                        Arg::MaybeDate(item.window_opens),
                        Arg::MaybeDate(item.window_closes),
                    ]
                })
        }),
    ));
    let mut versions = Vec::with_capacity(saves.len());
    for save in saves {
        versions.push(vec![
            Arg::Int(save.id),
            Arg::Int(save.version),
            Arg::Json(serde_json::to_value(save.content)?),
            Arg::Text(actor.to_owned()),
            Arg::Time(now),
        ]);
    }
    statements.extend(insert_rows(
        "INSERT INTO policy_versions (policy_id, version, snapshot, actor, created_at) VALUES ",
        5,
        versions,
    ));
    Ok(statements)
}

/// Whether saving a policy also queues its publish push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishPush {
    /// When the saved policy is published, its push to its audience is created in the same
    /// transaction as the save (once per policy: the trigger is unique), so a crash after the
    /// commit cannot lose it.
    WhenPublished,
    /// The same, but the push is planned no earlier than this moment.
    At(DateTime<Utc>),
    /// Imports, expiry, tag rewrites and a publish without pushing save without pushing.
    Never,
}

impl PublishPush {
    /// `Some(not_before)` when a save at `status` queues the push (`None` inside: at once).
    fn queued(self, status: PolicyStatus) -> Option<Option<DateTime<Utc>>> {
        match (self, status) {
            (PublishPush::WhenPublished, PolicyStatus::Published) => Some(None),
            (PublishPush::At(at), PolicyStatus::Published) => Some(Some(at)),
            _ => None,
        }
    }
}

/// The trigger kind, key and spec of the push a published policy makes: the same as
/// `push::PushSpec::Publish` serialises to.
pub fn publish_trigger(policy_id: i64) -> (&'static str, String, serde_json::Value) {
    (
        "publish",
        format!("policy:{policy_id}"),
        serde_json::json!({"kind": "publish", "policy_id": policy_id}),
    )
}

/// The status of policy `$id` as transaction `$tx` sees it; `None` when there is no such policy.
macro_rules! status_in {
    ($tx:expr, $id:expr) => {{
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM policies WHERE id = $1")
                .bind($id)
                .fetch_optional(&mut *$tx)
                .await?;
        status
    }};
}

/// Creates the publish push of policy `$id` in transaction `$tx`, planned no earlier than
/// `$not_before` when set; a push that exists already is left as it is. Evaluates to the new
/// push's id, `None` when there was one.
macro_rules! insert_publish_push {
    ($tx:expr, $id:expr, $actor:expr, $now:expr, $not_before:expr) => {{
        let (kind, key, spec) = publish_trigger($id);
        let created: Option<i64> = sqlx::query_scalar(
            "INSERT INTO pushes (trigger_kind, trigger_key, requested_by, spec, status, \
             rule_version, created_at, not_before) VALUES ($1, $2, $3, $4, 'planning', \
             (SELECT COALESCE(MAX(version), 0) FROM scoring_weights), $5, $6) \
             ON CONFLICT (trigger_kind, trigger_key) DO NOTHING RETURNING id",
        )
        .bind(kind)
        .bind(&key)
        .bind($actor)
        .bind(Json(&spec))
        .bind($now)
        .bind($not_before)
        .fetch_optional(&mut *$tx)
        .await?;
        if let Some(push_id) = created {
            write_audit!($tx, $now, $actor, "create", "push", push_id,
                serde_json::json!({"trigger_kind": kind, "trigger_key": key, "spec": spec,
                    "not_before": $not_before}))?;
        }
        created
    }};
}

/// Queues the publish push of policy `$id` in transaction `$tx` when `$push` says so for the
/// saved status.
macro_rules! queue_publish_push {
    ($tx:expr, $push:expr, $content:expr, $id:expr, $actor:expr, $now:expr) => {{
        if let Some(not_before) = $push.queued($content.status) {
            insert_publish_push!($tx, $id, $actor, $now, not_before);
        }
    }};
}

impl Store {
    /// Validates and stores a new policy as version 1.
    pub async fn create_policy(
        &self,
        content: &PolicyContent,
        actor: &str,
        push: PublishPush,
    ) -> Result<Policy, StoreError> {
        let content = &self.with_canonical_tags(content).await?;
        let schema = self.attribute_schema().await?;
        content.check_save(&schema).map_err(StoreError::Invalid)?;
        self.check_references(None, content, &self.topics().await?.codes)
            .await?
            .map_err(StoreError::Invalid)?;
        let now = self.now();
        let id = on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = bind_policy_columns!(sqlx::query_scalar(INSERT_POLICY), content, now)
                .fetch_one(&mut *tx)
                .await?;
            let saves = [Saved { id, version: 1, content }];
            execute_all!(tx, child_statements(&saves, actor, now)?);
            write_audit!(tx, now, actor, "create", "policy", id, created_detail(content))?;
            queue_publish_push!(tx, push, content, id, actor, now);
            tx.commit().await?;
            id
        });
        self.policy(id).await
    }

    /// Validates and saves a new version of policy `id`; `push` applies when the save changes
    /// its status to published. Content equal to the stored version's is not saved again.
    pub async fn update_policy(
        &self,
        id: i64,
        content: &PolicyContent,
        actor: &str,
        push: PublishPush,
    ) -> Result<Policy, StoreError> {
        let content = &self.with_canonical_tags(content).await?;
        let schema = self.attribute_schema().await?;
        content.check_save(&schema).map_err(StoreError::Invalid)?;
        self.check_references(Some(id), content, &self.topics().await?.codes)
            .await?
            .map_err(StoreError::Invalid)?;
        // Saving what is stored already changes nothing: no version, audit entry or push.
        let current = self.policy(id).await?;
        if current.content == *content {
            return Ok(current);
        }
        let now = self.now();
        let lock = self.row_lock();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            // Checked on the status this transaction holds, so a change saved meanwhile counts.
            let was: Option<String> =
                sqlx::query_scalar(&format!("SELECT status FROM policies WHERE id = $1{lock}"))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let refused = was.clone().and_then(status_of).and_then(|was| was.refuses(content.status));
            if let Some(problem) = refused {
                return Err(StoreError::Invalid(vec![problem]));
            }
            // Only the change to published pushes: editing a policy published without its
            // push must not send it.
            let push = if was == Some(enum_text(&PolicyStatus::Published)) {
                PublishPush::Never
            } else {
                push
            };
            let version: Option<i64> =
                bind_policy_columns!(sqlx::query_scalar(UPDATE_POLICY), content, now)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let version = version.ok_or_else(|| not_found(id))?;
            let saves = [Saved { id, version, content }];
            execute_all!(tx, child_statements(&saves, actor, now)?);
            write_audit!(tx, now, actor, "update", "policy", id, updated_detail(version, content))?;
            queue_publish_push!(tx, push, content, id, actor, now);
            tx.commit().await?;
        });
        self.policy(id).await
    }

    /// The problems of the references a policy makes: each topic must be a topic of the
    /// taxonomy, each related policy another stored policy. The outer `Err` is the database's.
    /// (Read before the save's transaction: a related policy deleted meanwhile leaves a
    /// reference that readers pass over, as after any later delete.)
    async fn check_references(
        &self,
        id: Option<i64>,
        content: &PolicyContent,
        topics: &std::collections::BTreeSet<String>,
    ) -> Result<Result<(), Vec<FieldError>>, StoreError> {
        let mut problems = Vec::new();
        for (i, topic) in content.topics.iter().enumerate() {
            if !topics.contains(topic) {
                problems.push(FieldError::new(
                    format!("topics[{i}]"),
                    "unknown_topic",
                    format!("“{topic}”不是政策主题标签"),
                    format!("“{topic}” is not a topic of the taxonomy"),
                ));
            }
        }
        let related = &content.related_policy_ids;
        for (i, &other) in related.iter().enumerate() {
            let field = format!("related_policy_ids[{i}]");
            if Some(other) == id {
                problems.push(FieldError::new(
                    field,
                    "related_self",
                    "政策不能把自己列为相关政策",
                    "a policy cannot list itself as related",
                ));
                continue;
            }
            let exists: Option<i64> = on_pool!(&self.db, pool => {
                sqlx::query_scalar("SELECT id FROM policies WHERE id = $1")
                    .bind(other)
                    .fetch_optional(pool)
                    .await?
            });
            if exists.is_none() {
                problems.push(FieldError::new(
                    field,
                    "related_unknown",
                    format!("相关政策 {other} 不存在"),
                    format!("related policy {other} does not exist"),
                ));
            }
        }
        Ok(if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        })
    }

    /// Queues the publish push of a policy published without one, planned no earlier than
    /// `not_before` when given. Refused when the policy is not published or already has its push.
    pub async fn queue_policy_push(
        &self,
        id: i64,
        not_before: Option<DateTime<Utc>>,
        actor: &str,
    ) -> Result<i64, StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let status = status_in!(tx, id);
            if status.ok_or_else(|| not_found(id))? != enum_text(&PolicyStatus::Published) {
                return Err(StoreError::State {
                    code: "policy_not_published",
                    message_zh: "只有已发布的政策才能推送".into(),
                    message_en: "only a published policy can be pushed".into(),
                });
            }
            let Some(push_id) = insert_publish_push!(tx, id, actor, now, not_before) else {
                return Err(StoreError::State {
                    code: "policy_already_pushed",
                    message_zh: "这项政策的发布推送已经创建过".into(),
                    message_en: "this policy's publish push exists already".into(),
                });
            };
            tx.commit().await?;
            Ok(push_id)
        })
    }

    /// Deletes a policy that was never published; published ones are revoked instead, so the
    /// notices already delivered keep pointing at a real record.
    pub async fn delete_policy(&self, id: i64, actor: &str) -> Result<(), StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let status = status_in!(tx, id);
            let status = status.ok_or_else(|| not_found(id))?;
            let deletable = [PolicyStatus::Draft, PolicyStatus::InReview]
                .iter()
                .any(|s| enum_text(s) == status);
            if !deletable {
                let (message_zh, message_en) = if status == enum_text(&PolicyStatus::Published) {
                    (
                        "已发布的政策不能删除，请改为废止",
                        "a published policy cannot be deleted; revoke it instead",
                    )
                } else {
                    (
                        "已过期或已废止的政策保留在政策库中（已送达的通知仍指向它），不能删除",
                        "an expired or revoked policy stays in the library (notices already delivered point to it) and cannot be deleted",
                    )
                };
                return Err(StoreError::State {
                    code: "policy_not_deletable",
                    message_zh: message_zh.into(),
                    message_en: message_en.into(),
                });
            }
            sqlx::query("DELETE FROM policies WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            write_audit!(tx, now, actor, "delete", "policy", id, serde_json::json!({}))?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn policy(&self, id: i64) -> Result<Policy, StoreError> {
        let row: Option<PolicyRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!("{SELECT_POLICY} WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Policy::from).ok_or_else(|| not_found(id))
    }

    /// Who saved a version of a policy.
    pub async fn policy_version_actor(&self, id: i64, version: i64) -> Result<String, StoreError> {
        let actor: Option<String> = on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT actor FROM policy_versions WHERE policy_id = $1 AND version = $2")
                .bind(id)
                .bind(version)
                .fetch_optional(pool)
                .await?
        });
        actor.ok_or_else(|| StoreError::NotFound {
            entity: "policy version",
            id: format!("{id}/{version}"),
        })
    }

    /// A saved version of a policy, as it was when saved.
    pub async fn policy_version(&self, id: i64, version: i64) -> Result<PolicyContent, StoreError> {
        let snapshot: Option<Json<PolicyContent>> = on_pool!(&self.db, pool => {
            sqlx::query_scalar(
                "SELECT snapshot FROM policy_versions WHERE policy_id = $1 AND version = $2",
            )
            .bind(id)
            .bind(version)
            .fetch_optional(pool)
            .await?
        });
        snapshot.map(|s| s.0).ok_or_else(|| StoreError::NotFound {
            entity: "policy version",
            id: format!("{id}/{version}"),
        })
    }

    pub async fn list_policies(
        &self,
        filter: &PolicyFilter,
        paging: Paging,
    ) -> Result<Page<Policy>, StoreError> {
        let listing = Listing::new(SELECT_POLICY, "policies", |sql| {
            push_policy_filters(sql, filter)
        })
        .page("published_on DESC, id DESC", paging);
        let (rows, total): (Vec<PolicyRow>, i64) = fetch_listing!(&self.db, listing);
        Ok(Page::new(
            rows.into_iter().map(Policy::from).collect(),
            total,
            paging,
        ))
    }

    /// Every policy whose status is `published`, whatever its validity window: the matcher's feed.
    pub async fn published_policies(&self) -> Result<Vec<Policy>, StoreError> {
        self.policies_where(" WHERE status = 'published'").await
    }

    /// Every policy, whatever its status: the search index's feed.
    pub async fn all_policies(&self) -> Result<Vec<Policy>, StoreError> {
        self.policies_where("").await
    }

    /// The content with each tag code that was merged away replaced by the tag it lives on in, so
    /// old codes keep working in imports and API calls.
    async fn with_canonical_tags(
        &self,
        content: &PolicyContent,
    ) -> Result<PolicyContent, StoreError> {
        self.with_canonical_tags_from(content, &mut CanonicalTags::new())
            .await
    }

    /// As `with_canonical_tags`, resolving each code once for all the policies that share
    /// `resolved`.
    async fn with_canonical_tags_from(
        &self,
        content: &PolicyContent,
        resolved: &mut CanonicalTags,
    ) -> Result<PolicyContent, StoreError> {
        let mut content = content.clone();
        for (dimension, codes) in content.applicability.tags.iter_mut() {
            *codes = self.canonical_codes(dimension, codes, resolved).await?;
        }
        // A topic sent twice is left as sent for validation to name; otherwise topics a merge
        // brought together are listed once.
        let topics = &content.topics;
        let sent_twice = (1..topics.len()).any(|i| topics[..i].contains(&topics[i]));
        if !sent_twice {
            content.topics = self.canonical_codes("topic", topics, resolved).await?;
        }
        Ok(content)
    }

    /// `codes` of `dimension` as their current codes, each once, in their order.
    async fn canonical_codes(
        &self,
        dimension: &str,
        codes: &[String],
        resolved: &mut CanonicalTags,
    ) -> Result<Vec<String>, StoreError> {
        let mut canonical: Vec<String> = Vec::with_capacity(codes.len());
        for code in codes {
            let key = (dimension.to_owned(), code.clone());
            let code = match resolved.get(&key) {
                Some(code) => code.clone(),
                None => {
                    let code = self.canonical_tag(dimension, code).await?;
                    resolved.insert(key, code.clone());
                    code
                }
            };
            if !canonical.contains(&code) {
                canonical.push(code);
            }
        }
        Ok(canonical)
    }

    /// Validates a batch of policies and saves the valid ones in one transaction: a new policy
    /// as version 1, or a new version of the one with the same 文号 and title (an earlier input of
    /// the batch included). One outcome per input, in order: `Ok(true)` created, `Ok(false)`
    /// updated, `Err` its problems. Fails only when the database does, and then nothing of the
    /// batch was written. Imports do not push, so no push is queued.
    pub async fn save_policies(
        &self,
        batch: &[PolicyContent],
        actor: &str,
    ) -> Result<Vec<Result<bool, Vec<FieldError>>>, StoreError> {
        let schema = self.attribute_schema().await?;
        let topics = self.topics().await?.codes;
        let mut resolved = CanonicalTags::new();
        let mut valid = Vec::with_capacity(batch.len());
        let mut outcomes = Vec::with_capacity(batch.len());
        for (index, content) in batch.iter().enumerate() {
            let content = self
                .with_canonical_tags_from(content, &mut resolved)
                .await?;
            let checked = match content.validate(&schema) {
                Ok(()) => self.check_references(None, &content, &topics).await?,
                Err(problems) => Err(problems),
            };
            match checked {
                Ok(()) => {
                    valid.push((index, content));
                    outcomes.push(Ok(true));
                }
                Err(problems) => outcomes.push(Err(problems)),
            }
        }
        let now = self.now();
        let mut lookups = in_text_lists(
            "SELECT id, doc_number, title, status FROM policies WHERE doc_number IN ",
            valid.iter().map(|(_, content)| content.doc_number.as_str()),
        );
        for lookup in &mut lookups {
            // The oldest of policies saved alike (the API allows them) is the one updated; its
            // status is held until the batch commits (SQLite's write transaction holds it all).
            lookup.push(" ORDER BY id").push(self.row_lock());
        }
        let (created, refused) = on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            // Looked up inside the write transaction: on SQLite it holds the write lock, so no
            // other writer can save one of these policies between the look-up and the write.
            let mut known: HashMap<(String, String), (i64, Option<PolicyStatus>)> = HashMap::new();
            for lookup in &lookups {
                let rows: Vec<(i64, String, String, String)> =
                    bind_args!(sqlx::query_as(&lookup.sql), &lookup.args)
                        .fetch_all(&mut *tx)
                        .await?;
                for (id, doc_number, title, status) in rows {
                    known.entry((doc_number, title)).or_insert((id, status_of(status)));
                }
            }
            let mut saves = Vec::with_capacity(valid.len());
            let mut created = Vec::with_capacity(valid.len());
            let mut refused = Vec::new();
            for (index, content) in &valid {
                let key = (content.doc_number.clone(), content.title.clone());
                let saved = known.get(&key).copied();
                if let Some(problem) = saved.and_then(|(_, was)| was?.refuses(content.status)) {
                    refused.push((*index, problem));
                    continue;
                }
                let (save, was_created) = match saved {
                    Some((id, _)) => {
                        let version: i64 =
                            bind_policy_columns!(sqlx::query_scalar(UPDATE_POLICY), content, now)
                                .bind(id)
                                .fetch_one(&mut *tx)
                                .await?;
                        // A later line for the same policy moves on from this one's status.
                        known.insert(key, (id, Some(content.status)));
                        (Saved { id, version, content }, false)
                    }
                    None => {
                        let id: i64 =
                            bind_policy_columns!(sqlx::query_scalar(INSERT_POLICY), content, now)
                                .fetch_one(&mut *tx)
                                .await?;
                        known.insert(key, (id, Some(content.status)));
                        (Saved { id, version: 1, content }, true)
                    }
                };
                created.push((*index, was_created));
                saves.push(save);
            }
            execute_all!(tx, child_statements(&saves, actor, now)?);
            let audit = saves.iter().zip(&created).map(|(save, (_, was_created))| {
                if *was_created {
                    ("create", save.id, created_detail(save.content))
                } else {
                    ("update", save.id, updated_detail(save.version, save.content))
                }
            });
            execute_all!(tx, audit_rows(now, actor, "policy", audit));
            tx.commit().await?;
            (created, refused)
        });
        for (index, was_created) in created {
            outcomes[index] = Ok(was_created);
        }
        for (index, problem) in refused {
            outcomes[index] = Err(vec![problem]);
        }
        Ok(outcomes)
    }

    /// Expires every published policy whose validity window ended before today (China): each is
    /// saved as `expired`, a new version by `system:expiry`. Returns the expired policies.
    pub async fn expire_policies(&self) -> Result<Vec<Policy>, StoreError> {
        let today = self.today();
        let due: Vec<i64> = on_pool!(&self.db, pool => {
            sqlx::query_scalar(
                "SELECT id FROM policies WHERE status = 'published' AND valid_until < $1 ORDER BY id",
            )
            .bind(today)
            .fetch_all(pool)
            .await?
        });
        let mut expired = Vec::with_capacity(due.len());
        for id in due {
            let mut policy = self.policy(id).await?;
            policy.content.status = crate::policy::PolicyStatus::Expired;
            expired.push(
                self.update_policy(id, &policy.content, "system:expiry", PublishPush::Never)
                    .await?,
            );
        }
        Ok(expired)
    }

    /// The policies with the given ids that exist, in id order.
    pub async fn policies_by_ids(&self, ids: &[i64]) -> Result<Vec<Policy>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = SqlBuf::new(&format!("{SELECT_POLICY} WHERE id IN "));
        sql.tuple(ids.iter().map(|id| Arg::Int(*id)))
            .push(" ORDER BY id");
        let rows: Vec<PolicyRow> = on_pool!(&self.db, pool => {
            bind_args!(sqlx::query_as(&sql.sql), &sql.args).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(Policy::from).collect())
    }

    async fn policies_where(&self, condition: &str) -> Result<Vec<Policy>, StoreError> {
        let rows: Vec<PolicyRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!("{SELECT_POLICY}{condition} ORDER BY id"))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Policy::from).collect())
    }

    pub async fn count_policies(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM policies").fetch_one(pool).await?
        }))
    }
}

/// The audit detail of a policy's creation.
fn created_detail(content: &PolicyContent) -> serde_json::Value {
    serde_json::json!({"title": content.title, "status": content.status})
}

/// The audit detail of a policy's new version.
fn updated_detail(version: i64, content: &PolicyContent) -> serde_json::Value {
    serde_json::json!({"version": version, "status": content.status})
}

fn push_policy_filters(sql: &mut SqlBuf, filter: &PolicyFilter) {
    sql.push(" WHERE 1 = 1");
    if let Some(status) = &filter.status {
        sql.push(" AND status = ").arg(Arg::Text(enum_text(status)));
    }
    if let Some(level) = &filter.level {
        sql.push(" AND level = ").arg(Arg::Text(enum_text(level)));
    }
    if let Some(region) = &filter.region_within {
        sql.push(" AND region_code LIKE ")
            .arg(Arg::Text(region_pattern(region)))
            .push(" ESCAPE '\\'");
    }
    for (dimension, code) in [("topic", &filter.topic), ("audience", &filter.audience)] {
        if let Some(code) = code {
            sql.push(" AND EXISTS (SELECT 1 FROM policy_tags t WHERE t.policy_id = policies.id AND t.dimension = ")
                .arg(Arg::Text(dimension.to_owned()))
                .push(" AND t.code = ")
                .arg(Arg::Text(code.clone()))
                .push(")");
        }
    }
    if let Some(department) = &filter.department {
        sql.push(" AND EXISTS (SELECT 1 FROM policy_departments d WHERE d.policy_id = policies.id AND d.department = ")
            .arg(Arg::Text(department.clone()))
            .push(")");
    }
    if let Some(text) = &filter.text {
        let pattern = format!("%{}%", escape_like(text));
        sql.push(" AND (title LIKE ")
            .arg(Arg::Text(pattern.clone()))
            .push(" ESCAPE '\\' OR doc_number LIKE ")
            .arg(Arg::Text(pattern))
            .push(" ESCAPE '\\')");
    }
    if let Some(from) = filter.published_from {
        sql.push(" AND published_on >= ").arg(Arg::Date(from));
    }
    if let Some(to) = filter.published_to {
        sql.push(" AND published_on <= ").arg(Arg::Date(to));
    }
}

/// A LIKE pattern (with `ESCAPE '\\'`) matching every region code within `region`.
pub(crate) fn region_pattern(region: &str) -> String {
    format!("{}%", escape_like(profiles::codes::region_prefix(region)))
}

/// Escapes LIKE's wildcards so user text matches literally.
pub(crate) fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn not_found(id: i64) -> StoreError {
    StoreError::NotFound {
        entity: "policy",
        id: id.to_string(),
    }
}
