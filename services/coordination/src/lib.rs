//! What instances share beyond the database: notices that something changed, so every instance
//! refreshes its in-memory matcher at once (Redis pub/sub); leadership of a role such as the
//! scheduler (a Redis key with an expiry, renewed by its holder); work queues (Redis Streams read
//! by a consumer group) that fan newly written deliveries out to every instance's workers; and
//! per-recipient daily pack counters for the frequency cap.
//! Without Redis a single process is its own leader, hears nothing from others and finds its work
//! by polling the database — which keeps every guarantee either way: a queued id is only a hint,
//! the database claim decides who works on it, and whatever Redis loses is found by the poll.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio::sync::broadcast;

#[derive(Debug, thiserror::Error)]
pub enum CoordinationError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Shared state between instances, or its single-process stand-in; cheap to clone.
#[derive(Clone)]
pub struct Coordinator {
    instance: String,
    notices: broadcast::Sender<String>,
    redis: Option<Shared>,
}

#[derive(Clone)]
struct Shared {
    manager: ConnectionManager,
    namespace: String,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("instance", &self.instance)
            .field("redis", &self.redis.is_some())
            .finish()
    }
}

/// Renews a lease only while this instance still holds it, atomically.
const RENEW: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then \
                     return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

impl Coordinator {
    /// Single-process coordination: this instance leads every role.
    pub fn local(instance: &str) -> Self {
        Self {
            instance: instance.to_owned(),
            notices: broadcast::channel(64).0,
            redis: None,
        }
    }

    /// Coordination through Redis at `url`; keys and the channel are prefixed with `namespace`,
    /// so several deployments (or tests) can share one server.
    pub async fn redis(
        url: &str,
        namespace: &str,
        instance: &str,
    ) -> Result<Self, CoordinationError> {
        let client = redis::Client::open(url)?;
        let manager = client.get_connection_manager().await?;
        let coordinator = Self {
            instance: instance.to_owned(),
            notices: broadcast::channel(64).0,
            redis: Some(Shared {
                manager,
                namespace: namespace.to_owned(),
            }),
        };
        tokio::spawn(listen(
            client,
            coordinator.channel(),
            instance.to_owned(),
            coordinator.notices.clone(),
        ));
        Ok(coordinator)
    }

    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    fn channel(&self) -> String {
        match &self.redis {
            Some(shared) => format!("{}:changes", shared.namespace),
            None => String::new(),
        }
    }

    /// Tells the other instances that `what` changed. Failures are logged, not returned: the
    /// others still catch up from the database on their own schedule.
    pub async fn announce(&self, what: &str) {
        let Some(shared) = &self.redis else {
            return;
        };
        let mut connection = shared.manager.clone();
        let message = format!("{}|{what}", self.instance);
        if let Err(error) = connection
            .publish::<_, _, i64>(self.channel(), message)
            .await
        {
            tracing::warn!(%error, "could not announce a change to other instances");
        }
    }

    /// Notices from other instances (what changed), as they arrive.
    pub fn notices(&self) -> broadcast::Receiver<String> {
        self.notices.subscribe()
    }

    /// Takes or keeps leadership of `role` for `ttl`; true while this instance leads. A leader
    /// that stops renewing (crashed, partitioned) loses the role when the key expires.
    pub async fn lead(&self, role: &str, ttl: Duration) -> bool {
        let Some(shared) = &self.redis else {
            return true;
        };
        let key = format!("{}:leader:{role}", shared.namespace);
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let mut connection = shared.manager.clone();
        let renewed: Result<i64, _> = redis::Script::new(RENEW)
            .key(&key)
            .arg(&self.instance)
            .arg(millis)
            .invoke_async(&mut connection)
            .await;
        match renewed {
            Ok(1) => return true,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, role, "leadership check failed; not leading");
                return false;
            }
        }
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(millis));
        match connection
            .set_options::<_, _, Option<String>>(&key, &self.instance, options)
            .await
        {
            Ok(taken) => taken.is_some(),
            Err(error) => {
                tracing::warn!(%error, role, "leadership check failed; not leading");
                false
            }
        }
    }
}

/// Longest a stream is kept; older hints are trimmed (the database poll finds their rows).
const STREAM_MAX_LEN: usize = 100_000;
const GROUP: &str = "workers";

impl Coordinator {
    fn stream(&self, queue: &str) -> Option<(ConnectionManager, String)> {
        self.redis.as_ref().map(|shared| {
            (
                shared.manager.clone(),
                format!("{}:work:{queue}", shared.namespace),
            )
        })
    }

    /// Announces work ids on `queue` to every instance's workers; nothing without Redis.
    pub async fn queue_work(&self, queue: &str, ids: &[i64]) {
        let Some((mut connection, key)) = self.stream(queue) else {
            return;
        };
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("XADD")
                .arg(&key)
                .arg("MAXLEN")
                .arg("~")
                .arg(STREAM_MAX_LEN)
                .arg("*")
                .arg("id")
                .arg(*id)
                .ignore();
        }
        if let Err(error) = pipe.query_async::<()>(&mut connection).await {
            tracing::warn!(%error, queue, "could not queue work; the database poll will find it");
        }
    }

    /// Up to `max` work ids from `queue` for this instance, waiting up to `block` (keep it below
    /// the connection's 500 ms response timeout). Ids are acknowledged as they are read: the
    /// database claim, not the stream, guarantees each delivery is worked on once.
    pub async fn take_work(&self, queue: &str, max: usize, block: Duration) -> Vec<i64> {
        let Some((mut connection, key)) = self.stream(queue) else {
            return Vec::new();
        };
        let created: Result<(), _> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&key)
            .arg(GROUP)
            .arg("$")
            .arg("MKSTREAM")
            .query_async(&mut connection)
            .await;
        if let Err(error) = created
            && error.code() != Some("BUSYGROUP")
        {
            tracing::warn!(%error, queue, "cannot create the work stream's group");
            return Vec::new();
        }
        let options = redis::streams::StreamReadOptions::default()
            .group(GROUP, &self.instance)
            .count(max)
            .block(usize::try_from(block.as_millis()).unwrap_or(usize::MAX));
        let reply: Result<redis::streams::StreamReadReply, _> =
            connection.xread_options(&[&key], &[">"], &options).await;
        let entries = match reply {
            Ok(reply) => reply
                .keys
                .into_iter()
                .flat_map(|k| k.ids)
                .collect::<Vec<_>>(),
            Err(error) => {
                tracing::warn!(%error, queue, "cannot read the work stream");
                return Vec::new();
            }
        };
        if entries.is_empty() {
            return Vec::new();
        }
        let entry_ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        if let Err(error) = connection
            .xack::<_, _, _, i64>(&key, GROUP, &entry_ids)
            .await
        {
            tracing::warn!(%error, queue, "cannot acknowledge work");
        }
        entries
            .iter()
            .filter_map(|entry| entry.get::<i64>("id"))
            .collect()
    }
}

impl Coordinator {
    fn cap_key(shared: &Shared, day: &str, profile_id: i64) -> String {
        format!("{}:packs:{day}:{profile_id}", shared.namespace)
    }

    /// Packs each recipient got on `day` (a date in China), counted across instances; `None`
    /// without Redis or when it cannot answer, so the caller counts in the database instead.
    pub async fn pack_counts(&self, day: &str, profile_ids: &[i64]) -> Option<Vec<i64>> {
        let shared = self.redis.as_ref()?;
        if profile_ids.is_empty() {
            return Some(Vec::new());
        }
        let keys: Vec<String> = profile_ids
            .iter()
            .map(|id| Self::cap_key(shared, day, *id))
            .collect();
        let mut connection = shared.manager.clone();
        match connection.mget::<_, Vec<Option<i64>>>(&keys).await {
            Ok(counts) => Some(counts.into_iter().map(Option::unwrap_or_default).collect()),
            Err(error) => {
                tracing::warn!(%error, "cannot read pack counters; counting in the database");
                None
            }
        }
    }

    /// Counts one more pack on `day` for each recipient; the counters expire after two days.
    pub async fn add_packs(&self, day: &str, profile_ids: &[i64]) {
        let Some(shared) = &self.redis else {
            return;
        };
        let mut pipe = redis::pipe();
        for id in profile_ids {
            let key = Self::cap_key(shared, day, *id);
            pipe.incr(&key, 1)
                .ignore()
                .expire(&key, 2 * 24 * 3600)
                .ignore();
        }
        let mut connection = shared.manager.clone();
        if let Err(error) = pipe.query_async::<()>(&mut connection).await {
            tracing::warn!(%error, "cannot count packs in Redis");
        }
    }
}

/// Subscribes to the change channel, reconnecting when the connection drops, and forwards other
/// instances' notices.
async fn listen(
    client: redis::Client,
    channel: String,
    instance: String,
    notices: broadcast::Sender<String>,
) {
    use futures_util::StreamExt;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if let Err(error) = pubsub.subscribe(&channel).await {
                    tracing::warn!(%error, "cannot subscribe to change notices");
                } else {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(payload) = message.get_payload::<String>() else {
                            continue;
                        };
                        if let Some((origin, what)) = payload.split_once('|')
                            && origin != instance
                        {
                            notices.send(what.to_owned()).ok();
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot reach Redis for change notices"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
