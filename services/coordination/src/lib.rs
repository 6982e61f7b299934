//! What instances share beyond the database: notices that something changed, so every instance
//! refreshes its in-memory matcher at once (Redis pub/sub); leadership of a role such as the
//! scheduler (a Redis key with an expiry, renewed by its holder); work queues (Redis Streams read
//! by a consumer group) that fan newly written deliveries out to every instance's workers; and
//! per-recipient daily pack counters for the frequency cap.
//! Without Redis a single process is its own leader, hears nothing from others and finds its work
//! by polling the database — which keeps every guarantee either way: a queued id is only a hint,
//! the database claim decides who works on it, and whatever Redis loses is found by the poll.
//!
//! Redis only ever speeds things up, so no caller waits on it for long: commands (locks, notices,
//! counters) share one connection with short, bounded waits and fail over to the database path when
//! Redis is slow or down; a worker's blocking stream read has a connection of its own
//! ([`WorkReader`]), so it never holds up anyone else's command; and announcing a change is sent
//! in the background, so a write request does not wait for it.

use std::future::Future;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use tokio::sync::broadcast;
use tokio::time::Instant;

/// The longest any command may keep its caller waiting, reconnecting included; past it the caller
/// takes the database path.
const COMMAND_WAIT: Duration = Duration::from_millis(250);

/// How long a worker leaves Redis alone after its stream could not be read, polling the database
/// meanwhile.
const READER_REST: Duration = Duration::from_secs(2);

/// Runs a Redis command within [`COMMAND_WAIT`].
async fn bounded<T>(command: impl Future<Output = redis::RedisResult<T>>) -> redis::RedisResult<T> {
    tokio::time::timeout(COMMAND_WAIT, command)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "Redis did not answer in time",
            )))
        })
}

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
    client: redis::Client,
    /// Commands only; blocking reads have connections of their own.
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
    /// so several deployments (or tests) can share one server. Redis need not be up yet: the
    /// connection is made on first use and remade whenever it is lost.
    pub fn redis(url: &str, namespace: &str, instance: &str) -> Result<Self, CoordinationError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_WAIT))
            .set_response_timeout(Some(COMMAND_WAIT))
            .set_number_of_retries(1)
            .set_max_delay(COMMAND_WAIT);
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        let coordinator = Self {
            instance: instance.to_owned(),
            notices: broadcast::channel(64).0,
            redis: Some(Shared {
                client: client.clone(),
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

    /// Tells the other instances that `what` changed, in the background: the caller does not
    /// wait. Failures are logged: the others still catch up from the database on their own
    /// schedule.
    pub fn announce(&self, what: &str) {
        let Some(shared) = &self.redis else {
            return;
        };
        let mut connection = shared.manager.clone();
        let channel = self.channel();
        let message = format!("{}|{what}", self.instance);
        tokio::spawn(async move {
            if let Err(error) = bounded(connection.publish::<_, _, i64>(channel, message)).await {
                tracing::warn!(%error, "could not announce a change to other instances");
            }
        });
    }

    /// Notices from other instances (what changed), as they arrive.
    pub fn notices(&self) -> broadcast::Receiver<String> {
        self.notices.subscribe()
    }

    /// Takes or keeps leadership of `role` for `ttl`; true while this instance leads. A leader
    /// that stops renewing (crashed, partitioned) loses the role when the key expires. When Redis
    /// cannot answer, every instance acts as leader: leadership only saves work, and what a
    /// leader does must be safe to do twice (the scheduler takes each run with a unique key in
    /// the database), so a Redis outage never stops it.
    pub async fn lead(&self, role: &str, ttl: Duration) -> bool {
        let Some(shared) = &self.redis else {
            return true;
        };
        let key = format!("{}:leader:{role}", shared.namespace);
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let mut connection = shared.manager.clone();
        let renewed: Result<i64, _> = bounded(
            redis::Script::new(RENEW)
                .key(&key)
                .arg(&self.instance)
                .arg(millis)
                .invoke_async(&mut connection),
        )
        .await;
        match renewed {
            Ok(1) => return true,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, role, "Redis cannot say who leads; leading on the database's guarantees");
                return true;
            }
        }
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(millis));
        match bounded(connection.set_options::<_, _, Option<String>>(&key, &self.instance, options))
            .await
        {
            Ok(taken) => taken.is_some(),
            Err(error) => {
                tracing::warn!(%error, role, "Redis cannot say who leads; leading on the database's guarantees");
                true
            }
        }
    }
}

/// Longest a stream is kept; older hints are trimmed (the database poll finds their rows).
const STREAM_MAX_LEN: usize = 100_000;
const GROUP: &str = "workers";

impl Coordinator {
    fn stream_key(shared: &Shared, queue: &str) -> String {
        format!("{}:work:{queue}", shared.namespace)
    }

    /// Announces work ids on `queue` to every instance's workers; nothing without Redis.
    pub async fn queue_work(&self, queue: &str, ids: &[i64]) {
        let Some(shared) = &self.redis else {
            return;
        };
        let key = Self::stream_key(shared, queue);
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
        let mut connection = shared.manager.clone();
        if let Err(error) = bounded(pipe.query_async::<()>(&mut connection)).await {
            tracing::warn!(%error, queue, "could not queue work; the database poll will find it");
        }
    }

    /// A reader of `queue` for one worker, with a connection of its own.
    pub fn work_reader(&self, queue: &str) -> WorkReader {
        WorkReader {
            source: self.redis.as_ref().map(|shared| StreamSource {
                client: shared.client.clone(),
                key: Self::stream_key(shared, queue),
                consumer: self.instance.clone(),
                connection: None,
                resting_until: None,
            }),
        }
    }
}

/// One worker's reader of a work stream. A blocking read holds its connection for the whole
/// wait, so each reader has a connection to itself; after a failure it rests for a while, and the
/// worker polls the database instead.
pub struct WorkReader {
    source: Option<StreamSource>,
}

struct StreamSource {
    client: redis::Client,
    key: String,
    consumer: String,
    connection: Option<MultiplexedConnection>,
    resting_until: Option<Instant>,
}

impl WorkReader {
    /// Up to `max` work ids, waiting up to `block` for them; `None` when there is no stream to
    /// read now (no Redis, or Redis failed lately): the caller then finds its work in the
    /// database. Ids are acknowledged as they are read: the database claim, not the stream,
    /// guarantees each delivery is worked on once.
    pub async fn take(&mut self, max: usize, block: Duration) -> Option<Vec<i64>> {
        let source = self.source.as_mut()?;
        if source
            .resting_until
            .is_some_and(|until| Instant::now() < until)
        {
            return None;
        }
        match source.read(max, block).await {
            Ok(ids) => {
                source.resting_until = None;
                Some(ids)
            }
            Err(error) => {
                tracing::warn!(%error, stream = source.key, "cannot read the work stream; polling the database");
                source.connection = None;
                source.resting_until = Some(Instant::now() + READER_REST);
                None
            }
        }
    }
}

impl StreamSource {
    async fn read(&mut self, max: usize, block: Duration) -> redis::RedisResult<Vec<i64>> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(COMMAND_WAIT))
                    .set_response_timeout(Some(block + COMMAND_WAIT));
                let connection = self
                    .client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                self.connection.insert(connection)
            }
        };
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.key)
            .arg(GROUP)
            .arg("$")
            .arg("MKSTREAM")
            .query_async(connection)
            .await;
        if let Err(error) = created
            && error.code() != Some("BUSYGROUP")
        {
            return Err(error);
        }
        let options = redis::streams::StreamReadOptions::default()
            .group(GROUP, &self.consumer)
            .count(max)
            .block(usize::try_from(block.as_millis()).unwrap_or(usize::MAX));
        let reply: redis::streams::StreamReadReply = connection
            .xread_options(&[&self.key], &[">"], &options)
            .await?;
        let entries: Vec<_> = reply.keys.into_iter().flat_map(|k| k.ids).collect();
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let entry_ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        connection
            .xack::<_, _, _, i64>(&self.key, GROUP, &entry_ids)
            .await?;
        Ok(entries
            .iter()
            .filter_map(|entry| entry.get::<i64>("id"))
            .collect())
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
        match bounded(connection.mget::<_, Vec<Option<i64>>>(&keys)).await {
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
        if let Err(error) = bounded(pipe.query_async::<()>(&mut connection)).await {
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
