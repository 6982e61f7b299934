//! Contact addresses and what may be sent to them: the cap on contacts per profile, the
//! double opt-in of addresses a profile's own user adds (pending until the signed link sent to
//! the address is opened), and each address's outcome within an e-mail delivery, so one message
//! goes to each address and a retry reaches only those still owed one.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::audit::write_audit;
use crate::backend::{Arg, BeginWrite, SqlBuf, bind_args, on_pool};
use crate::{Store, StoreError};

/// Contacts a profile may list unless configured otherwise.
pub const DEFAULT_MAX_CONTACTS: usize = 5;

/// Who set a profile's contacts; it decides whether a newly listed address must confirm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactSource {
    /// The profile's own enterprise or citizen user: a new address gets packs only once it has
    /// confirmed the link sent to it.
    Owner,
    /// An administrator or an import: every listed address counts as confirmed.
    Trusted,
}

/// An address waiting for its confirmation link; `id` and `nonce` are what the link signs.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingContact {
    pub id: i64,
    pub profile_id: i64,
    pub email: String,
    pub nonce: i64,
}

/// How one address fared in one attempt of an e-mail delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressStatus {
    Sent,
    /// Refused by the relay for good (a 5xx reply): not tried again.
    Refused,
    /// Failed for now (no connection, a 4xx reply): tried again with the delivery.
    Failed,
    /// The body went out but no final reply came: the relay may or may not have it.
    InDoubt,
}

impl AddressStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Refused => "refused",
            Self::Failed => "failed",
            Self::InDoubt => "in_doubt",
        }
    }
}

/// One address's outcome, recorded with the attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressOutcome {
    pub email: String,
    pub status: AddressStatus,
    pub detail: Option<String>,
}

/// A random non-negative nonce: link tokens join their numbers with `-`.
pub(crate) fn new_nonce() -> Result<i64, StoreError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(i64::from_le_bytes(bytes) & i64::MAX)
}

impl Store {
    /// The most contacts one profile may list.
    pub fn max_contacts(&self) -> usize {
        self.max_contacts
    }

    /// This store with a different cap on contacts per profile.
    pub fn with_max_contacts(mut self, max: usize) -> Self {
        self.max_contacts = max;
        self
    }

    /// Confirms the address a link names, once: the pending row goes, so the same link does
    /// nothing the second time. Returns the profile and address confirmed.
    pub async fn confirm_contact(
        &self,
        id: i64,
        nonce: i64,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let now = self.now();
        Ok(on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let confirmed: Option<(i64, String)> = sqlx::query_as(
                "DELETE FROM contact_confirmations WHERE id = $1 AND nonce = $2 \
                 RETURNING profile_id, email",
            )
            .bind(id)
            .bind(nonce)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((profile_id, email)) = &confirmed {
                write_audit!(tx, now, format!("contact:{email}"), "confirm_contact", "profile",
                    profile_id, serde_json::json!({"email": email}))?;
            }
            tx.commit().await?;
            confirmed
        }))
    }

    /// The addresses of `profile_ids` still waiting for confirmation, as (profile, address).
    pub async fn unconfirmed_contacts(
        &self,
        profile_ids: &[i64],
    ) -> Result<HashSet<(i64, String)>, StoreError> {
        if profile_ids.is_empty() {
            return Ok(HashSet::new());
        }
        let mut sql =
            SqlBuf::new("SELECT profile_id, email FROM contact_confirmations WHERE profile_id IN ");
        sql.tuple(profile_ids.iter().map(|id| Arg::Int(*id)));
        let rows: Vec<(i64, String)> = on_pool!(&self.db, pool => {
            bind_args!(sqlx::query_as(&sql.sql), &sql.args).fetch_all(pool).await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Per delivery, the addresses that need no further message (sent, or refused for good)
    /// with their outcome.
    pub async fn settled_addresses(
        &self,
        delivery_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<AddressOutcome>>, StoreError> {
        if delivery_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = SqlBuf::new(
            "SELECT delivery_id, email, outcome, detail FROM delivery_recipients \
             WHERE outcome IN ('sent', 'refused') AND delivery_id IN ",
        );
        sql.tuple(delivery_ids.iter().map(|id| Arg::Int(*id)));
        let rows: Vec<(i64, String, String, Option<String>)> = on_pool!(&self.db, pool => {
            bind_args!(sqlx::query_as(&sql.sql), &sql.args).fetch_all(pool).await?
        });
        let mut settled: HashMap<i64, Vec<AddressOutcome>> = HashMap::new();
        for (delivery, email, outcome, detail) in rows {
            let status = if outcome == AddressStatus::Sent.as_str() {
                AddressStatus::Sent
            } else {
                AddressStatus::Refused
            };
            settled.entry(delivery).or_default().push(AddressOutcome {
                email,
                status,
                detail,
            });
        }
        Ok(settled)
    }
}

/// The upsert of each address's latest outcome, for the deliveries of one settlement. Writing
/// the same outcome again changes nothing; an in-doubt outcome is counted once, when it replaces
/// the `sending` mark of its transaction.
pub(crate) fn address_rows<'a>(
    outcomes: impl Iterator<Item = (i64, &'a AddressOutcome)>,
    now: DateTime<Utc>,
) -> SqlBuf {
    let mut sql = SqlBuf::new(
        "INSERT INTO delivery_recipients (delivery_id, email, outcome, detail, at, in_doubt) VALUES ",
    );
    for (delivery_id, outcome) in outcomes {
        sql.tuple([
            Arg::Int(delivery_id),
            Arg::Text(outcome.email.clone()),
            Arg::Text(outcome.status.as_str().to_owned()),
            outcome.detail.clone().map_or(Arg::Null, Arg::Text),
            Arg::Time(now),
            Arg::Int(i64::from(outcome.status == AddressStatus::InDoubt)),
        ]);
    }
    sql.push(
        " ON CONFLICT (delivery_id, email) DO UPDATE SET outcome = excluded.outcome, \
         detail = excluded.detail, at = excluded.at, in_doubt = delivery_recipients.in_doubt + \
         CASE WHEN delivery_recipients.outcome = 'sending' THEN excluded.in_doubt ELSE 0 END",
    );
    sql
}

/// The attempt log's line for a delivery's addresses: `a@x sent; b@y refused: 550 …`.
pub fn address_summary(outcomes: &[AddressOutcome]) -> Option<String> {
    if outcomes.is_empty() {
        return None;
    }
    Some(
        outcomes
            .iter()
            .map(|o| match &o.detail {
                Some(detail) => format!("{} {}: {detail}", o.email, o.status.as_str()),
                None => format!("{} {}", o.email, o.status.as_str()),
            })
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// A line of [`address_summary`] read back, each address with its outcome and the relay's reply;
/// `None` for any other error text (a connection failure, a rendering error).
pub fn read_address_summary(line: &str) -> Option<Vec<(String, AddressStatus, Option<String>)>> {
    line.split("; ")
        .map(|part| {
            let (email, rest) = part
                .split_once(' ')
                .filter(|(email, _)| email.contains('@'))?;
            let (status, detail) = match rest.split_once(": ") {
                Some((status, detail)) => (status, Some(detail.to_owned())),
                None => (rest, None),
            };
            let status = [
                AddressStatus::Sent,
                AddressStatus::Refused,
                AddressStatus::Failed,
                AddressStatus::InDoubt,
            ]
            .into_iter()
            .find(|s| s.as_str() == status)?;
            Some((email.to_owned(), status, detail))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_summary_reads_back_as_written() {
        let outcomes = vec![
            AddressOutcome {
                email: "a@x.cn".to_owned(),
                status: AddressStatus::Sent,
                detail: None,
            },
            AddressOutcome {
                email: "b@y.cn".to_owned(),
                status: AddressStatus::Refused,
                detail: Some("permanent error (550): 5.1.1 mailbox unavailable".to_owned()),
            },
        ];
        let line = address_summary(&outcomes).expect("a line");
        let read: Vec<AddressOutcome> = read_address_summary(&line)
            .expect("read back")
            .into_iter()
            .map(|(email, status, detail)| AddressOutcome {
                email,
                status,
                detail,
            })
            .collect();
        assert_eq!(read, outcomes);
        assert_eq!(read_address_summary("connection refused"), None);
    }
}
