//! Accounts as stored: users with their role and binding (an enterprise or citizen profile, a
//! staff member's region), sessions and API tokens — the latter two by the hash of their secret
//! only — and the sign-in throttle's counts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access_cache::SessionAccess;
use crate::audit::write_audit;
use crate::backend::{BeginWrite, on_pool};
use crate::{Store, StoreError};

/// What a user may do is decided by the role and the binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Bound to one enterprise profile.
    Enterprise,
    /// Bound to one citizen profile.
    Citizen,
    /// Service-centre staff, bound to a region.
    Staff,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise => "enterprise",
            Self::Citizen => "citizen",
            Self::Staff => "staff",
            Self::Admin => "admin",
        }
    }
}

impl TryFrom<String> for Role {
    type Error = serde_json::Error;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        serde_json::from_value(serde_json::Value::String(text))
    }
}

/// A signed-in user as every request sees them.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Principal {
    #[sqlx(rename = "id")]
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// The enterprise or citizen profile an enterprise or citizen user acts for.
    pub profile_id: Option<i64>,
    /// The region (GB/T 2260) a staff member serves.
    pub region_code: Option<String>,
}

/// A user to create; the password is already hashed.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub profile_id: Option<i64>,
    pub region_code: Option<String>,
}

const PRINCIPAL_COLUMNS: &str =
    "u.id, u.username, u.display_name, u.role, u.profile_id, u.region_code";

/// A live session read whole: its user and what the session itself holds.
#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    principal: Principal,
    csrf_token: String,
    expires_at: DateTime<Utc>,
}

impl Store {
    pub async fn create_user(&self, user: &NewUser, actor: &str) -> Result<Principal, StoreError> {
        let now = self.now();
        let id: i64 = on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO users (username, display_name, password_hash, role, profile_id, region_code, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&user.username)
            .bind(&user.display_name)
            .bind(&user.password_hash)
            .bind(user.role.as_str())
            .bind(user.profile_id)
            .bind(&user.region_code)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            write_audit!(tx, now, actor, "create", "user", id, serde_json::json!({
                "username": user.username, "role": user.role, "profile_id": user.profile_id,
                "region_code": user.region_code,
            }))?;
            tx.commit().await?;
            id
        });
        self.principal(id).await
    }

    pub async fn principal(&self, user_id: i64) -> Result<Principal, StoreError> {
        let row: Option<Principal> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!("SELECT {PRINCIPAL_COLUMNS} FROM users u WHERE u.id = $1"))
                .bind(user_id)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or_else(|| StoreError::NotFound {
            entity: "user",
            id: user_id.to_string(),
        })
    }

    /// The password hash and principal of an enabled user, for signing in. `username` is
    /// normalised by the caller (`accounts::normalise_username`, the form names are stored in);
    /// names stored before that are matched lower-cased.
    pub async fn credentials(
        &self,
        username: &str,
    ) -> Result<Option<(String, Principal)>, StoreError> {
        let row: Option<(String, i64)> = on_pool!(&self.db, pool => {
            sqlx::query_as("SELECT password_hash, id FROM users WHERE lower(username) = $1 AND NOT disabled")
                .bind(username)
                .fetch_optional(pool)
                .await?
        });
        match row {
            Some((hash, id)) => Ok(Some((hash, self.principal(id).await?))),
            None => Ok(None),
        }
    }

    pub async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("INSERT INTO sessions (id_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(id_hash)
                .bind(user_id)
                .bind(csrf_token)
                .bind(expires_at)
                .execute(pool)
                .await
                .map(drop)?
        });
        Ok(())
    }

    /// The principal and CSRF token of a live session; from memory when it was asked a moment
    /// ago ([`crate::access_cache`]), in one round trip otherwise.
    pub async fn session(&self, id_hash: &str) -> Result<Option<(Principal, String)>, StoreError> {
        let now = self.now();
        if let Some(kept) = self.access.sessions.get(id_hash) {
            return Ok((kept.expires_at > now).then_some((kept.principal, kept.csrf_token)));
        }
        let lookup = self.access.sessions.begin();
        let row: Option<SessionRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!(
                "SELECT {PRINCIPAL_COLUMNS}, s.csrf_token, s.expires_at FROM sessions s \
                 JOIN users u ON u.id = s.user_id \
                 WHERE s.id_hash = $1 AND s.expires_at > $2 AND NOT u.disabled"
            ))
            .bind(id_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|row| {
            let answer = (row.principal.clone(), row.csrf_token.clone());
            self.access.sessions.keep(
                id_hash,
                SessionAccess {
                    principal: row.principal,
                    csrf_token: row.csrf_token,
                    expires_at: row.expires_at,
                },
                lookup,
            );
            answer
        }))
    }

    /// Ends a session; this instance forgets it at once, the others when their follower reads
    /// the change log.
    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(pool)
                .await
                .map(drop)?
        });
        self.forget_access();
        Ok(())
    }

    /// Forgets every principal kept in memory: the change log named a change to users, tokens or
    /// sessions, or this instance made one.
    pub fn forget_access(&self) {
        self.access.forget();
    }

    pub async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(user_id)
            .bind(name)
            .bind(token_hash)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            write_audit!(tx, now, actor, "create", "api_token", id, serde_json::json!({"user_id": user_id, "name": name}))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The principal an API token acts for, if the token is known and its user enabled. Every
    /// request made with a token asks it: from memory when it was asked a moment ago
    /// ([`crate::access_cache`]), in one round trip otherwise.
    pub async fn token_principal(&self, token_hash: &str) -> Result<Option<Principal>, StoreError> {
        if let Some(principal) = self.access.tokens.get(token_hash) {
            return Ok(Some(principal));
        }
        let lookup = self.access.tokens.begin();
        let principal: Option<Principal> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!(
                "SELECT {PRINCIPAL_COLUMNS} FROM users u JOIN api_tokens t ON t.user_id = u.id \
                 WHERE t.token_hash = $1 AND NOT u.disabled"
            ))
            .bind(token_hash)
            .fetch_optional(pool)
            .await?
        });
        if let Some(principal) = &principal {
            self.access
                .tokens
                .keep(token_hash, principal.clone(), lookup);
        }
        Ok(principal)
    }

    /// Counts one sign-in attempt under each of `key_hashes` in the window starting at
    /// `window_start` (Unix seconds) and returns each key's attempts so far, this one included:
    /// in that window, and since `counted_since` (the start of the window before it). The upsert is atomic on both backends, so parallel attempts each get their
    /// own count, and every instance sees the same counts.
    ///
    /// The database rather than Redis: every instance has it, Redis is optional here, and a
    /// throttle that moved to a fallback whenever Redis was lost would forget its counts just
    /// then; one upsert beside an argon2 verification costs nothing that matters.
    pub async fn count_sign_in_attempt(
        &self,
        key_hashes: &[&str],
        window_start: i64,
        counted_since: i64,
        expires_at: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let now = self.now().timestamp();
        let counts = on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let mut counts = Vec::with_capacity(key_hashes.len());
            for key_hash in key_hashes {
                let attempts: i64 = sqlx::query_scalar(
                    "INSERT INTO sign_in_attempts (key_hash, window_start, attempts, expires_at) \
                     VALUES ($1, $2, 1, $3) ON CONFLICT (key_hash, window_start) DO UPDATE \
                     SET attempts = sign_in_attempts.attempts + 1 RETURNING attempts",
                )
                .bind(key_hash)
                .bind(window_start)
                .bind(expires_at)
                .fetch_one(&mut *tx)
                .await?;
                let earlier: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(attempts), 0) AS BIGINT) FROM sign_in_attempts \
                     WHERE key_hash = $1 AND window_start >= $2 AND window_start < $3",
                )
                .bind(key_hash)
                .bind(counted_since)
                .bind(window_start)
                .fetch_one(&mut *tx)
                .await?;
                counts.push((attempts, attempts + earlier));
            }
            tx.commit().await?;
            // Outside the counting transaction, so clean-ups of different instances never hold
            // the rows a count waits for.
            sqlx::query("DELETE FROM sign_in_attempts WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?;
            counts
        });
        Ok(counts)
    }

    /// Takes back a successful sign-in's counts: the name's failures are forgotten (its owner
    /// knew the password), the address's count loses just this attempt, so signing in to one's
    /// own account cannot make room for guesses at others'.
    pub async fn settle_sign_in_attempt(
        &self,
        name_key_hash: &str,
        address_key_hash: &str,
        window_start: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM sign_in_attempts WHERE key_hash = $1")
                .bind(name_key_hash)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE sign_in_attempts SET attempts = attempts - 1 \
                 WHERE key_hash = $1 AND window_start = $2 AND attempts > 0",
            )
            .bind(address_key_hash)
            .bind(window_start)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Rows the sign-in throttle holds: only the current and the last window's, once counting
    /// has cleaned up.
    pub async fn sign_in_attempt_rows(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_attempts").fetch_one(pool).await?
        }))
    }

    pub async fn count_users(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await?
        }))
    }
}
