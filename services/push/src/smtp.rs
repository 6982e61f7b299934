//! Connections to the SMTP relay and the transaction of one message on them: at most
//! `pool_size` open at once, reused while they stay healthy. A caller first takes a connection
//! ([`SmtpPool::checkout`], bounded by the connect timeout) and only then runs the transaction
//! ([`Session::transmit`], bounded by the send timeout), so waiting for a free connection never
//! counts against the send, and the outcome says whether the relay may hold the message: a
//! failure before the body went out is a clean failure, one after it (no final reply) is in doubt. Each is lettre's `AsyncSmtpConnection`, but over a socket opened here with
//! TCP_NODELAY. lettre 0.11 writes a message body and its closing `.` in two writes without
//! turning Nagle's algorithm off, so the second write waits for the relay's delayed ACK — about
//! 40 ms on Linux, which caps one connection near 25 messages/s. (lettre's own pool also opens
//! connections past its size when all are busy; this one makes senders wait instead.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::email::{FailureKind, SendFailure};

/// How the connection is secured, from the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Security {
    Plain,
    /// STARTTLS after EHLO; `required` refuses a relay that does not offer it.
    StartTls {
        required: bool,
    },
    /// TLS from the first byte (port 465).
    Implicit,
}

/// Each attempt to send through the relay, by its time: opening a connection when that failed,
/// else the message's transaction.
pub const SMTP_SEND_SECONDS: &str = "policy_push_smtp_send_seconds";
/// Failed attempts by `class`, one of [`SMTP_ERROR_CLASSES`].
pub const SMTP_ERRORS: &str = "policy_push_smtp_errors_total";
/// A 5xx reply; a 4xx reply or a break before the body; the send timeout before the body; a
/// break or timeout after the body (in doubt); no connection to the relay.
pub const SMTP_ERROR_CLASSES: [&str; 5] =
    ["permanent", "transient", "timeout", "in_doubt", "connect"];

fn record(started: Instant, failure: Option<&'static str>) {
    metrics::histogram!(SMTP_SEND_SECONDS).record(started.elapsed().as_secs_f64());
    if let Some(class) = failure {
        metrics::counter!(SMTP_ERRORS, "class" => class).increment(1);
    }
}

/// An idle connection is dropped after this long: relays close idle sessions after a minute or
/// more, and a pool must not hand out a dead one.
const IDLE_LIMIT: Duration = Duration::from_secs(30);
/// An idle connection older than this is checked with NOOP before it is used again.
const CHECK_AFTER: Duration = Duration::from_secs(2);

pub struct SmtpPool {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl SmtpPool {
    /// `smtp://[user:password@]host[:port][/ehlo-name][?tls=required|opportunistic]` or
    /// `smtps://…` (implicit TLS).
    pub(crate) fn from_url(url: &str, size: u32) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        let host = parsed.host_str().ok_or("the URL names no host")?.to_owned();
        let tls = parsed
            .query_pairs()
            .find(|(key, _)| key == "tls")
            .map(|(_, value)| value.into_owned());
        let (security, default_port) = match (parsed.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls { required: true }, 587),
            ("smtp", Some("opportunistic")) => (Security::StartTls { required: false }, 587),
            ("smtps", None) => (Security::Implicit, 465),
            (scheme, tls) => {
                return Err(format!(
                    "unknown scheme {scheme:?} or tls={tls:?}: use smtp://, smtp://…?tls=required, \
                     smtp://…?tls=opportunistic or smtps://"
                ));
            }
        };
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = parsed
            .password()
            .map(|password| Credentials::new(decode(parsed.username()), decode(password)));
        let hello = match parsed.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        Ok(Self {
            host,
            port: parsed.port().unwrap_or(default_port),
            security,
            credentials,
            hello,
            permits: Arc::new(Semaphore::new(size.max(1) as usize)),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// A connection of the pool for one transaction: waits for a free slot (unbounded: the
    /// caller decides how long), then reuses an idle connection or opens one within
    /// `connect_timeout` (TCP, greeting, EHLO, TLS, AUTH). Nothing has been sent yet, so any
    /// failure here is a clean one.
    pub(crate) async fn checkout(
        self: &Arc<Self>,
        connect_timeout: Duration,
    ) -> Result<Session, SendFailure> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| SendFailure::transient("the mail pool is closed"))?;
        let connection = match self.reusable(connect_timeout).await {
            Some(connection) => connection,
            None => {
                let started = Instant::now();
                let opened = match tokio::time::timeout(connect_timeout, self.connect()).await {
                    Ok(opened) => opened,
                    Err(_) => Err(format!(
                        "Connection error: no greeting within {connect_timeout:?}"
                    )),
                };
                opened.map_err(|detail| {
                    record(started, Some("connect"));
                    SendFailure::transient(detail)
                })?
            }
        };
        Ok(Session {
            pool: Arc::clone(self),
            _permit: permit,
            connection,
        })
    }

    /// The most recently used idle connection that is still alive, if any; one that does not
    /// answer a NOOP within `check_timeout` (a stalled relay) is dropped.
    async fn reusable(&self, check_timeout: Duration) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut connection, since) = self
                .idle
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .pop()?;
            let idle_for = since.elapsed();
            if idle_for > IDLE_LIMIT {
                connection.quit().await.ok();
                continue;
            }
            if idle_for < CHECK_AFTER
                || tokio::time::timeout(check_timeout, connection.test_connected())
                    .await
                    .unwrap_or(false)
            {
                return Some(connection);
            }
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, String> {
        let failed = |e: &dyn std::fmt::Display| format!("Connection error: {e}");
        let mut connection = if self.security == Security::Implicit {
            // The TLS session has to exist before EHLO, and lettre opens that socket itself.
            AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                None,
                &self.hello,
                Some(self.tls()?),
                None,
            )
            .await
            .map_err(|e| failed(&e))?
        } else {
            let stream = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| failed(&e))?;
            stream.set_nodelay(true).map_err(|e| failed(&e))?;
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                .await
                .map_err(|e| failed(&e))?
        };
        if let Security::StartTls { required } = self.security {
            if connection.can_starttls() {
                connection
                    .starttls(self.tls()?, &self.hello)
                    .await
                    .map_err(|e| failed(&e))?;
            } else if required {
                return Err(failed(&"the relay does not offer STARTTLS"));
            }
        }
        if let Some(credentials) = &self.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| failed(&e))?;
        }
        Ok(connection)
    }

    fn tls(&self) -> Result<TlsParameters, String> {
        TlsParameters::new(self.host.clone()).map_err(|e| e.to_string())
    }
}

/// One connection checked out of the pool, holding its slot until the transaction ends.
pub(crate) struct Session {
    pool: Arc<SmtpPool>,
    _permit: OwnedSemaphorePermit,
    connection: AsyncSmtpConnection,
}

/// How far a transaction got: the relay can only have taken the message once its body was sent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Envelope,
    Body,
}

impl Session {
    /// Runs one message's transaction (MAIL, RCPT, DATA, body) within `timeout`. The connection
    /// goes back to the pool only after a clean success. A 5xx reply is permanent; a 4xx reply,
    /// or a timeout or broken connection before the body, is transient; a timeout or broken
    /// connection after the body was sent, before the final reply, is in doubt.
    pub(crate) async fn transmit(
        mut self,
        envelope: &Envelope,
        message: &[u8],
        timeout: Duration,
    ) -> Result<(), SendFailure> {
        let started = Instant::now();
        let mut phase = Phase::Envelope;
        let connection = &mut self.connection;
        let outcome = tokio::time::timeout(timeout, async {
            let mut parameters = Vec::new();
            // lettre's own `send` does the same: 8BITMIME only for bodies that need it.
            if !message.is_ascii() {
                if !connection
                    .server_info()
                    .supports_feature(Extension::EightBitMime)
                {
                    return Err(None);
                }
                parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
            }
            connection
                .command(Mail::new(envelope.from().cloned(), parameters))
                .await
                .map_err(Some)?;
            for to in envelope.to() {
                connection
                    .command(Rcpt::new(to.clone(), Vec::new()))
                    .await
                    .map_err(Some)?;
            }
            connection.command(Data).await.map_err(Some)?;
            phase = Phase::Body;
            connection.message(message).await.map_err(Some)
        })
        .await;
        let timed_out = outcome.is_err();
        let failure = match outcome {
            Ok(Ok(_)) => {
                record(started, None);
                self.pool
                    .idle
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push((self.connection, Instant::now()));
                return Ok(());
            }
            Ok(Err(None)) => SendFailure {
                kind: FailureKind::Permanent,
                detail: "the relay does not accept 8-bit messages (no 8BITMIME)".to_owned(),
            },
            Ok(Err(Some(error))) => SendFailure {
                kind: if error.is_permanent() {
                    FailureKind::Permanent
                } else if error.is_transient() || phase == Phase::Envelope {
                    FailureKind::Transient
                } else {
                    FailureKind::InDoubt
                },
                detail: error.to_string(),
            },
            Err(_) => SendFailure {
                kind: match phase {
                    Phase::Envelope => FailureKind::Transient,
                    Phase::Body => FailureKind::InDoubt,
                },
                detail: format!("no reply within {timeout:?}"),
            },
        };
        record(
            started,
            Some(match failure.kind {
                FailureKind::Permanent => "permanent",
                FailureKind::InDoubt => "in_doubt",
                FailureKind::Transient if timed_out => "timeout",
                FailureKind::Transient => "transient",
            }),
        );
        Err(failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_port_security_credentials_and_hello_name() {
        let plain = SmtpPool::from_url("smtp://127.0.0.1:2525", 4).unwrap();
        assert_eq!((plain.port, plain.security), (2525, Security::Plain));
        assert!(plain.credentials.is_none());

        let submission = SmtpPool::from_url(
            "smtp://user%40gov:p%40ss@relay.example/mx.gov?tls=required",
            4,
        )
        .unwrap();
        assert_eq!(submission.port, 587);
        assert_eq!(submission.security, Security::StartTls { required: true });
        assert_eq!(
            submission.credentials,
            Some(Credentials::new("user@gov".into(), "p@ss".into()))
        );
        assert_eq!(submission.hello, ClientId::Domain("mx.gov".into()));

        let wrapped = SmtpPool::from_url("smtps://relay.example", 4).unwrap();
        assert_eq!((wrapped.port, wrapped.security), (465, Security::Implicit));
        let opportunistic =
            SmtpPool::from_url("smtp://relay.example?tls=opportunistic", 4).unwrap();
        assert_eq!(
            opportunistic.security,
            Security::StartTls { required: false }
        );

        for bad in [
            "http://relay.example",
            "smtp://relay.example?tls=maybe",
            "smtp://",
        ] {
            assert!(SmtpPool::from_url(bad, 4).is_err(), "{bad}");
        }
    }
}
