//! The tag taxonomy: dimensions (audience, region, industry, size, topic, stage, qualification)
//! and their tags with codes, bilingual labels, synonyms, parents and weights. Policies refer to
//! tags by code, so a tag in use is retired rather than deleted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use utoipa::ToSchema;

use crate::audit::write_audit;
use crate::backend::{Arg, BeginWrite, Listing, fetch_listing, on_pool};
use crate::error::FieldError;
use crate::policies::{enum_text, escape_like};
use crate::{Page, Paging, Store, StoreError};

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct TagDimension {
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
    /// Whether tags form a tree whose ancestors match their descendants (regions, industries).
    pub hierarchical: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TagStatus {
    #[default]
    Active,
    Retired,
    Merged,
}

/// What an administrator writes to create or change a tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagInput {
    pub dimension: String,
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
    #[serde(default)]
    pub synonyms: Vec<String>,
    pub parent_code: Option<String>,
    #[serde(default = "default_weight")]
    pub weight: f64,
    #[serde(default)]
    pub status: TagStatus,
}

fn default_weight() -> f64 {
    1.0
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Tag {
    pub id: i64,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The code this tag was merged into, when its status is `merged`.
    pub merged_into: Option<String>,
    #[serde(flatten)]
    pub input: TagInput,
}

#[derive(Clone, Debug, Default)]
pub struct TagFilter {
    pub dimension: Option<String>,
    pub status: Option<TagStatus>,
    pub parent_code: Option<String>,
    /// Substring of the code, either label or a synonym.
    pub text: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TagRow {
    id: i64,
    dimension: String,
    code: String,
    label_zh: String,
    label_en: String,
    synonyms: Json<Vec<String>>,
    parent_code: Option<String>,
    weight: f64,
    status: String,
    merged_into: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<TagRow> for Tag {
    type Error = StoreError;
    fn try_from(row: TagRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            merged_into: row.merged_into,
            input: TagInput {
                dimension: row.dimension,
                code: row.code,
                label_zh: row.label_zh,
                label_en: row.label_en,
                synonyms: row.synonyms.0,
                parent_code: row.parent_code,
                weight: row.weight,
                status: serde_json::from_value(serde_json::Value::String(row.status))?,
            },
        })
    }
}

const SELECT_TAG: &str = "SELECT id, dimension, code, label_zh, label_en, synonyms, parent_code, \
     weight, status, merged_into, version, created_at, updated_at FROM tags";

/// The standard dimensions: (code, zh, en, hierarchical). Their score weights are part of the
/// score weights (`matcher::Weights`).
const DIMENSIONS: &[(&str, &str, &str, bool)] = &[
    ("audience", "适用对象", "Audience class", false),
    ("region", "行政区划", "Region", true),
    ("industry", "行业", "Industry", true),
    ("size", "企业规模", "Enterprise size", false),
    ("topic", "政策主题", "Topic", false),
    ("stage", "生命周期", "Life-cycle stage", false),
    ("qualification", "资质", "Qualification", false),
];

/// The flat standard tags: (dimension, code, zh, en).
const STANDARD_TAGS: &[(&str, &str, &str, &str)] = &[
    (
        "audience",
        "high_tech",
        "高新技术企业",
        "High-tech enterprise",
    ),
    (
        "audience",
        "foreign_funded",
        "外资企业",
        "Foreign-funded enterprise",
    ),
    ("audience", "sme", "中小企业", "Small or medium enterprise"),
    ("audience", "private", "民营企业", "Private enterprise"),
    (
        "audience",
        "state_owned",
        "国有企业",
        "State-owned enterprise",
    ),
    (
        "audience",
        "public_institution",
        "事业单位",
        "Public institution",
    ),
    ("audience", "individual", "个人", "Individual"),
    ("size", "large", "大型", "Large"),
    ("size", "medium", "中型", "Medium"),
    ("size", "small", "小型", "Small"),
    ("size", "micro", "微型", "Micro"),
    ("topic", "tax", "税费减免", "Tax relief"),
    ("topic", "rnd", "研发创新", "R&D and innovation"),
    ("topic", "finance", "融资信贷", "Financing and credit"),
    ("topic", "employment", "就业创业", "Employment"),
    ("topic", "talent", "人才引进", "Talent"),
    ("topic", "startup", "创业扶持", "Start-up support"),
    (
        "topic",
        "foreign_trade",
        "外资外贸",
        "Foreign investment and trade",
    ),
    ("topic", "culture", "文化产业", "Culture industries"),
    ("topic", "elderly", "养老服务", "Elderly care"),
    ("topic", "disability", "残疾人保障", "Disability support"),
    ("topic", "education", "教育培训", "Education and training"),
    ("topic", "housing", "住房保障", "Housing"),
    ("topic", "medical", "医疗保障", "Medical insurance"),
    ("topic", "veterans", "退役军人", "Veterans"),
    ("topic", "graduates", "高校毕业生", "Graduates"),
    ("topic", "digital", "数字经济", "Digital economy"),
    ("topic", "green", "绿色低碳", "Green and low-carbon"),
    ("topic", "agriculture", "农业农村", "Agriculture"),
    ("topic", "social_security", "社会保障", "Social security"),
    ("topic", "consumption", "消费促进", "Consumption"),
    (
        "topic",
        "foreign_trade",
        "外资外贸",
        "Foreign investment and trade",
    ),
    ("stage", "founding", "企业开办", "Founding"),
    ("stage", "growth", "成长发展", "Growth"),
    ("stage", "listing", "上市融资", "Listing"),
    ("stage", "hiring", "招聘用工", "Hiring"),
    ("stage", "retirement", "退休养老", "Retirement"),
    ("stage", "job_loss", "失业再就业", "Job loss"),
    ("stage", "graduation", "毕业就业", "Graduation"),
    (
        "qualification",
        "high_tech",
        "高新技术企业",
        "High-tech enterprise certificate",
    ),
    (
        "qualification",
        "tech_sme",
        "科技型中小企业",
        "Technology-based SME",
    ),
    (
        "qualification",
        "specialized_new",
        "专精特新中小企业",
        "Specialised and innovative SME",
    ),
    (
        "qualification",
        "little_giant",
        "专精特新“小巨人”",
        "'Little giant' enterprise",
    ),
    (
        "qualification",
        "innovative_sme",
        "创新型中小企业",
        "Innovative SME",
    ),
];

/// The refusal to merge or rename a tag that was already merged: its code is an alias now.
fn already_merged(code: &str) -> StoreError {
    StoreError::State {
        code: "tag_merged",
        message_zh: format!("标签 {code} 已合并到其他标签，不能再合并或改名"),
        message_en: format!("tag {code} was merged into another and cannot be merged or renamed"),
    }
}

/// The ids of the policies carrying a tag: `(dimension, code)`.
const POLICIES_WITH_TAG: &str =
    "SELECT policy_id FROM policy_tags WHERE dimension = $1 AND code = $2 ORDER BY policy_id";

const INSERT_TAG: &str = "INSERT INTO tags (dimension, code, label_zh, label_en, synonyms, \
     parent_code, weight, status, version, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)";

/// In the transaction `$tx` of a rename or merge of topic `$old` into `$new`: every profile's
/// interests and every recipient's muted topics that name `$old` name `$new` instead, so the
/// interest term and the mutes keep meaning what their owners chose. A pattern on the stored JSON
/// narrows the rows read; each is then changed only if it names the code exactly.
/// `$lock` holds the rows read until the transaction ends (PostgreSQL), so a profile saved
/// meanwhile is not overwritten by the body read before it.
macro_rules! retarget_topic {
    ($tx:expr, $old:expr, $new:expr, $now:expr, $lock:expr) => {{
        let current = std::collections::BTreeMap::from([($old.to_owned(), $new.to_owned())]);
        let pattern = format!("%\"{}\"%", crate::policies::escape_like($old));
        let profiles: Vec<(i64, Json<profiles::Profile>)> = sqlx::query_as(&format!(
            "SELECT id, body FROM profiles WHERE CAST(body AS TEXT) LIKE $1 ESCAPE '\\'{}",
            $lock
        ))
        .bind(&pattern)
        .fetch_all(&mut *$tx)
        .await?;
        for (id, Json(mut profile)) in profiles {
            if profile.retarget_interests(&current) {
                sqlx::query(
                    "UPDATE profiles SET body = $1, version = version + 1, updated_at = $2 WHERE id = $3",
                )
                .bind(Json(&profile))
                .bind($now)
                .bind(id)
                .execute(&mut *$tx)
                .await?;
            }
        }
        let muting: Vec<(i64, Json<crate::Preferences>)> = sqlx::query_as(&format!(
            "SELECT profile_id, settings FROM preferences WHERE CAST(settings AS TEXT) LIKE $1 ESCAPE '\\'{}",
            $lock
        ))
        .bind(&pattern)
        .fetch_all(&mut *$tx)
        .await?;
        for (id, Json(mut preferences)) in muting {
            if retarget_codes(&mut preferences.muted_topics, &current) {
                sqlx::query("UPDATE preferences SET settings = $1, updated_at = $2 WHERE profile_id = $3")
                    .bind(Json(&preferences))
                    .bind($now)
                    .bind(id)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}

/// The topic dimension as saves check and rewrite against it.
pub struct Topics {
    /// Every code, merged and retired ones included: what interests, mutes and policies' topic
    /// lists may name.
    pub codes: std::collections::BTreeSet<String>,
    /// Each code merged or renamed away, with the code it now lives on in (chains followed):
    /// what saved interests and mutes are rewritten through.
    pub aliases: std::collections::BTreeMap<String, String>,
}

/// The refusal of a merge into `into`, which is not another active tag of the dimension named
/// `names` (Chinese, English).
fn merge_target(into: &str, (dimension_zh, dimension_en): (String, String)) -> StoreError {
    StoreError::Invalid(vec![crate::FieldError::new(
        "into",
        "merge_target",
        format!("合并目标 {into} 须为“{dimension_zh}”下另一个启用中的标签"),
        format!("the target {into} must be another active tag of {dimension_en}"),
    )])
}

/// Replaces each of `codes` that `current` maps (merged or renamed away) by the code it now has,
/// keeping the first place of each; whether any changed.
pub(crate) fn retarget_codes(
    codes: &mut Vec<String>,
    current: &std::collections::BTreeMap<String, String>,
) -> bool {
    if !codes.iter().any(|code| current.contains_key(code)) {
        return false;
    }
    let mut retargeted: Vec<String> = Vec::with_capacity(codes.len());
    for code in std::mem::take(codes) {
        let code = current.get(&code).cloned().unwrap_or(code);
        if !retargeted.contains(&code) {
            retargeted.push(code);
        }
    }
    *codes = retargeted;
    true
}

impl Store {
    /// Inserts the standard dimensions and tags that are not there yet; administrators' edits to
    /// existing ones are left alone.
    pub(crate) async fn seed_standard_taxonomy(&self) -> Result<(), StoreError> {
        let now = self.now();
        let regions = profiles::codes::known_regions();
        let industries = profiles::codes::industry_sections();
        let divisions = profiles::codes::industry_divisions();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for (code, zh, en, hierarchical) in DIMENSIONS {
                sqlx::query(
                    "INSERT INTO tag_dimensions (code, label_zh, label_en, hierarchical) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (code) DO NOTHING",
                )
                .bind(code).bind(zh).bind(en).bind(hierarchical)
                .execute(&mut *tx)
                .await?;
            }
            let flat = STANDARD_TAGS.iter().map(|(d, c, zh, en)| (*d, c.to_string(), zh.to_string(), en.to_string(), None));
            let region_tags = regions.iter().map(|r| ("region", r.code.to_string(), r.name_zh.to_string(), r.name_en.to_string(), profiles::codes::region_parent(r.code)));
            let industry_tags = industries.iter().map(|s| ("industry", s.code.to_string(), s.name_zh.to_string(), s.name_en.to_string(), None));
            let division_tags = divisions.iter().map(|d| ("industry", d.code.clone(), d.name_zh.to_string(), d.name_en.to_string(), Some(d.section.to_string())));
            for (dimension, code, zh, en, parent) in flat.chain(region_tags).chain(industry_tags).chain(division_tags) {
                sqlx::query(&format!("{INSERT_TAG} ON CONFLICT (dimension, code) DO NOTHING"))
                    .bind(dimension).bind(code).bind(zh).bind(en)
                    .bind(Json(Vec::<String>::new())).bind(parent).bind(1.0_f64)
                    .bind("active").bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn tag_dimensions(&self) -> Result<Vec<TagDimension>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT code, label_zh, label_en, hierarchical FROM tag_dimensions ORDER BY code",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    async fn check_tag(&self, input: &TagInput) -> Result<(), StoreError> {
        let mut problems = Vec::new();
        let dimensions = self.tag_dimensions().await?;
        if !dimensions.iter().any(|d| d.code == input.dimension) {
            problems.push(FieldError::new(
                "dimension",
                "unknown_dimension",
                format!("维度“{}”不存在", input.dimension),
                format!("dimension {:?} does not exist", input.dimension),
            ));
        }
        let code_ok = !input.code.is_empty()
            && input.code.len() <= 64
            && input
                .code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !code_ok {
            problems.push(FieldError::new(
                "code",
                "tag_code",
                "代码须为1到64位字母、数字、下划线或连字符",
                "code must be 1–64 letters, digits, '_' or '-'",
            ));
        } else if input.dimension == "topic" && !profiles::coded::is_code(&input.code) {
            // Profiles' interests and recipients' mutes name topics by code, in this syntax.
            problems.push(FieldError::new(
                "code",
                "tag_code",
                "主题代码须以小写字母开头，只含小写字母、数字和下划线",
                "a topic code starts with a lowercase letter and holds only lowercase letters, digits and '_'",
            ));
        }
        for (field, label) in [("label_zh", &input.label_zh), ("label_en", &input.label_en)] {
            if label.trim().is_empty() {
                problems.push(FieldError::new(
                    field,
                    "required",
                    "名称不能为空",
                    format!("{field} must not be empty"),
                ));
            }
        }
        if !(0.0..=matcher::MAX_WEIGHT).contains(&input.weight) || input.weight.is_sign_negative() {
            problems.push(FieldError::new(
                "weight",
                "weight_range",
                "权重须为 0 到 1000 之间的数",
                "weight must be a number from 0 to 1000",
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Invalid(problems))
        }
    }

    pub async fn create_tag(&self, input: &TagInput, actor: &str) -> Result<Tag, StoreError> {
        self.check_tag(input).await?;
        let now = self.now();
        let id = on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(&format!("{INSERT_TAG} RETURNING id"))
                .bind(&input.dimension).bind(&input.code).bind(&input.label_zh)
                .bind(&input.label_en).bind(Json(&input.synonyms)).bind(&input.parent_code)
                .bind(input.weight).bind(enum_text(&input.status)).bind(now)
                .fetch_one(&mut *tx)
                .await?;
            write_audit!(tx, now, actor, "create", "tag", id, serde_json::json!(input))?;
            tx.commit().await?;
            id
        });
        self.tag(id).await
    }

    /// Changes a tag's labels, synonyms, parent, weight or status (retiring it keeps every policy
    /// that carries it as it is). Its dimension and code stay: policies refer to them, so a new
    /// code goes through [`Store::rename_tag`] and folding into another tag through a merge.
    pub async fn update_tag(
        &self,
        id: i64,
        input: &TagInput,
        actor: &str,
    ) -> Result<Tag, StoreError> {
        let current = self.check_tag_update(id, input).await?;
        // Saving what is stored already changes nothing: no version, audit entry or change.
        if current.input == *input {
            return Ok(current);
        }
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE tags SET dimension = $1, code = $2, label_zh = $3, label_en = $4, \
                 synonyms = $5, parent_code = $6, weight = $7, status = $8, \
                 version = version + 1, updated_at = $9 WHERE id = $10",
            )
            .bind(&input.dimension).bind(&input.code).bind(&input.label_zh)
            .bind(&input.label_en).bind(Json(&input.synonyms)).bind(&input.parent_code)
            .bind(input.weight).bind(enum_text(&input.status)).bind(now).bind(id)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(not_found(id));
            }
            write_audit!(tx, now, actor, "update", "tag", id, serde_json::json!(input))?;
            tx.commit().await?;
        });
        self.tag(id).await
    }

    /// Checks a change [`Store::update_tag`] would save, saving nothing; returns the tag as it is.
    pub async fn check_tag_update(&self, id: i64, input: &TagInput) -> Result<Tag, StoreError> {
        self.check_tag(input).await?;
        let current = self.tag(id).await?;
        let mut problems = Vec::new();
        if input.dimension != current.input.dimension {
            problems.push(FieldError::new(
                "dimension",
                "immutable",
                "标签的维度不能修改，请新建标签后合并",
                "a tag's dimension cannot change; create a tag in the other dimension and merge",
            ));
        }
        if input.code != current.input.code {
            problems.push(FieldError::new(
                "code",
                "immutable",
                format!("修改代码请使用 POST /api/v1/tags/{id}/rename，旧代码将继续有效"),
                format!("change a code with POST /api/v1/tags/{id}/rename, which keeps the old code working"),
            ));
        }
        if (input.status == TagStatus::Merged) != (current.input.status == TagStatus::Merged) {
            problems.push(FieldError::new(
                "status",
                "merge_only",
                "“已合并”状态只能通过合并操作设置或保留",
                "the merged status is set by a merge only, and kept",
            ));
        }
        if problems.is_empty() {
            Ok(current)
        } else {
            Err(StoreError::Invalid(problems))
        }
    }

    /// The weights of tags that differ from the default 1, as (dimension, code, weight). Merged
    /// tags are left out: no policy carries them any more.
    pub async fn tag_weights(&self) -> Result<Vec<(String, String, f64)>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT dimension, code, weight FROM tags WHERE weight <> 1 AND status <> 'merged' \
                 ORDER BY dimension, code",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// The topic dimension in one read: every code, and where each merged one now lives.
    pub async fn topics(&self) -> Result<Topics, StoreError> {
        let rows: Vec<(String, Option<String>)> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT code, CASE WHEN status = 'merged' THEN merged_into END FROM tags \
                 WHERE dimension = 'topic'",
            )
            .fetch_all(pool)
            .await?
        });
        let next: std::collections::HashMap<&str, &str> = rows
            .iter()
            .filter_map(|(code, into)| Some((code.as_str(), into.as_deref()?)))
            .collect();
        let aliases = next
            .iter()
            .map(|(code, into)| {
                let mut current = *into;
                // A merge never points back at a merged tag, but a bound guards against a bad row.
                for _ in 0..8 {
                    match next.get(current) {
                        Some(further) => current = further,
                        None => break,
                    }
                }
                ((*code).to_owned(), current.to_owned())
            })
            .collect();
        let codes = rows.into_iter().map(|(code, _)| code).collect();
        Ok(Topics { codes, aliases })
    }

    /// What ends a `SELECT` whose rows the transaction goes on to write: SQLite's write
    /// transaction already holds the database.
    pub(crate) fn row_lock(&self) -> &'static str {
        match self.backend() {
            crate::Backend::Postgres => " FOR UPDATE",
            crate::Backend::Sqlite => "",
        }
    }

    /// A topic filter as its current code: a code merged or renamed away still finds the
    /// policies now carrying its target.
    pub async fn topic_filter(&self, code: Option<String>) -> Result<Option<String>, StoreError> {
        match code {
            Some(code) => Ok(Some(self.canonical_tag("topic", &code).await?)),
            None => Ok(None),
        }
    }

    /// Where a tag code now lives: the code it was merged into (following chains), or itself.
    pub async fn canonical_tag(&self, dimension: &str, code: &str) -> Result<String, StoreError> {
        let mut current = code.to_owned();
        // A merge never points back at a merged tag, but a bound guards against a bad row.
        for _ in 0..8 {
            let next: Option<Option<String>> = on_pool!(&self.db, pool => {
                sqlx::query_scalar(
                    "SELECT merged_into FROM tags WHERE dimension = $1 AND code = $2 AND status = 'merged'",
                )
                .bind(dimension)
                .bind(&current)
                .fetch_optional(pool)
                .await?
            });
            match next.flatten() {
                Some(target) => current = target,
                None => break,
            }
        }
        Ok(current)
    }

    /// Every policy carrying a tag.
    pub async fn policies_with_tag(
        &self,
        dimension: &str,
        code: &str,
    ) -> Result<Vec<crate::policy::Policy>, StoreError> {
        let ids: Vec<i64> = on_pool!(&self.db, pool => {
            sqlx::query_scalar(
                POLICIES_WITH_TAG,
            )
            .bind(dimension)
            .bind(code)
            .fetch_all(pool)
            .await?
        });
        let mut policies = Vec::with_capacity(ids.len());
        for id in ids {
            policies.push(self.policy(id).await?);
        }
        Ok(policies)
    }

    /// The policies as a merge of `code` into `into` would save them (tags replaced), unsaved.
    pub async fn policies_after_merge(
        &self,
        dimension: &str,
        code: &str,
        into: &str,
    ) -> Result<Vec<crate::policy::Policy>, StoreError> {
        let current = std::collections::BTreeMap::from([(code.to_owned(), into.to_owned())]);
        let mut policies = self.policies_with_tag(dimension, code).await?;
        for policy in &mut policies {
            let content = &mut policy.content;
            if let Some(codes) = content.applicability.tags.get_mut(dimension) {
                retarget_codes(codes, &current);
            }
            if dimension == "topic" {
                retarget_codes(&mut content.topics, &current);
            }
        }
        Ok(policies)
    }

    /// The tag `id`, when merging it into `into` is allowed: the target must be another active
    /// tag of its dimension (a 422 naming `into` otherwise). A merge and its dry run check alike.
    pub async fn check_merge(&self, id: i64, into: &str) -> Result<Tag, StoreError> {
        let tag = self.tag(id).await?;
        if tag.input.status == TagStatus::Merged {
            return Err(already_merged(&tag.input.code));
        }
        let dimension = &tag.input.dimension;
        let target: Option<(i64, String)> = on_pool!(&self.db, pool => {
            sqlx::query_as("SELECT id, status FROM tags WHERE dimension = $1 AND code = $2")
                .bind(dimension)
                .bind(into)
                .fetch_optional(pool)
                .await?
        });
        match target {
            Some((target_id, status)) if status == "active" && target_id != id => Ok(tag),
            _ => Err(merge_target(into, self.dimension_names(dimension).await?)),
        }
    }

    /// A dimension's names as the console shows them, for messages: people read the name, not
    /// the code (its code when it has no row, which a checked tag never lacks).
    async fn dimension_names(&self, dimension: &str) -> Result<(String, String), StoreError> {
        let names: Option<(String, String)> = on_pool!(&self.db, pool => {
            sqlx::query_as("SELECT label_zh, label_en FROM tag_dimensions WHERE code = $1")
                .bind(dimension)
                .fetch_optional(pool)
                .await?
        });
        Ok(names.unwrap_or_else(|| (dimension.to_owned(), dimension.to_owned())))
    }

    /// Merges a tag into another of the same dimension: the tag is kept, marked merged, so its
    /// code still resolves; every policy carrying it is saved again carrying the target instead
    /// (a new version each, by `actor`).
    pub async fn merge_tag(&self, id: i64, into: &str, actor: &str) -> Result<Tag, StoreError> {
        let tag = self.check_merge(id, into).await?;
        let dimension = tag.input.dimension.clone();
        let names = self.dimension_names(&dimension).await?;
        let now = self.now();
        let lock = self.row_lock();
        let users: Vec<i64> = on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            // Checked again on the rows this transaction holds, taken in id order: two merges at
            // once (each into the other, or into a tag being merged itself) would otherwise both
            // pass the check above and leave a loop or a chain.
            let held: Vec<(i64, String, String)> = sqlx::query_as(&format!(
                "SELECT id, code, status FROM tags WHERE dimension = $1 AND (id = $2 OR code = $3) \
                 ORDER BY id{lock}"
            ))
            .bind(&dimension)
            .bind(id)
            .bind(into)
            .fetch_all(&mut *tx)
            .await?;
            let target_active = held
                .iter()
                .any(|(held, code, status)| *held != id && code == into && status == "active");
            if !target_active {
                return Err(merge_target(into, names));
            }
            // Only while not merged: a merge made meanwhile by someone else stands.
            let updated = sqlx::query(
                "UPDATE tags SET status = 'merged', merged_into = $1, version = version + 1, updated_at = $2 \
                 WHERE id = $3 AND status <> 'merged'",
            )
            .bind(into)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(already_merged(&tag.input.code));
            }
            write_audit!(tx, now, actor, "merge", "tag", id,
                serde_json::json!({"dimension": dimension, "code": tag.input.code, "into": into}))?;
            if dimension == "topic" {
                retarget_topic!(tx, &tag.input.code, into, now, lock);
            }
            let users: Vec<i64> = sqlx::query_scalar(
                POLICIES_WITH_TAG,
            )
            .bind(&dimension)
            .bind(&tag.input.code)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            users
        });
        self.resave_policies(users, actor).await?;
        self.tag(id).await
    }

    /// Gives a tag a new code. The old code stays behind as a merged alias of the new one, so
    /// imports, filters and API calls that use it keep working; child tags and aliases follow,
    /// and every policy carrying the old code is saved again with the new one (a new version
    /// each, by `actor`).
    pub async fn rename_tag(&self, id: i64, code: &str, actor: &str) -> Result<Tag, StoreError> {
        let tag = self.tag(id).await?;
        let dimension = tag.input.dimension.clone();
        let old = tag.input.code.clone();
        if tag.input.status == TagStatus::Merged {
            return Err(already_merged(&old));
        }
        let renamed = TagInput {
            code: code.to_owned(),
            ..tag.input.clone()
        };
        self.check_tag(&renamed).await?;
        if code == old {
            return Ok(tag);
        }
        let (dimension_zh, dimension_en) = self.dimension_names(&dimension).await?;
        let now = self.now();
        let users: Vec<i64> = on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let taken: Option<i64> =
                sqlx::query_scalar("SELECT id FROM tags WHERE dimension = $1 AND code = $2")
                    .bind(&dimension)
                    .bind(code)
                    .fetch_optional(&mut *tx)
                    .await?;
            if taken.is_some() {
                return Err(StoreError::Invalid(vec![FieldError::new(
                    "code",
                    "duplicate",
                    format!("“{dimension_zh}”下已有代码为 {code} 的标签"),
                    format!("{dimension_en} already has a tag with code {code}"),
                )]));
            }
            sqlx::query("UPDATE tags SET code = $1, version = version + 1, updated_at = $2 WHERE id = $3")
                .bind(code).bind(now).bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!("{INSERT_TAG} RETURNING id"))
                .bind(&dimension).bind(&old).bind(&tag.input.label_zh)
                .bind(&tag.input.label_en).bind(Json(&tag.input.synonyms))
                .bind(&tag.input.parent_code).bind(tag.input.weight)
                .bind(enum_text(&TagStatus::Merged)).bind(now)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query("UPDATE tags SET merged_into = $1 WHERE dimension = $2 AND (code = $3 OR merged_into = $3)")
                .bind(code).bind(&dimension).bind(&old)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE tags SET parent_code = $1 WHERE dimension = $2 AND parent_code = $3")
                .bind(code).bind(&dimension).bind(&old)
                .execute(&mut *tx)
                .await?;
            write_audit!(tx, now, actor, "rename", "tag", id,
                serde_json::json!({"dimension": dimension, "code": old, "to": code}))?;
            if dimension == "topic" {
                retarget_topic!(tx, &old, code, now, self.row_lock());
            }
            let users: Vec<i64> = sqlx::query_scalar(
                POLICIES_WITH_TAG,
            )
            .bind(&dimension)
            .bind(&old)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            users
        });
        self.resave_policies(users, actor).await?;
        self.tag(id).await
    }

    /// Saves policies again as they are, so tag codes that now resolve elsewhere are rewritten
    /// (see `with_canonical_tags`).
    async fn resave_policies(&self, ids: Vec<i64>, actor: &str) -> Result<(), StoreError> {
        for policy_id in ids {
            let policy = self.policy(policy_id).await?;
            self.update_policy(
                policy_id,
                &policy.content,
                actor,
                crate::policies::PublishPush::Never,
            )
            .await?;
        }
        Ok(())
    }

    /// Deletes a tag no policy uses; a tag in use must be retired or merged instead.
    pub async fn delete_tag(&self, id: i64, actor: &str) -> Result<(), StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<(String, String, String)> =
                sqlx::query_as("SELECT dimension, code, status FROM tags WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (dimension, code, status) = row.ok_or_else(|| not_found(id))?;
            // A merged code keeps resolving to its target, and a target keeps its aliases:
            // deleting either would break references made through the alias.
            let aliases: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM tags WHERE dimension = $1 AND merged_into = $2",
            )
            .bind(&dimension)
            .bind(&code)
            .fetch_one(&mut *tx)
            .await?;
            if status == enum_text(&TagStatus::Merged) || aliases > 0 {
                return Err(StoreError::State {
                    code: "tag_in_use",
                    message_zh: format!("标签 {code} 是合并关系的一方（旧代码仍指向合并目标），不能删除"),
                    message_en: format!("tag {code} takes part in a merge (the old code still resolves to its target) and cannot be deleted"),
                });
            }
            let uses: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM policy_tags WHERE dimension = $1 AND code = $2",
            )
            .bind(&dimension)
            .bind(&code)
            .fetch_one(&mut *tx)
            .await?;
            if uses > 0 {
                return Err(StoreError::State {
                    code: "tag_in_use",
                    message_zh: format!("标签 {code} 被 {uses} 项政策使用，不能删除，请停用或合并"),
                    message_en: format!("tag {code} is used by {uses} policies; retire or merge it instead"),
                });
            }
            sqlx::query("DELETE FROM tags WHERE id = $1").bind(id).execute(&mut *tx).await?;
            write_audit!(tx, now, actor, "delete", "tag", id,
                serde_json::json!({"dimension": dimension, "code": code}))?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn tag(&self, id: i64) -> Result<Tag, StoreError> {
        let row: Option<TagRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!("{SELECT_TAG} WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or_else(|| not_found(id))?.try_into()
    }

    pub async fn list_tags(
        &self,
        filter: &TagFilter,
        paging: Paging,
    ) -> Result<Page<Tag>, StoreError> {
        let listing = Listing::new(SELECT_TAG, "tags", |sql| {
            sql.push(" WHERE 1 = 1");
            if let Some(dimension) = &filter.dimension {
                sql.push(" AND dimension = ")
                    .arg(Arg::Text(dimension.clone()));
            }
            if let Some(status) = &filter.status {
                sql.push(" AND status = ").arg(Arg::Text(enum_text(status)));
            }
            if let Some(parent) = &filter.parent_code {
                sql.push(" AND parent_code = ")
                    .arg(Arg::Text(parent.clone()));
            }
            if let Some(text) = &filter.text {
                let pattern = format!("%{}%", escape_like(text));
                sql.push(" AND (code LIKE ")
                    .arg(Arg::Text(pattern.clone()))
                    .push(" ESCAPE '\\' OR label_zh LIKE ")
                    .arg(Arg::Text(pattern.clone()))
                    .push(" ESCAPE '\\' OR label_en LIKE ")
                    .arg(Arg::Text(pattern.clone()))
                    .push(" ESCAPE '\\' OR CAST(synonyms AS TEXT) LIKE ")
                    .arg(Arg::Text(pattern))
                    .push(" ESCAPE '\\')");
            }
        })
        .page("dimension, code", paging);
        let (rows, total): (Vec<TagRow>, i64) = fetch_listing!(&self.db, listing);
        Ok(Page::new(
            rows.into_iter()
                .map(Tag::try_from)
                .collect::<Result<_, _>>()?,
            total,
            paging,
        ))
    }
}

fn not_found(id: i64) -> StoreError {
    StoreError::NotFound {
        entity: "tag",
        id: id.to_string(),
    }
}
