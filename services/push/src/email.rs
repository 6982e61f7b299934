//! Packs rendered to HTML and plain text from templates, and the e-mail transport: pooled SMTP
//! connections ([`crate::smtp`]) when a relay is configured, `.eml` files in a folder otherwise.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::Environment;
use serde::Serialize;

use crate::PushError;
use crate::pack::ServicePack;
use crate::smtp::SmtpPool;

/// The pack templates, compiled once.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates(..)")
    }
}

#[derive(Serialize)]
struct PackView<'a> {
    pack: &'a ServicePack,
    read_url: Option<&'a str>,
    unsubscribe_url: Option<&'a str>,
}

/// A pack rendered for one channel.
#[derive(Clone, Debug)]
pub struct RenderedPack {
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl Templates {
    pub fn new() -> Result<Self, PushError> {
        let mut env = Environment::new();
        for (name, source) in [
            ("pack.html", include_str!("../templates/pack.html")),
            ("pack.txt", include_str!("../templates/pack.txt")),
        ] {
            env.add_template(name, source)
                .map_err(|source| PushError::Template { name, source })?;
        }
        Ok(Self { env })
    }

    /// The pack as a page and as plain text; links are left out when not given.
    pub fn render(
        &self,
        pack: &ServicePack,
        read_url: Option<&str>,
        unsubscribe_url: Option<&str>,
    ) -> Result<RenderedPack, PushError> {
        let view = PackView {
            pack,
            read_url,
            unsubscribe_url,
        };
        let render = |name: &'static str| {
            self.env
                .get_template(name)
                .and_then(|template| template.render(&view))
                .map_err(|source| PushError::Template { name, source })
        };
        Ok(RenderedPack {
            subject: subject_of(pack),
            html: render("pack.html")?,
            text: render("pack.txt")?,
        })
    }
}

/// The message asking a newly added address to confirm it wants the packs of `profile_name`.
/// Plain text and minimal HTML, both naming the link; the name is escaped for the HTML part.
pub(crate) fn confirmation(profile_name: &str, url: &str) -> RenderedPack {
    let name = html_escape(profile_name);
    RenderedPack {
        subject: "【政策直达】请确认接收政策服务包的邮箱".to_owned(),
        text: format!(
            "您好：\n\n“{profile_name}”在政策直达中添加了本邮箱为联系人。确认后，本邮箱将收到该用户的政策服务包；\
             未确认前不会发送。\n\n确认链接：{url}\n\n如非本人操作，请忽略本邮件。\n\n\
             “{profile_name}” added this address as a contact in Policy Push. Policy packs are sent \
             to it only after you confirm: {url}\nIf this was not you, ignore this message.\n"
        ),
        html: format!(
            "<p>“{name}”在政策直达中添加了本邮箱为联系人。确认后，本邮箱将收到该用户的政策服务包；\
             未确认前不会发送。</p><p><a href=\"{url}\">确认接收 · Confirm</a></p>\
             <p>如非本人操作，请忽略本邮件。If this was not you, ignore this message.</p>"
        ),
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn subject_of(pack: &ServicePack) -> String {
    match pack.items.as_slice() {
        [only] => format!("【政策直达】{}", only.title),
        [first, rest @ ..] => format!("【政策直达】{} 等 {} 项政策", first.title, rest.len() + 1),
        [] => "【政策直达】政策服务包".to_owned(),
    }
}

/// An e-mail ready to go: rendered pack, its one addressee, and the one-click unsubscribe URL
/// (none for mail that is not a pack). One address a message: addressees never see each other,
/// and a refused address does not hold back anyone else's copy.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub message_id: String,
    pub to: String,
    pub rendered: RenderedPack,
    pub unsubscribe_url: Option<String>,
}

/// What a failed send means for the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The relay refused for good (a 5xx reply): sending again would be refused again.
    Permanent,
    /// Not delivered, worth trying later: a 4xx reply, no connection, or no reply before the
    /// message body went out.
    Transient,
    /// The body went out but the final reply never came: the relay may have taken it.
    InDoubt,
}

/// Why a message was not sent.
#[derive(Clone, Debug)]
pub struct SendFailure {
    pub kind: FailureKind,
    pub detail: String,
}

impl SendFailure {
    pub fn transient(detail: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Transient,
            detail: detail.into(),
        }
    }
}

/// Where e-mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp(Arc<SmtpPool>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp(_) => f.write_str("Mailer::Smtp"),
            Self::Files(_) => f.write_str("Mailer::Files"),
        }
    }
}

/// How to reach the mail relay.
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `smtp://host:port` (plain), `smtp://host:587?tls=required` (STARTTLS), `smtps://host:465`.
    pub smtp_url: Option<String>,
    /// Folder for `.eml` files when there is no relay.
    pub outbox_dir: PathBuf,
    pub from: String,
    /// Connections kept open to the relay.
    pub pool_size: u32,
    /// Opening a connection: TCP, the relay's greeting, EHLO, TLS and AUTH.
    pub connect_timeout: Duration,
    /// One message's transaction on an open connection, MAIL FROM to the final reply; waiting
    /// for a free connection is not part of it.
    pub send_timeout: Duration,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> Result<Self, PushError> {
        match &settings.smtp_url {
            Some(url) => {
                let pool = SmtpPool::from_url(url, settings.pool_size)
                    .map_err(|e| PushError::Transport(format!("smtp_url {url:?}: {e}")))?;
                Ok(Self::Smtp(Arc::new(pool)))
            }
            None => {
                std::fs::create_dir_all(&settings.outbox_dir).map_err(|e| {
                    PushError::Transport(format!("{}: {e}", settings.outbox_dir.display()))
                })?;
                Ok(Self::Files(AsyncFileTransport::new(&settings.outbox_dir)))
            }
        }
    }

    /// Sends one message at once: a connection, then its transaction.
    pub async fn send(
        &self,
        from: &Mailbox,
        outgoing: &Outgoing,
        settings: &MailSettings,
    ) -> Result<(), SendFailure> {
        let message = prepare(from, outgoing)?;
        self.open(settings.connect_timeout)
            .await?
            .transmit(&message, settings.send_timeout)
            .await
    }

    /// A way to send one message: a pooled relay connection (waiting for a free one), or the
    /// folder. Nothing is sent yet.
    pub async fn open(&self, connect_timeout: Duration) -> Result<Session, SendFailure> {
        match self {
            Self::Smtp(pool) => pool
                .checkout(connect_timeout)
                .await
                .map(|session| Session(Connection::Smtp(Box::new(session)))),
            Self::Files(transport) => Ok(Session(Connection::Files(transport.clone()))),
        }
    }
}

/// A connection ready for one message, taken with [`Mailer::open`].
pub struct Session(Connection);

enum Connection {
    // Boxed: an SMTP session carries its buffers, a folder only a path.
    Smtp(Box<crate::smtp::Session>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

impl Session {
    /// Sends `message`; the timeout bounds the transaction itself.
    pub async fn transmit(self, message: &Message, timeout: Duration) -> Result<(), SendFailure> {
        match self.0 {
            Connection::Smtp(session) => {
                session
                    .transmit(message.envelope(), &message.formatted(), timeout)
                    .await
            }
            Connection::Files(transport) => transport
                .send(message.clone())
                .await
                .map(drop)
                .map_err(|e| SendFailure::transient(e.to_string())),
        }
    }
}

/// The message of `outgoing`; an address it cannot carry is refused for good.
pub fn prepare(from: &Mailbox, outgoing: &Outgoing) -> Result<Message, SendFailure> {
    build_message(from, outgoing).map_err(|detail| SendFailure {
        kind: FailureKind::Permanent,
        detail,
    })
}

fn build_message(from: &Mailbox, outgoing: &Outgoing) -> Result<Message, String> {
    let to = &outgoing.to;
    let mut message = Message::builder()
        .from(from.clone())
        .subject(&outgoing.rendered.subject)
        .message_id(Some(outgoing.message_id.clone()))
        .to(to
            .parse::<Mailbox>()
            .map_err(|e| format!("address {to:?}: {e}"))?)
        .multipart(MultiPart::alternative_plain_html(
            outgoing.rendered.text.clone(),
            outgoing.rendered.html.clone(),
        ))
        .map_err(|e| e.to_string())?;
    // RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs to the link.
    if let Some(unsubscribe_url) = &outgoing.unsubscribe_url {
        let headers = message.headers_mut();
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<{unsubscribe_url}>"),
        ));
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".to_owned(),
        ));
    }
    Ok(message)
}
