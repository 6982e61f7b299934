//! Batched profile upserts for bulk import: each input of a batch is validated on its own, and
//! every valid one is written in a single write transaction with a single audit row, so a
//! million-row import costs a few thousand transactions instead of a million.
//!
//! A rejected input writes nothing; a database failure rolls the whole batch back. Either way no
//! profile is ever half-written.

use std::collections::HashMap;

use profiles::{Profile, ProfileInput, ValidationErrors};
use sqlx::types::Json;

use crate::audit::write_audit;
use crate::backend::{
    Arg, BeginWrite, SqlBuf, bind_args, execute_all, in_id_lists, insert_rows, on_pool,
};
use crate::profile_store::{INSERT_PROFILE, ProfileColumns, UPDATE_PROFILE, bind_profile_columns};
use crate::{Store, StoreError};

/// Keys looked up per query: far below SQLite's and PostgreSQL's bound-parameter limits.
const LOOKUP_CHUNK: usize = 500;

/// What became of one valid input of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpsertOutcome {
    Created {
        id: i64,
    },
    Updated {
        id: i64,
    },
    /// A later input of the same batch (at index `by`) has the same credit code or ID number;
    /// the later one was written and this one was not, as if the rows had been saved in order.
    Superseded {
        by: usize,
    },
}

impl UpsertOutcome {
    /// The id of the profile written, unless the input was superseded.
    pub fn id(self) -> Option<i64> {
        match self {
            Self::Created { id } | Self::Updated { id } => Some(id),
            Self::Superseded { .. } => None,
        }
    }

    pub fn is_created(self) -> bool {
        matches!(self, Self::Created { .. })
    }

    /// The batch index of the input written in this one's place.
    pub fn superseded_by(self) -> Option<usize> {
        match self {
            Self::Superseded { by } => Some(by),
            Self::Created { .. } | Self::Updated { .. } => None,
        }
    }
}

/// The identity a profile is upserted on; the two never collide because a profile has one only.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum UpsertKey {
    CreditCode(String),
    IdHash(String),
}

impl UpsertKey {
    fn of(profile: &Profile) -> Option<Self> {
        profile
            .credit_code()
            .map(|code| Self::CreditCode(code.to_owned()))
            .or_else(|| profile.id_hash().map(|hash| Self::IdHash(hash.to_owned())))
    }
}

/// A validated input on its way into the database.
struct Pending {
    index: usize,
    key: Option<UpsertKey>,
    profile: Profile,
    columns: ProfileColumns,
}

/// The ids of the stored profiles the `SELECT`s of [`existing_id_queries`] find, by key, read on
/// transaction `$tx`.
macro_rules! ids_by_key {
    ($tx:expr, $lookups:expr) => {{
        let mut found = HashMap::new();
        for lookup in $lookups {
            let rows: Vec<(i64, Option<String>, Option<String>)> =
                bind_args!(sqlx::query_as(&lookup.sql), &lookup.args)
                    .fetch_all(&mut *$tx)
                    .await?;
            for (id, credit_code, id_hash) in rows {
                let key = match (credit_code, id_hash) {
                    (Some(code), _) => UpsertKey::CreditCode(code),
                    (None, Some(hash)) => UpsertKey::IdHash(hash),
                    (None, None) => continue,
                };
                found.insert(key, id);
            }
        }
        found
    }};
}

impl Store {
    /// Validates every input of `batch` and writes the valid ones in one transaction, creating a
    /// profile or replacing the one with the same credit code or ID-number hash. Returns one
    /// outcome per input, in order; `Err` only when the database fails, and then nothing of the
    /// batch was written.
    pub async fn upsert_profiles(
        &self,
        batch: Vec<ProfileInput>,
        actor: &str,
    ) -> Result<Vec<Result<UpsertOutcome, ValidationErrors>>, StoreError> {
        let schema = self.attribute_schema().await?;
        let topics = self.topics().await?;
        let today = self.today();
        let mut outcomes: Vec<Option<Result<UpsertOutcome, ValidationErrors>>> =
            Vec::with_capacity(batch.len());
        let mut pending = Vec::new();
        for (index, input) in batch.into_iter().enumerate() {
            let validated = input
                .check_contact_count(self.max_contacts)
                .and_then(|()| input.check_interests(&topics.codes))
                .and_then(|()| input.validate(&self.id_key, &schema, None, today));
            match validated {
                Ok(mut profile) => {
                    profile.retarget_interests(&topics.aliases);
                    outcomes.push(None);
                    pending.push(Pending {
                        index,
                        key: UpsertKey::of(&profile),
                        columns: ProfileColumns::of(&profile, today),
                        profile,
                    });
                }
                Err(errors) => outcomes.push(Some(Err(errors))),
            }
        }
        let last_of_key: HashMap<&UpsertKey, usize> = pending
            .iter()
            .filter_map(|p| Some((p.key.as_ref()?, p.index)))
            .collect();
        let superseded: Vec<(usize, usize)> = pending
            .iter()
            .filter_map(|p| {
                let last = last_of_key[p.key.as_ref()?];
                (last != p.index).then_some((p.index, last))
            })
            .collect();
        for (index, by) in superseded {
            outcomes[index] = Some(Ok(UpsertOutcome::Superseded { by }));
        }
        pending.retain(|p| outcomes[p.index].is_none());

        for (index, outcome) in self.write_batch(&pending, actor).await? {
            outcomes[index] = Some(Ok(outcome));
        }
        Ok(outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every input is validated, superseded or written"))
            .collect())
    }

    /// Writes inputs whose keys are distinct, with one audit row for all of them: new keyed
    /// profiles in multi-row `INSERT`s (their ids read back by key, as a multi-row `RETURNING`
    /// promises no order), updates one prepared statement each.
    async fn write_batch(
        &self,
        pending: &[Pending],
        actor: &str,
    ) -> Result<Vec<(usize, UpsertOutcome)>, StoreError> {
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let lookups = existing_id_queries(pending.iter());
        let mut written = Vec::with_capacity(pending.len());
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            // Looked up inside the write transaction: on SQLite it holds the write lock, so no
            // other writer can create one of these keys between the look-up and the insert.
            let existing = ids_by_key!(tx, &lookups);
            let mut fresh = Vec::new();
            let mut updated = Vec::new();
            for p in pending {
                let (profile, cols) = (&p.profile, &p.columns);
                match p.key.as_ref().and_then(|key| existing.get(key)) {
                    Some(&id) => {
                        bind_profile_columns!(sqlx::query(UPDATE_PROFILE), cols, profile, now)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        updated.push(id);
                        written.push((p.index, UpsertOutcome::Updated { id }));
                    }
                    None if p.key.is_some() => fresh.push(p),
                    None => {
                        let id: i64 = bind_profile_columns!(
                            sqlx::query_scalar(INSERT_PROFILE), cols, profile, now
                        )
                        .fetch_one(&mut *tx)
                        .await?;
                        written.push((p.index, UpsertOutcome::Created { id }));
                    }
                }
            }
            // Addresses set by an import count as confirmed.
            execute_all!(tx, in_id_lists(
                "DELETE FROM contact_confirmations WHERE profile_id IN ", &updated));
            let rows = fresh
                .iter()
                .map(|p| profile_args(p, now))
                .collect::<Result<Vec<_>, _>>()?;
            execute_all!(tx, insert_rows(INSERT_PROFILES, PROFILE_WIDTH, rows));
            let created = ids_by_key!(tx, &existing_id_queries(fresh.iter().copied()));
            for p in &fresh {
                let id = p.key.as_ref().and_then(|key| created.get(key)).copied().ok_or_else(|| {
                    StoreError::Database(sqlx::Error::RowNotFound)
                })?;
                written.push((p.index, UpsertOutcome::Created { id }));
            }
            written.sort_unstable_by_key(|(index, _)| *index);
            let ids = |created: bool| -> Vec<i64> {
                written
                    .iter()
                    .filter(|(_, outcome)| outcome.is_created() == created)
                    .filter_map(|(_, outcome)| outcome.id())
                    .collect()
            };
            write_audit!(tx, now, actor, "import", "profile", "batch",
                serde_json::json!({"created": ids(true), "updated": ids(false)}))?;
            tx.commit().await?;
        });
        Ok(written)
    }
}

/// The columns of a multi-row profile insert, in the order [`profile_args`] gives them.
const INSERT_PROFILES: &str = "INSERT INTO profiles (kind, name, region_code, credit_code, \
     id_hash, industry_code, ownership, employees, revenue, founded_on, birth_date, body, labels, \
     version, created_at, updated_at) VALUES ";
const PROFILE_WIDTH: usize = 16;

/// One row of [`INSERT_PROFILES`]: the values `INSERT_PROFILE` binds, as version 1.
fn profile_args(p: &Pending, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<Arg>, StoreError> {
    let cols = &p.columns;
    let text = |value: &Option<String>| value.clone().map_or(Arg::Null, Arg::Text);
    Ok(vec![
        Arg::Text(cols.kind.clone()),
        Arg::Text(cols.name.clone()),
        Arg::Text(cols.region.clone()),
        text(&cols.credit_code),
        text(&cols.id_hash),
        text(&cols.industry),
        text(&cols.ownership),
        Arg::Float(cols.employees),
        Arg::Float(cols.revenue),
        Arg::MaybeDate(cols.founded_on),
        Arg::MaybeDate(cols.birth_date),
        Arg::Json(serde_json::to_value(&p.profile)?),
        Arg::Json(serde_json::to_value(&cols.labels)?),
        Arg::Int(1),
        Arg::Time(now),
        Arg::Time(now),
    ])
}

/// `SELECT`s finding the stored profiles that share a key with `pending`, a chunk of keys each.
fn existing_id_queries<'a>(pending: impl Iterator<Item = &'a Pending>) -> Vec<SqlBuf> {
    let keys: Vec<&UpsertKey> = pending.filter_map(|p| p.key.as_ref()).collect();
    keys.chunks(LOOKUP_CHUNK)
        .map(|chunk| {
            let mut sql = SqlBuf::new("SELECT id, credit_code, id_hash FROM profiles WHERE ");
            let codes = chunk.iter().filter_map(|key| match key {
                UpsertKey::CreditCode(code) => Some(code),
                UpsertKey::IdHash(_) => None,
            });
            push_any_of(&mut sql, "credit_code", codes);
            let hashes = chunk.iter().filter_map(|key| match key {
                UpsertKey::IdHash(hash) => Some(hash),
                UpsertKey::CreditCode(_) => None,
            });
            push_any_of(&mut sql, "id_hash", hashes);
            sql
        })
        .collect()
}

/// Appends `column IN (…)`, after ` OR ` unless it is the first condition, or nothing when
/// there are no values (`IN ()` is not SQL). No `1 = 0 OR …` to start from: SQLite then scans
/// the whole table instead of searching the two unique indexes, which made every batch of an
/// import read every stored profile.
fn push_any_of<'a>(sql: &mut SqlBuf, column: &str, values: impl Iterator<Item = &'a String>) {
    let mut values = values.peekable();
    if values.peek().is_none() {
        return;
    }
    if !sql.sql.ends_with("WHERE ") {
        sql.push(" OR ");
    }
    sql.push(column).push(" IN (");
    for (n, value) in values.enumerate() {
        if n > 0 {
            sql.push(", ");
        }
        sql.arg(Arg::Text(value.clone()));
    }
    sql.push(")");
}
