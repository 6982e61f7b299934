//! What recipients see and say: inbox items with one read state across channels, feedback
//! (有用/无用), 意愿确认 confirmations, delivery preferences, and the per-policy analytics built
//! from them.

use chrono::{DateTime, NaiveTime, Utc};
use profiles::ContactRole;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sqlx::types::Json;
use utoipa::ToSchema;

use crate::audit::write_audit;
use crate::backend::{Arg, BeginWrite, SqlBuf, bind_args, on_pool};
use crate::policies::{escape_like, region_pattern};
use crate::{Page, Paging, Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxState {
    Unread,
    Read,
    Archived,
}

impl InboxState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Unread => "unread",
            Self::Read => "read",
            Self::Archived => "archived",
        }
    }
}

impl TryFrom<String> for InboxState {
    type Error = serde_json::Error;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        serde_json::from_value(serde_json::Value::String(text))
    }
}

/// One service pack in a recipient's inbox.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct InboxItem {
    pub id: i64,
    pub profile_id: i64,
    pub push_id: i64,
    /// The pack as delivered: policies with reasons, how to apply, deadlines.
    ///
    /// Kept as the stored JSON text (checked to be JSON when the row is read) and sent on as it
    /// is: a listing decoded every pack into a `serde_json::Value` only to write it out again,
    /// most of an inbox page's time. [`InboxItem::pack_value`] decodes it for readers that look
    /// inside.
    #[schema(value_type = Object)]
    pub pack: Json<Box<RawValue>>,
    /// Scoring-weights version that produced the pack's matches.
    pub rule_version: i64,
    #[sqlx(try_from = "String")]
    pub state: InboxState,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl InboxItem {
    /// The pack decoded, for readers that look inside it.
    pub fn pack_value(&self) -> serde_json::Value {
        // The text parsed as JSON when the row was read, so it parses again; `Null` is what a
        // reader indexing into a pack already gets for anything missing.
        serde_json::from_str(self.pack.get()).unwrap_or_default()
    }
}

/// Filters of an inbox listing.
#[derive(Clone, Debug, Default)]
pub struct InboxFilter {
    pub state: Option<InboxState>,
    /// Text anywhere in the pack (titles, summaries, reasons).
    pub text: Option<String>,
}

/// An inbox page with the recipient's unread count.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct InboxPage {
    #[serde(flatten)]
    pub page: Page<InboxItem>,
    pub unread: i64,
}

/// 有用/无用 on one policy of one pack.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Feedback {
    pub inbox_item_id: i64,
    pub policy_id: i64,
    pub useful: bool,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A recipient's 意愿确认 of a 免申即享 / 直达快享 policy.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Confirmation {
    pub policy_id: i64,
    pub profile_id: i64,
    pub name: String,
    /// 统一社会信用代码 of an enterprise; empty for a citizen.
    pub credit_code: String,
    pub confirmed_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// Each push as it happens.
    #[default]
    Immediate,
    /// New matches gathered into a daily digest.
    Daily,
    Weekly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelChoice {
    pub email: bool,
    pub inbox: bool,
}

/// Hours (Asia/Shanghai) when no e-mail is sent; mail due then is held until `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    #[schema(value_type = String, example = "22:00")]
    #[serde(with = "hh_mm")]
    pub start: NaiveTime,
    #[schema(value_type = String, example = "08:00")]
    #[serde(with = "hh_mm")]
    pub end: NaiveTime,
}

mod hh_mm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(&text, "%H:%M")
            .map_err(|_| serde::de::Error::custom(format!("expected HH:MM, got {text:?}")))
    }
}

/// How and how often a recipient wants to hear from the service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    pub channels: ChannelChoice,
    #[serde(default)]
    pub frequency: Frequency,
    /// Topic tags never pushed (e.g. `finance`).
    #[serde(default)]
    pub muted_topics: Vec<String>,
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// Which of an enterprise's contacts get its e-mail; empty means all of them.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub contact_roles: Vec<ContactRole>,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            channels: ChannelChoice {
                email: true,
                inbox: true,
            },
            frequency: Frequency::Immediate,
            muted_topics: Vec::new(),
            quiet_hours: None,
            contact_roles: Vec::new(),
        }
    }
}

/// Delivery and response figures of one policy.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct PolicyAnalytics {
    pub policy_id: i64,
    /// Recipients the policy was pushed to, for any reason.
    pub audience: i64,
    /// Packs holding the policy that reached an inbox.
    pub delivered_inbox: i64,
    /// E-mails holding the policy that were accepted by the mail server.
    pub delivered_email: i64,
    pub read: i64,
    pub useful: i64,
    pub not_useful: i64,
    /// read / delivered_inbox.
    pub read_rate: Option<f64>,
    /// useful / (useful + not_useful).
    pub useful_rate: Option<f64>,
    pub confirmations: i64,
}

/// The columns of an [`InboxItem`], selected.
const SELECT_ITEM_COLUMNS: &str =
    "SELECT id, profile_id, push_id, pack, rule_version, state, created_at, read_at";

fn item_not_found(id: i64) -> StoreError {
    StoreError::NotFound {
        entity: "inbox item",
        id: id.to_string(),
    }
}

pub(crate) fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Store {
    /// One recipient's inbox, newest first, with their unread count.
    ///
    /// One statement gives the page, the total and the unread count, so the three read one
    /// snapshot and always agree (an item arriving between separate reads could show "1 unread"
    /// over an empty page), and an inbox, read far more often than anything else a recipient
    /// does, costs one round trip. The counts ride on each row of the page; a page with no rows
    /// (an empty inbox, a page past the end) is answered by one row of counts alone. The page is
    /// read from the index in its order and streamed (joined to a row of counts instead, SQLite
    /// copied its packs aside first), and the rows are put back in that order here, as a union
    /// does not promise to keep it.
    pub async fn inbox(
        &self,
        profile_id: i64,
        filter: &InboxFilter,
        paging: Paging,
    ) -> Result<InboxPage, StoreError> {
        use sqlx::{FromRow, Row};
        let filters = |sql: &mut SqlBuf| {
            sql.push(" FROM inbox_items WHERE profile_id = ")
                .arg(Arg::Int(profile_id));
            if let Some(state) = filter.state {
                sql.push(" AND state = ")
                    .arg(Arg::Text(state.as_str().to_owned()));
            }
            if let Some(text) = &filter.text {
                sql.push(" AND CAST(pack AS TEXT) LIKE ")
                    .arg(Arg::Text(format!("%{}%", escape_like(text))))
                    .push(" ESCAPE '\\'");
            }
        };
        let newest_first = |sql: &mut SqlBuf, rows: i64| {
            sql.push(" ORDER BY created_at DESC, id DESC LIMIT ")
                .arg(Arg::Int(rows))
                .push(" OFFSET ")
                .arg(Arg::Int(paging.offset()));
        };
        let counts = |sql: &mut SqlBuf| {
            sql.push("(SELECT COUNT(*)");
            filters(sql);
            sql.push(") AS total, (SELECT COUNT(*) FROM inbox_items WHERE profile_id = ")
                .arg(Arg::Int(profile_id))
                .push(" AND state = 'unread') AS unread");
        };
        let mut sql = SqlBuf::new("SELECT * FROM (");
        sql.push(SELECT_ITEM_COLUMNS).push(", ");
        counts(&mut sql);
        filters(&mut sql);
        newest_first(&mut sql, i64::from(paging.per_page));
        sql.push(") AS page UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ");
        counts(&mut sql);
        sql.push(" WHERE NOT EXISTS (SELECT 1");
        filters(&mut sql);
        newest_first(&mut sql, 1);
        sql.push(")");
        let (mut items, mut total, mut unread) = (Vec::new(), 0, 0);
        on_pool!(&self.db, pool => {
            for row in bind_args!(sqlx::query(&sql.sql), &sql.args)
                .fetch_all(pool)
                .await?
            {
                total = row.try_get("total")?;
                unread = row.try_get("unread")?;
                if row.try_get::<Option<i64>, _>("id")?.is_some() {
                    items.push(InboxItem::from_row(&row)?);
                }
            }
        });
        items.sort_unstable_by(|a: &InboxItem, b: &InboxItem| {
            (b.created_at, b.id).cmp(&(a.created_at, a.id))
        });
        Ok(InboxPage {
            page: Page::new(items, total, paging),
            unread,
        })
    }

    pub async fn inbox_item(&self, id: i64) -> Result<InboxItem, StoreError> {
        let item: Option<InboxItem> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!("{SELECT_ITEM_COLUMNS} FROM inbox_items WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        item.ok_or_else(|| item_not_found(id))
    }

    /// The item of one push and recipient, if it reached the inbox.
    pub async fn inbox_item_by_key(&self, key: &str) -> Result<Option<InboxItem>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_as(&format!(
                "{SELECT_ITEM_COLUMNS} FROM inbox_items WHERE idempotency_key = $1"
            ))
                .bind(key)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Moves an item to `state`. Reading it also marks every channel of its pack read, so an
    /// e-mail and its inbox item share one read state.
    pub async fn set_inbox_state(
        &self,
        id: i64,
        state: InboxState,
    ) -> Result<InboxItem, StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let key: Option<(i64, i64)> = sqlx::query_as(
                "UPDATE inbox_items SET state = $1, read_at = CASE WHEN $1 = 'unread' THEN NULL \
                 ELSE COALESCE(read_at, $2) END WHERE id = $3 RETURNING push_id, profile_id",
            )
            .bind(state.as_str())
            .bind(now)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let (push_id, profile_id) = key.ok_or_else(|| item_not_found(id))?;
            if state != InboxState::Unread {
                sqlx::query(
                    "UPDATE deliveries SET read_at = COALESCE(read_at, $1) WHERE push_id = $2 AND profile_id = $3",
                )
                .bind(now)
                .bind(push_id)
                .bind(profile_id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        self.inbox_item(id).await
    }

    /// The push and recipient of an e-mail delivery: what the signed links in that e-mail must
    /// name for it to be honoured.
    pub async fn email_delivery_recipient(
        &self,
        delivery_id: i64,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT push_id, profile_id FROM deliveries WHERE id = $1 AND channel = 'email'",
            )
            .bind(delivery_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Marks a pack read, on every channel, from its e-mail's tracked link.
    pub async fn mark_pack_read(&self, push_id: i64, profile_id: i64) -> Result<(), StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "UPDATE deliveries SET read_at = COALESCE(read_at, $1) WHERE push_id = $2 AND profile_id = $3",
            )
            .bind(now)
            .bind(push_id)
            .bind(profile_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE inbox_items SET state = 'read', read_at = $1 WHERE push_id = $2 \
                 AND profile_id = $3 AND state = 'unread'",
            )
            .bind(now)
            .bind(push_id)
            .bind(profile_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records (or replaces) feedback on one policy of an inbox item; the policy must be in the pack.
    pub async fn give_feedback(
        &self,
        item: &InboxItem,
        policy_id: i64,
        useful: bool,
        comment: Option<&str>,
    ) -> Result<Feedback, StoreError> {
        let now = self.now();
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_as(
                "INSERT INTO feedback (inbox_item_id, policy_id, useful, comment, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (inbox_item_id, policy_id) DO UPDATE SET \
                 useful = excluded.useful, comment = excluded.comment, created_at = excluded.created_at \
                 RETURNING inbox_item_id, policy_id, useful, comment, created_at",
            )
            .bind(item.id)
            .bind(policy_id)
            .bind(useful)
            .bind(comment)
            .bind(now)
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn feedback_of(&self, inbox_item_id: i64) -> Result<Vec<Feedback>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT inbox_item_id, policy_id, useful, comment, created_at FROM feedback \
                 WHERE inbox_item_id = $1 ORDER BY policy_id",
            )
            .bind(inbox_item_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Records a recipient's 意愿确认; confirming twice keeps the first time.
    pub async fn confirm_policy(&self, policy_id: i64, profile_id: i64) -> Result<(), StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO confirmations (policy_id, profile_id, confirmed_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(policy_id)
            .bind(profile_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() > 0 {
                let actor = format!("profile:{profile_id}");
                write_audit!(tx, now, &actor, "confirm", "policy", policy_id, serde_json::json!({"profile_id": profile_id}))?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Everyone who confirmed `policy_id`, first confirmed first; with `region_within`, only
    /// recipients within that region.
    pub async fn confirmations(
        &self,
        policy_id: i64,
        region_within: Option<&str>,
    ) -> Result<Vec<Confirmation>, StoreError> {
        let region = region_within.map(region_pattern);
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT c.policy_id, c.profile_id, p.name, COALESCE(p.credit_code, '') AS credit_code, \
                 c.confirmed_at FROM confirmations c JOIN profiles p ON p.id = c.profile_id \
                 WHERE c.policy_id = $1 AND ($2 IS NULL OR p.region_code LIKE $2 ESCAPE '\\') \
                 ORDER BY c.confirmed_at, c.profile_id",
            )
            .bind(policy_id)
            .bind(&region)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Profiles that confirmed `policy_id`: their application is done and needs no reminder.
    pub async fn confirmed_profiles(&self, policy_id: i64) -> Result<Vec<i64>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT profile_id FROM confirmations WHERE policy_id = $1")
                .bind(policy_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// A recipient's preferences, or the defaults when they never set any.
    pub async fn preferences(&self, profile_id: i64) -> Result<Preferences, StoreError> {
        let row: Option<Json<Preferences>> = on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT settings FROM preferences WHERE profile_id = $1")
                .bind(profile_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|json| json.0).unwrap_or_default())
    }

    /// Preferences of those among `profile_ids` who set any.
    pub async fn preferences_of(
        &self,
        profile_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Preferences>, StoreError> {
        if profile_ids.is_empty() {
            return Ok(Default::default());
        }
        let mut sql = crate::backend::SqlBuf::new(
            "SELECT profile_id, settings FROM preferences WHERE profile_id IN ",
        );
        sql.tuple(profile_ids.iter().map(|id| Arg::Int(*id)));
        let rows: Vec<(i64, Json<Preferences>)> = on_pool!(&self.db, pool => {
            crate::backend::bind_args!(sqlx::query_as(&sql.sql), &sql.args)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(id, json)| (id, json.0)).collect())
    }

    /// Recipients who chose `frequency` for their news.
    pub async fn profiles_with_frequency(
        &self,
        frequency: Frequency,
    ) -> Result<Vec<i64>, StoreError> {
        let field = match self.backend() {
            crate::Backend::Postgres => "settings->>'frequency'",
            crate::Backend::Sqlite => "json_extract(settings, '$.frequency')",
        };
        let value = serde_json::to_value(frequency)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar(&format!("SELECT profile_id FROM preferences WHERE {field} = $1 ORDER BY profile_id"))
                .bind(&value)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn save_preferences(
        &self,
        profile_id: i64,
        preferences: &Preferences,
        actor: &str,
    ) -> Result<Preferences, StoreError> {
        let topics = self.topics().await?;
        let unknown: Vec<crate::FieldError> = preferences
            .muted_topics
            .iter()
            .enumerate()
            .filter_map(|(i, topic)| {
                let field = format!("muted_topics[{i}]");
                if !topics.codes.contains(topic.as_str()) {
                    Some(crate::FieldError::new(
                        field,
                        "unknown_topic",
                        format!("“{topic}”不是政策主题标签"),
                        format!("“{topic}” is not a topic of the taxonomy"),
                    ))
                } else if preferences.muted_topics[..i].contains(topic) {
                    Some(crate::FieldError::new(
                        field,
                        "duplicate",
                        format!("主题“{topic}”重复"),
                        format!("topic {topic} is listed twice"),
                    ))
                } else {
                    None
                }
            })
            .collect();
        if !unknown.is_empty() {
            return Err(StoreError::Invalid(unknown));
        }
        let mut preferences = preferences.clone();
        crate::tags::retarget_codes(&mut preferences.muted_topics, &topics.aliases);
        let preferences = &preferences;
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM profiles WHERE id = $1")
                .bind(profile_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound { entity: "profile", id: profile_id.to_string() });
            }
            sqlx::query(
                "INSERT INTO preferences (profile_id, settings, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (profile_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
            )
            .bind(profile_id)
            .bind(Json(preferences))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            write_audit!(tx, now, actor, "update", "preferences", profile_id, serde_json::to_value(preferences).unwrap_or_default())?;
            tx.commit().await?;
        });
        Ok(preferences.clone())
    }

    /// When each push since `since` was triggered, for charts of pushes over time.
    pub async fn push_times_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT created_at FROM pushes WHERE created_at >= $1 ORDER BY created_at")
                .bind(since)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Per channel: deliveries made and packs read, over all pushes.
    pub async fn channel_totals(&self) -> Result<Vec<(String, i64, i64)>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT channel, COALESCE(SUM(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END), 0), \
                 COUNT(read_at) FROM deliveries GROUP BY channel ORDER BY channel",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Delivery and response figures of one policy over all pushes; with `region_within`, counted
    /// over the recipients within that region only.
    pub async fn policy_analytics(
        &self,
        policy_id: i64,
        region_within: Option<&str>,
    ) -> Result<PolicyAnalytics, StoreError> {
        let region = region_within.map(region_pattern);
        let within = |alias: &str| {
            format!(
                "($2 IS NULL OR {alias}.profile_id IN \
                 (SELECT id FROM profiles WHERE region_code LIKE $2 ESCAPE '\\'))"
            )
        };
        let packs = format!(
            "FROM inbox_items i JOIN pushed_policies pp ON pp.push_id = i.push_id \
             AND pp.profile_id = i.profile_id WHERE pp.policy_id = $1 AND {}",
            within("i")
        );
        let feedback = format!(
            "FROM feedback f JOIN inbox_items i ON i.id = f.inbox_item_id \
             WHERE f.policy_id = $1 AND {}",
            within("i")
        );
        // One statement, so the figures are of one moment.
        let sql = format!(
            "SELECT \
             (SELECT COUNT(DISTINCT profile_id) FROM pushed_policies pp WHERE policy_id = $1 AND {}), \
             (SELECT COUNT(*) {packs}), (SELECT COUNT(i.read_at) {packs}), \
             (SELECT COUNT(*) FROM deliveries d JOIN pushed_policies pp ON pp.push_id = d.push_id \
              AND pp.profile_id = d.profile_id WHERE pp.policy_id = $1 AND d.channel = 'email' \
              AND d.status = 'delivered' AND {}), \
             (SELECT COALESCE(SUM(CASE WHEN f.useful THEN 1 ELSE 0 END), 0) {feedback}), \
             (SELECT COALESCE(SUM(CASE WHEN f.useful THEN 0 ELSE 1 END), 0) {feedback}), \
             (SELECT COUNT(*) FROM confirmations c WHERE policy_id = $1 AND {})",
            within("pp"),
            within("d"),
            within("c")
        );
        let (audience, inbox, read, email, useful, not_useful, confirmations): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(policy_id)
                .bind(&region)
                .fetch_one(pool)
                .await?
        });
        Ok(PolicyAnalytics {
            policy_id,
            audience,
            delivered_inbox: inbox,
            delivered_email: email,
            read,
            useful,
            not_useful,
            read_rate: ratio(read, inbox),
            useful_rate: ratio(useful, useful + not_useful),
            confirmations,
        })
    }
}
