//! Profile persistence: validated enterprise and citizen profiles with their derived labels,
//! upserted by 统一社会信用代码 or by the keyed hash of the 身份证号 (never the number itself).

use chrono::{DateTime, NaiveDate, Utc};
use profiles::{AttributeSchema, DerivedLabel, FieldDef, Profile, ProfileInput, Value};
use serde::Serialize;
use sqlx::types::Json;
use utoipa::ToSchema;

use crate::audit::write_audit;
use crate::backend::{Arg, BeginWrite, Db, Listing, SqlBuf, bind_args, fetch_listing, on_pool};
use crate::contacts::{ContactSource, PendingContact, new_nonce};
use crate::policies::{enum_text, escape_like, region_pattern};
use crate::{Page, Paging, Store, StoreError};

/// A stored profile with its identity, bookkeeping and the labels derived when it was saved.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StoredProfile {
    pub id: i64,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The profile itself. A citizen's ID number appears only masked; its keyed hash (an
    /// internal look-up key) and the birth date it encodes (which with the masked number and
    /// gender would leave a few dozen candidate numbers) not at all: the age labels say what
    /// readers need.
    #[schema(value_type = Object)]
    #[serde(serialize_with = "as_readers_see_it")]
    pub profile: Profile,
    /// 智能画像: labels derived by official rules on the day of reading, each with its reason.
    #[schema(value_type = Vec<Object>)]
    pub labels: Vec<DerivedLabel>,
}

/// Body fields kept from every reader; see [`StoredProfile::profile`].
const UNREAD_FIELDS: [&str; 2] = ["id_hash", "birth_date"];

fn as_readers_see_it<S: serde::Serializer>(
    profile: &Profile,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut document = serde_json::to_value(profile).map_err(serde::ser::Error::custom)?;
    if let Some(object) = document.as_object_mut() {
        for field in UNREAD_FIELDS {
            object.remove(field);
        }
    }
    document.serialize(serializer)
}

/// Filters of a profile listing; every one set must hold.
#[derive(Clone, Debug, Default)]
pub struct ProfileFilter {
    pub kind: Option<profiles::ProfileKind>,
    pub region_within: Option<String>,
    pub industry_within: Option<String>,
    pub credit_code: Option<String>,
    /// The start of a 统一社会信用代码, as staff type one they half remember.
    pub credit_code_prefix: Option<String>,
    /// Substring of the name.
    pub name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ProfileRow {
    id: i64,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    body: Json<Profile>,
}

impl ProfileRow {
    /// Labels are derived afresh on `as_of`: an age or a size class changes with the calendar,
    /// not only when the profile is edited.
    fn into_stored(self, as_of: NaiveDate) -> StoredProfile {
        let profile = self.body.0;
        StoredProfile {
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            labels: profile.derived_labels(as_of),
            profile,
        }
    }
}

const SELECT_PROFILE: &str = "SELECT id, version, created_at, updated_at, body FROM profiles";

pub(crate) const INSERT_PROFILE: &str = "INSERT INTO profiles (kind, name, region_code, credit_code, id_hash, \
     industry_code, ownership, employees, revenue, founded_on, birth_date, body, labels, version, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, \
     $14, $14) RETURNING id";

pub(crate) const UPDATE_PROFILE: &str = "UPDATE profiles SET kind = $1, name = $2, region_code = $3, \
     credit_code = $4, id_hash = $5, industry_code = $6, ownership = $7, employees = $8, \
     revenue = $9, founded_on = $10, birth_date = $11, body = $12, labels = $13, \
     version = version + 1, updated_at = $14 WHERE id = $15 RETURNING id";

/// The columns a profile is filtered and indexed by, lifted out of its body.
pub(crate) struct ProfileColumns {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) region: String,
    pub(crate) credit_code: Option<String>,
    pub(crate) id_hash: Option<String>,
    pub(crate) industry: Option<String>,
    pub(crate) ownership: Option<String>,
    pub(crate) employees: Option<f64>,
    pub(crate) revenue: Option<f64>,
    pub(crate) founded_on: Option<NaiveDate>,
    pub(crate) birth_date: Option<NaiveDate>,
    pub(crate) labels: Vec<DerivedLabel>,
}

impl ProfileColumns {
    pub(crate) fn of(profile: &Profile, as_of: NaiveDate) -> Self {
        let facts = profile.facts(as_of);
        let number = |key: &str| match facts.get(key) {
            Some(Value::Number(n)) => Some(*n),
            _ => None,
        };
        let date = |key: &str| match facts.get(key) {
            Some(Value::Date(d)) => Some(*d),
            _ => None,
        };
        let text = |key: &str| match facts.get(key) {
            Some(Value::Text(t)) => Some(t.clone()),
            _ => None,
        };
        Self {
            kind: enum_text(&profile.kind()),
            name: profile.name().to_owned(),
            region: profile.region().to_owned(),
            credit_code: profile.credit_code().map(str::to_owned),
            id_hash: profile.id_hash().map(str::to_owned),
            industry: text("industry"),
            ownership: text("ownership"),
            employees: number("employees"),
            revenue: number("revenue"),
            founded_on: date("founded_on"),
            birth_date: date("birth_date"),
            labels: profile.derived_labels(as_of),
        }
    }
}

/// Binds $1–$14 of the insert and update statements.
macro_rules! bind_profile_columns {
    ($query:expr, $cols:expr, $profile:expr, $now:expr) => {
        $query
            .bind($cols.kind.as_str())
            .bind($cols.name.as_str())
            .bind($cols.region.as_str())
            .bind($cols.credit_code.as_deref())
            .bind($cols.id_hash.as_deref())
            .bind($cols.industry.as_deref())
            .bind($cols.ownership.as_deref())
            .bind($cols.employees)
            .bind($cols.revenue)
            .bind($cols.founded_on)
            .bind($cols.birth_date)
            .bind(Json($profile))
            .bind(Json(&$cols.labels))
            .bind($now)
    };
}
pub(crate) use bind_profile_columns;

pub(crate) async fn load_schema(db: &Db) -> Result<AttributeSchema, StoreError> {
    let definitions: Vec<Json<FieldDef>> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT definition FROM attribute_fields ORDER BY key")
            .fetch_all(pool)
            .await?
    });
    let mut schema = AttributeSchema::builtin();
    for definition in definitions {
        schema.extend(definition.0)?;
    }
    Ok(schema)
}

impl Store {
    /// Validates `input` against the current schema, optionally over an existing profile. Too
    /// many contacts are refused before anything else is looked at.
    async fn validate_profile(
        &self,
        input: ProfileInput,
        existing: Option<&Profile>,
    ) -> Result<Profile, StoreError> {
        input.check_contact_count(self.max_contacts)?;
        let topics = self.topics().await?;
        input.check_interests(&topics.codes)?;
        let schema = self.attribute_schema().await?;
        let mut profile = input.validate(&self.id_key, &schema, existing, self.today())?;
        profile.retarget_interests(&topics.aliases);
        Ok(profile)
    }

    pub async fn create_profile(
        &self,
        input: ProfileInput,
        actor: &str,
    ) -> Result<StoredProfile, StoreError> {
        let profile = self.validate_profile(input, None).await?;
        let id = self.insert_profile(&profile, actor).await?;
        self.profile(id).await
    }

    async fn insert_profile(&self, profile: &Profile, actor: &str) -> Result<i64, StoreError> {
        let now = self.now();
        let cols = ProfileColumns::of(profile, self.today());
        Ok(on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = bind_profile_columns!(sqlx::query_scalar(INSERT_PROFILE), cols, profile, now)
                .fetch_one(&mut *tx)
                .await?;
            write_audit!(tx, now, actor, "create", "profile", id,
                serde_json::json!({"kind": cols.kind}))?;
            tx.commit().await?;
            id
        }))
    }

    /// Replaces profile `id` with `input`. A citizen update may omit the ID number: the stored
    /// masked form and hash are kept. Returns the profile and the addresses `source` added that
    /// must confirm before packs go to them (none when the source is trusted).
    pub async fn update_profile(
        &self,
        id: i64,
        input: ProfileInput,
        actor: &str,
        source: ContactSource,
    ) -> Result<(StoredProfile, Vec<PendingContact>), StoreError> {
        let existing = self.profile(id).await?;
        let profile = self
            .validate_profile(input, Some(&existing.profile))
            .await?;
        // Its owner saving what is stored already changes nothing: no version, audit entry or
        // change for the matcher. (A trusted source's save confirms every listed address, so it
        // is written even unchanged.)
        if source == ContactSource::Owner && profile == existing.profile {
            return Ok((existing, Vec::new()));
        }
        let pending = self
            .replace_profile(id, &profile, actor, source, Some(&existing.profile))
            .await?;
        Ok((self.profile(id).await?, pending))
    }

    /// Writes `profile` over profile `id` with its audit row and, in the same transaction, the
    /// confirmation state of its addresses: addresses no longer listed stop waiting, a trusted
    /// source confirms every listed address, and addresses the owner added (listed now, not in
    /// `previous`) start waiting.
    async fn replace_profile(
        &self,
        id: i64,
        profile: &Profile,
        actor: &str,
        source: ContactSource,
        previous: Option<&Profile>,
    ) -> Result<Vec<PendingContact>, StoreError> {
        let now = self.now();
        let cols = ProfileColumns::of(profile, self.today());
        let listed: Vec<String> = profile.contacts().iter().map(|c| c.email.clone()).collect();
        let mut clear = SqlBuf::new("DELETE FROM contact_confirmations WHERE profile_id = ");
        clear.arg(Arg::Int(id));
        let mut added = Vec::new();
        if source == ContactSource::Owner && !listed.is_empty() {
            clear.push(" AND email NOT IN ");
            clear.tuple(listed.iter().map(|email| Arg::Text(email.clone())));
            let before: std::collections::HashSet<&str> = previous
                .map(|p| p.contacts().iter().map(|c| c.email.as_str()).collect())
                .unwrap_or_default();
            for email in &listed {
                if !before.contains(email.as_str()) && !added.iter().any(|(e, _)| e == email) {
                    added.push((email.clone(), new_nonce()?));
                }
            }
        }
        let detail = match identity_changes(previous, profile) {
            changed if changed.is_empty() => serde_json::json!({}),
            changed => serde_json::json!({"identity_changed": changed}),
        };
        Ok(on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let updated: Option<i64> =
                bind_profile_columns!(sqlx::query_scalar(UPDATE_PROFILE), cols, profile, now)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            updated.ok_or_else(|| not_found(id))?;
            bind_args!(sqlx::query(&clear.sql), &clear.args).execute(&mut *tx).await?;
            let mut pending = Vec::with_capacity(added.len());
            for (email, nonce) in &added {
                let row: Option<PendingContact> = sqlx::query_as(
                    "INSERT INTO contact_confirmations (profile_id, email, nonce, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (profile_id, email) DO NOTHING \
                     RETURNING id, profile_id, email, nonce",
                )
                .bind(id)
                .bind(email)
                .bind(*nonce)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                pending.extend(row);
            }
            write_audit!(tx, now, actor, "update", "profile", id, detail)?;
            tx.commit().await?;
            pending
        }))
    }

    /// Creates the profile, or replaces the one with the same credit code or ID-number hash.
    /// Returns the id and whether it was created.
    pub async fn upsert_profile(
        &self,
        input: ProfileInput,
        actor: &str,
    ) -> Result<(i64, bool), StoreError> {
        let profile = self.validate_profile(input, None).await?;
        let existing: Option<i64> = on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT id FROM profiles WHERE credit_code = $1 OR id_hash = $2")
                .bind(profile.credit_code())
                .bind(profile.id_hash())
                .fetch_optional(pool)
                .await?
        });
        match existing {
            Some(id) => {
                self.replace_profile(id, &profile, actor, ContactSource::Trusted, None)
                    .await?;
                Ok((id, false))
            }
            None => Ok((self.insert_profile(&profile, actor).await?, true)),
        }
    }

    pub async fn delete_profile(&self, id: i64, actor: &str) -> Result<(), StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let deleted = sqlx::query("DELETE FROM profiles WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(not_found(id));
            }
            write_audit!(tx, now, actor, "delete", "profile", id, serde_json::json!({}))?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn profile(&self, id: i64) -> Result<StoredProfile, StoreError> {
        let row: Option<ProfileRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!("{SELECT_PROFILE} WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(|r| r.into_stored(self.today()))
            .ok_or_else(|| not_found(id))
    }

    pub async fn list_profiles(
        &self,
        filter: &ProfileFilter,
        paging: Paging,
    ) -> Result<Page<StoredProfile>, StoreError> {
        let listing = Listing::new(SELECT_PROFILE, "profiles", |sql| {
            push_profile_filters(sql, filter)
        })
        .page("id", paging);
        let (rows, total): (Vec<ProfileRow>, i64) = fetch_listing!(&self.db, listing);
        let today = self.today();
        Ok(Page::new(
            rows.into_iter().map(|r| r.into_stored(today)).collect(),
            total,
            paging,
        ))
    }

    pub async fn count_profiles(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM profiles").fetch_one(pool).await?
        }))
    }
}

fn push_profile_filters(sql: &mut SqlBuf, filter: &ProfileFilter) {
    sql.push(" WHERE 1 = 1");
    if let Some(kind) = &filter.kind {
        sql.push(" AND kind = ").arg(Arg::Text(enum_text(kind)));
    }
    if let Some(region) = &filter.region_within {
        sql.push(" AND region_code LIKE ")
            .arg(Arg::Text(region_pattern(region)))
            .push(" ESCAPE '\\'");
    }
    if let Some(industry) = &filter.industry_within {
        sql.push(" AND industry_code LIKE ")
            .arg(Arg::Text(format!("{}%", escape_like(industry))))
            .push(" ESCAPE '\\'");
    }
    if let Some(code) = &filter.credit_code {
        sql.push(" AND credit_code = ").arg(Arg::Text(code.clone()));
    }
    if let Some(prefix) = &filter.credit_code_prefix {
        sql.push(" AND credit_code LIKE ")
            .arg(Arg::Text(format!("{}%", escape_like(prefix))))
            .push(" ESCAPE '\\'");
    }
    if let Some(name) = &filter.name {
        sql.push(" AND name LIKE ")
            .arg(Arg::Text(format!("%{}%", escape_like(name))))
            .push(" ESCAPE '\\'");
    }
}

/// The identity fields (统一社会信用代码, 身份证号) an update changes, by input field name; the
/// audit log records that they changed, never the values.
fn identity_changes(previous: Option<&Profile>, next: &Profile) -> Vec<&'static str> {
    let Some(previous) = previous else {
        return Vec::new();
    };
    let mut changed = Vec::new();
    if previous.kind() != next.kind() {
        changed.push("kind");
    }
    if previous.credit_code() != next.credit_code() && next.credit_code().is_some() {
        changed.push("credit_code");
    }
    if previous.id_hash() != next.id_hash() && next.id_hash().is_some() {
        changed.push("id_number");
    }
    changed
}

fn not_found(id: i64) -> StoreError {
    StoreError::NotFound {
        entity: "profile",
        id: id.to_string(),
    }
}
