//! What instances share beyond the database: notices that something changed, so every instance
//! refreshes its in-memory matcher at once (Redis pub/sub), and leadership of a role such as the
//! scheduler (a Redis key with an expiry, renewed by its holder). Without Redis a single process
//! is its own leader and hears nothing from others; the database keeps every guarantee either way.

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
