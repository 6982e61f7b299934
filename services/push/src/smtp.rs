//! Connections to the SMTP relay: at most `pool_size` open at once, reused while they stay
//! healthy. Each is lettre's `AsyncSmtpConnection`, but over a socket opened here with
//! TCP_NODELAY. lettre 0.11 writes a message body and its closing `.` in two writes without
//! turning Nagle's algorithm off, so the second write waits for the relay's delayed ACK — about
//! 40 ms on Linux, which caps one connection near 25 messages/s. (lettre's own pool also opens
//! connections past its size when all are busy; this one makes senders wait instead.)

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::email::SendFailure;

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
    permits: Semaphore,
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
            permits: Semaphore::new(size.max(1) as usize),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends one message on a pooled connection, opening one when none is idle.
    pub(crate) async fn send(
        &self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<(), SendFailure> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| SendFailure::transient("the mail pool is closed"))?;
        let mut connection = match self.reusable().await {
            Some(connection) => connection,
            None => self.connect().await.map_err(SendFailure::transient)?,
        };
        let sent = connection.send(envelope, message).await;
        if !connection.has_broken() {
            self.idle
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push((connection, Instant::now()));
        }
        sent.map(drop).map_err(|e| SendFailure {
            permanent: e.is_permanent(),
            detail: e.to_string(),
        })
    }

    /// The most recently used idle connection that is still alive, if any.
    async fn reusable(&self) -> Option<AsyncSmtpConnection> {
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
            if idle_for < CHECK_AFTER || connection.test_connected().await {
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
