//! The dead letter: deliveries that will not go out by themselves, each with its cause, listed
//! with filters and re-driven one by one or in bulk. A delivery held because a message of it is
//! in doubt is re-driven only when the caller says it accepts a possible second copy.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::write_audit;
use crate::backend::{Arg, BeginWrite, Listing, SqlBuf, bind_args, fetch_listing, on_pool};
use crate::messages::DeadCause;
use crate::outbox::Channel;
use crate::{Page, Paging, Store, StoreError};

/// A dead-lettered delivery, for administrators.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: i64,
    pub push_id: i64,
    pub profile_id: i64,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    #[sqlx(try_from = "String")]
    pub cause: DeadCause,
    pub attempts: i64,
    /// Messages of this delivery that may or may not have reached the relay.
    pub messages_in_doubt: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Which dead letters a listing or a bulk re-drive takes; `None` takes any.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeadLetterFilter {
    pub cause: Option<DeadCause>,
    pub push_id: Option<i64>,
    pub channel: Option<Channel>,
}

impl DeadLetterFilter {
    /// The WHERE clause; `only` narrows it to one delivery.
    fn push_where(&self, sql: &mut SqlBuf, only: Option<i64>) {
        sql.push(" WHERE d.status = 'dead'");
        if let Some(id) = only {
            sql.push(" AND d.id = ").arg(Arg::Int(id));
        }
        if let Some(cause) = self.cause {
            sql.push(" AND d.dead_cause = ")
                .arg(Arg::Text(cause.as_str().to_owned()));
        }
        if let Some(push_id) = self.push_id {
            sql.push(" AND d.push_id = ").arg(Arg::Int(push_id));
        }
        if let Some(channel) = self.channel {
            sql.push(" AND d.channel = ")
                .arg(Arg::Text(channel.as_str().to_owned()));
        }
    }
}

/// What a bulk re-drive queued again.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub struct Redriven {
    pub deliveries: i64,
    /// Of those, deliveries with a message that may already have arrived.
    pub in_doubt: i64,
}

const IN_DOUBT_MESSAGES: &str = "(SELECT COUNT(*) FROM delivery_recipients r \
     WHERE r.delivery_id = d.id AND r.outcome = 'in_doubt')";

impl Store {
    /// Dead-lettered deliveries matching `filter`, newest first.
    pub async fn dead_letters(
        &self,
        filter: &DeadLetterFilter,
        paging: Paging,
    ) -> Result<Page<DeadLetter>, StoreError> {
        let listing = Listing::new(
            &format!(
                "SELECT d.id, d.push_id, d.profile_id, d.channel, COALESCE(d.dead_cause, 'retries_exhausted') AS cause, d.attempts, \
                 {IN_DOUBT_MESSAGES} AS messages_in_doubt, d.last_error, d.created_at FROM deliveries d"
            ),
            "deliveries d",
            |sql| filter.push_where(sql, None),
        )
        .page("d.id DESC", paging);
        let (items, total): (Vec<DeadLetter>, i64) = fetch_listing!(&self.db, listing);
        Ok(Page::new(items, total, paging))
    }

    /// Queues one dead-lettered delivery again, with a fresh attempt budget; its push resumes.
    /// One with a message in doubt needs `accept_in_doubt`.
    pub async fn redrive(
        &self,
        delivery_id: i64,
        accept_in_doubt: bool,
        actor: &str,
    ) -> Result<(), StoreError> {
        let redriven = self
            .redrive_where(
                &DeadLetterFilter::default(),
                Some(delivery_id),
                accept_in_doubt,
                actor,
            )
            .await?;
        if redriven.deliveries == 0 {
            return Err(StoreError::NotFound {
                entity: "dead-lettered delivery",
                id: delivery_id.to_string(),
            });
        }
        Ok(())
    }

    /// Queues again every dead letter matching `filter`; refused as a whole when some have a
    /// message in doubt and `accept_in_doubt` is false.
    pub async fn redrive_many(
        &self,
        filter: &DeadLetterFilter,
        accept_in_doubt: bool,
        actor: &str,
    ) -> Result<Redriven, StoreError> {
        self.redrive_where(filter, None, accept_in_doubt, actor)
            .await
    }

    async fn redrive_where(
        &self,
        filter: &DeadLetterFilter,
        only: Option<i64>,
        accept_in_doubt: bool,
        actor: &str,
    ) -> Result<Redriven, StoreError> {
        let now = self.now();
        let mut select = SqlBuf::new(&format!(
            "SELECT d.id, d.push_id, {IN_DOUBT_MESSAGES} FROM deliveries d"
        ));
        filter.push_where(&mut select, only);
        Ok(on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let letters: Vec<(i64, i64, i64)> = bind_args!(sqlx::query_as(&select.sql), &select.args)
                .fetch_all(&mut *tx)
                .await?;
            let in_doubt = letters.iter().filter(|(_, _, doubtful)| *doubtful > 0).count() as i64;
            if in_doubt > 0 && !accept_in_doubt {
                return Err(StoreError::State {
                    code: "in_doubt_unconfirmed",
                    message_zh: format!(
                        "其中 {in_doubt} 条投递的邮件可能已经送达，重新投递可能让收件人收到两份（同一 Message-ID）；\
                         确认后请带上 accept_in_doubt=true 再试"
                    ),
                    message_en: format!(
                        "{in_doubt} of these deliveries have a message that may already have arrived; \
                         re-driving may send a second copy (same Message-ID). Retry with \
                         accept_in_doubt=true to go ahead"
                    ),
                });
            }
            for chunk in letters.chunks(500) {
                let mut update = SqlBuf::new(
                    "UPDATE deliveries SET status = 'queued', attempts = 0, dead_cause = NULL, next_attempt_at = ",
                );
                update
                    .arg(Arg::Time(now))
                    .push(", claimed_by = NULL, claimed_until = NULL WHERE status = 'dead' AND id IN ");
                update.tuple(chunk.iter().map(|(id, _, _)| Arg::Int(*id)));
                bind_args!(sqlx::query(&update.sql), &update.args).execute(&mut *tx).await?;
                let mut resume = SqlBuf::new(
                    "UPDATE pushes SET status = 'sending', finished_at = NULL WHERE status = 'done' AND id IN ",
                );
                resume.tuple(chunk.iter().map(|(_, push, _)| Arg::Int(*push)));
                bind_args!(sqlx::query(&resume.sql), &resume.args).execute(&mut *tx).await?;
            }
            for (id, push_id, doubtful) in &letters {
                write_audit!(tx, now, actor, "redrive", "delivery", id,
                    serde_json::json!({"push_id": push_id, "messages_in_doubt": doubtful}))?;
            }
            tx.commit().await?;
            Redriven { deliveries: letters.len() as i64, in_doubt }
        }))
    }
}
