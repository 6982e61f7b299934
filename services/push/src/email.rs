//! Packs rendered to HTML and plain text from templates, and the e-mail transport: pooled SMTP
//! connections ([`crate::smtp`]) when a relay is configured, `.eml` files in a folder otherwise.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use matcher::Cited;
use minijinja::Environment;
use serde::Serialize;

use crate::PushError;
use crate::pack::{PackItem, ServicePack};
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
    items: Vec<ItemView<'a>>,
    /// 我的政策, where every policy the recipient can claim is listed live.
    my_policies_url: String,
    read_url: Option<&'a str>,
    unsubscribe_url: Option<&'a str>,
}

/// One policy of the pack with the absolute link to its public page, and its reasons split
/// around the clause each cites, which links to that article of the page's 原文.
#[derive(Serialize)]
struct ItemView<'a> {
    item: &'a PackItem,
    policy_url: String,
    reasons: Vec<Cited>,
}

/// Where an e-mail's links lead: the public base URL (pages) and the pack's own signed links.
#[derive(Clone, Copy, Debug)]
pub struct Links<'a> {
    pub public_url: &'a str,
    pub read_url: Option<&'a str>,
    pub unsubscribe_url: Option<&'a str>,
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

    /// The pack as a page and as plain text, saying the same; the pack's own links are left out
    /// when not given.
    pub fn render(&self, pack: &ServicePack, links: Links<'_>) -> Result<RenderedPack, PushError> {
        let base = links.public_url.trim_end_matches('/');
        let view = PackView {
            pack,
            items: pack
                .items
                .iter()
                .map(|item| ItemView {
                    item,
                    policy_url: format!("{base}/policies/{}", item.policy_id),
                    reasons: item
                        .reasons
                        .iter()
                        .map(|reason| Cited::new(&reason.zh, reason.clause.as_deref()))
                        .collect(),
                })
                .collect(),
            my_policies_url: format!("{base}/my/policies"),
            read_url: links.read_url,
            unsubscribe_url: links.unsubscribe_url,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::{ApplyStep, ReasonLine, RelatedPolicy};
    use matcher::audit::{every_reason_kind, recipient_leaks};

    const BASE: &str = "https://zhengce.example.gov.cn/";

    fn reason(zh: &str, clause: Option<&str>) -> ReasonLine {
        ReasonLine {
            zh: zh.to_owned(),
            en: String::new(),
            clause: clause.map(str::to_owned),
        }
    }

    fn pack(reasons: Vec<ReasonLine>) -> ServicePack {
        ServicePack {
            push_id: 3,
            profile_id: 9,
            recipient: "北京智芯算力科技有限公司".into(),
            generated_on: "2026-11-21".parse().unwrap(),
            items: vec![PackItem {
                policy_id: 7,
                title: "北京市中小企业稳岗补贴实施办法".into(),
                doc_number: "京人社发〔2026〕3号".into(),
                issuing_departments: vec!["北京市人力资源和社会保障局".into()],
                summary: "对不裁员或少裁员的中小企业给予补贴。".into(),
                key_points: vec!["按上年度失业保险费的 60% 返还".into()],
                push_reason: "match".into(),
                verdict: "undetermined".into(),
                score: 71.25,
                conditions_met: 2,
                conditions_total: 3,
                reasons,
                missing_fields: vec!["taxable_income".into()],
                missing_zh: vec!["应纳税所得额（万元）".into()],
                missing_en: vec!["taxable income (10k yuan)".into()],
                how_to_apply: vec![ApplyStep {
                    name: "稳岗返还".into(),
                    channel: "免申即享".into(),
                    process: "系统比对后直接拨付".into(),
                    materials: vec!["营业执照".into(), "失业保险缴费证明".into()],
                    online_url: Some("https://rsj.example.gov.cn/apply".into()),
                    offline_address: Some("海淀区西四环北路 73 号 2 号窗口".into()),
                    time_limit: Some("20 个工作日".into()),
                    hotline: Some("010-12345678".into()),
                    window_opens: Some("2026-11-01".parse().unwrap()),
                    window_closes: Some("2026-12-31".parse().unwrap()),
                }],
                deadline: Some("2026-12-31".parse().unwrap()),
                estimated_amount: Some(1.65),
                estimated_amount_zh: Some("约 1.65 万元".into()),
                related: vec![RelatedPolicy {
                    policy_id: 8,
                    title: "失业保险稳岗返还申报指南".into(),
                }],
                confirm_required: true,
            }],
        }
    }

    fn rendered(pack: &ServicePack) -> RenderedPack {
        Templates::new()
            .unwrap()
            .render(
                pack,
                Links {
                    public_url: BASE,
                    read_url: Some("https://zhengce.example.gov.cn/r/abc"),
                    unsubscribe_url: Some("https://zhengce.example.gov.cn/unsubscribe/def"),
                },
            )
            .unwrap()
    }

    /// What a reader of the HTML part sees: the body's text, tags dropped, entities decoded.
    fn visible(html: &str) -> String {
        let body = &html[html.find("<body").expect("a body")..];
        let mut text = String::new();
        let mut in_tag = false;
        for c in body.chars() {
            match c {
                '<' => in_tag = true,
                // A tag parts what is either side of it, as list items and paragraphs do.
                '>' => {
                    in_tag = false;
                    text.push(' ');
                }
                _ if !in_tag => text.push(c),
                _ => {}
            }
        }
        decoded(&text)
    }

    /// HTML text with the entities the templates write decoded.
    fn decoded(html: &str) -> String {
        [
            ("&lt;", "<"),
            ("&gt;", ">"),
            ("&quot;", "\""),
            ("&#x27;", "'"),
            ("&#x2f;", "/"),
            ("&amp;", "&"),
        ]
        .iter()
        .fold(html.to_owned(), |text, (entity, c)| text.replace(entity, c))
    }

    /// A text without the URLs it writes out (the HTML part has them in attributes).
    fn without_urls(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = ["https://", "http://"]
            .iter()
            .filter_map(|scheme| rest.find(scheme))
            .min()
        {
            out.push_str(&rest[..at]);
            // A URL ends at white space or at the first character no URL here has.
            let end = rest[at..]
                .find(|c: char| c.is_whitespace() || !c.is_ascii())
                .map_or(rest.len(), |end| at + end);
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }

    /// The words of a text in order: runs of letters and digits, punctuation and layout aside.
    fn words(text: &str) -> Vec<String> {
        without_urls(text)
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The two parts word for word, naming the first word where they part.
    fn assert_same_words(mail: &RenderedPack) {
        let (html, text) = (words(&visible(&mail.html)), words(&mail.text));
        let apart = html.iter().zip(&text).position(|(a, b)| a != b);
        let at = apart.unwrap_or(html.len().min(text.len()));
        assert_eq!(
            html.len(),
            text.len(),
            "the parts part at word {at}: HTML {:?}, plain {:?}",
            &html[at.saturating_sub(3)..(at + 3).min(html.len())],
            &text[at.saturating_sub(3)..(at + 3).min(text.len())]
        );
        assert_eq!(
            apart,
            None,
            "HTML {:?}, plain {:?}",
            html.get(at),
            text.get(at)
        );
    }

    #[test]
    fn the_plain_and_html_parts_say_the_same() {
        let mail = rendered(&pack(vec![
            reason("满足 3 项中的 2 项，1 项待确认", None),
            reason("注册地 北京市海淀区 属于 北京市（第二条）", Some("第二条")),
            reason("从业人员数 85 ≤ 300（第三条第二款）", Some("第三条第二款")),
        ]));
        assert_same_words(&mail);
        for part in [&mail.text, &visible(&mail.html)] {
            for expected in [
                "查看全部可享政策",
                "兑现渠道：免申即享",
                "办理流程：系统比对后直接拨付",
                "申报材料：营业执照、失业保险缴费证明",
                "线下办理地址：海淀区西四环北路 73 号 2 号窗口",
                "办理时限：20 个工作日",
                "咨询电话：010-12345678",
                "申报时间：2026-11-01 至 2026-12-31",
                "预计可享：约 1.65 万元",
                "待补充信息：应纳税所得额（万元）",
            ] {
                assert!(part.contains(expected), "{expected} in {part}");
            }
            assert!(!part.contains("taxable_income"), "{part}");
            assert!(!part.contains("匹配度") && !part.contains("71"), "{part}");
        }
    }

    #[test]
    fn clauses_and_pages_link_to_the_public_site() {
        let mail = rendered(&pack(vec![reason(
            "注册地 北京市海淀区 属于 北京市（第三条第二款）",
            Some("第三条第二款"),
        )]));
        let html = decoded(&mail.html);
        assert!(
            html.contains(
                "属于 北京市（<a href=\"https://zhengce.example.gov.cn/policies/7#art-3\">\
                 第三条第二款</a>）"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<a href=\"https://zhengce.example.gov.cn/my/policies\">查看全部可享政策</a>"
            ),
            "{html}"
        );
        assert!(
            mail.text.contains(
                "属于 北京市（第三条第二款 https://zhengce.example.gov.cn/policies/7#art-3）"
            ),
            "{}",
            mail.text
        );
        assert!(
            mail.text
                .contains("查看全部可享政策：https://zhengce.example.gov.cn/my/policies\n"),
            "{}",
            mail.text
        );
    }

    #[test]
    fn no_reason_kind_leaks_a_code_or_a_score_into_an_email() {
        let reasons: Vec<ReasonLine> = every_reason_kind()
            .iter()
            .map(|r| reason(&r.text_zh, r.clause.as_deref()))
            .collect();
        let count = reasons.len();
        let mail = rendered(&pack(reasons));
        for (part, text) in [("plain", mail.text.clone()), ("html", visible(&mail.html))] {
            let text = without_urls(&text);
            let leaks = recipient_leaks(&text);
            assert!(leaks.is_empty(), "{part}: {leaks:?}");
            // Every leaf reason cites its clause, and the citation survives the split.
            assert!(text.matches("第三条第二款").count() >= count / 2, "{part}");
        }
        assert_same_words(&mail);
    }
}
