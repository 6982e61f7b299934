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

/// Why a message was not sent.
#[derive(Clone, Debug)]
pub struct SendFailure {
    /// The relay refused for good (a 5xx reply): sending again would be refused again.
    pub permanent: bool,
    pub detail: String,
}

impl SendFailure {
    pub fn transient(detail: impl Into<String>) -> Self {
        Self {
            permanent: false,
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
    /// A whole send, connect to the server's final reply.
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

    /// Sends one message; the failure is kept as the attempt's detail. An address the message
    /// cannot carry is refused for good.
    pub async fn send(
        &self,
        from: &Mailbox,
        outgoing: &Outgoing,
        timeout: Duration,
    ) -> Result<(), SendFailure> {
        let message = build_message(from, outgoing).map_err(|detail| SendFailure {
            permanent: true,
            detail,
        })?;
        // The whole send is bounded, connect and DATA phase alike: a stalled relay would hang.
        match self {
            Self::Smtp(pool) => {
                let bytes = message.formatted();
                tokio::time::timeout(timeout, pool.send(message.envelope(), &bytes))
                    .await
                    .map_err(|_| SendFailure::transient(format!("no reply within {timeout:?}")))?
            }
            Self::Files(transport) => transport
                .send(message)
                .await
                .map(drop)
                .map_err(|e| SendFailure::transient(e.to_string())),
        }
    }
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
