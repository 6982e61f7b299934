//! The e-mail transport against a real SMTP server (the tests' aiosmtpd sink): what each way a
//! send can end is called, and that waiting for a pooled connection is not part of the send
//! timeout.

use std::time::Duration;

use lettre::message::Mailbox;
use push::{FailureKind, MailSettings, Mailer, Outgoing, RenderedPack};
use smtp_sink::{Faults, SmtpSink};

fn settings(sink: &SmtpSink, pool_size: u32, send_timeout: Duration) -> MailSettings {
    MailSettings {
        smtp_url: Some(sink.url()),
        outbox_dir: std::env::temp_dir(),
        from: "政策直达 <noreply@policy-push.local>".to_owned(),
        pool_size,
        connect_timeout: Duration::from_secs(5),
        send_timeout,
    }
}

fn message(to: &str, n: usize) -> Outgoing {
    Outgoing {
        message_id: format!("<outcome-{n}@policy-push>"),
        to: to.to_owned(),
        rendered: RenderedPack {
            subject: "【政策直达】测试".to_owned(),
            html: "<p>政策服务包</p>".to_owned(),
            text: "政策服务包".to_owned(),
        },
        unsubscribe_url: None,
    }
}

fn from() -> Mailbox {
    "政策直达 <noreply@policy-push.local>".parse().unwrap()
}

#[tokio::test]
async fn refusals_are_permanent_greylisting_is_transient_and_a_lost_reply_is_in_doubt() {
    let sink = SmtpSink::start_with(Faults {
        refuse: vec!["gone@example.com".to_owned()],
        defer: vec!["later@example.com".to_owned()],
        defer_times: 1,
        reply_delay_ms: 0,
    })
    .await;
    let settings = settings(&sink, 2, Duration::from_secs(5));
    let mailer = Mailer::new(&settings).unwrap();
    let refused = mailer
        .send(&from(), &message("gone@example.com", 1), &settings)
        .await
        .unwrap_err();
    assert_eq!(refused.kind, FailureKind::Permanent);
    assert!(refused.detail.contains("550"), "{}", refused.detail);
    let deferred = mailer
        .send(&from(), &message("later@example.com", 2), &settings)
        .await
        .unwrap_err();
    assert_eq!(deferred.kind, FailureKind::Transient);
    assert!(deferred.detail.contains("451"), "{}", deferred.detail);
    mailer
        .send(&from(), &message("later@example.com", 3), &settings)
        .await
        .expect("accepted once greylisting is over");
    assert_eq!(sink.messages().len(), 1);

    // The relay keeps the message but answers after the timeout: the sender cannot know, and
    // says so — and the message did arrive.
    let slow = SmtpSink::start_with(Faults {
        reply_delay_ms: 1_500,
        ..Faults::default()
    })
    .await;
    let slow_settings = settings_with_short_timeout(&slow);
    let mailer = Mailer::new(&slow_settings).unwrap();
    let lost_reply = mailer
        .send(&from(), &message("wangmin@example.com", 4), &slow_settings)
        .await
        .unwrap_err();
    assert_eq!(
        lost_reply.kind,
        FailureKind::InDoubt,
        "{}",
        lost_reply.detail
    );
    assert_eq!(slow.wait_for(1, Duration::from_secs(5)).await.len(), 1);

    // No server at all: a clean failure, nothing was sent.
    let mut gone = SmtpSink::start().await;
    gone.pause();
    let gone_settings = settings_with_short_timeout(&gone);
    let unreachable = Mailer::new(&gone_settings)
        .unwrap()
        .send(&from(), &message("wangmin@example.com", 5), &gone_settings)
        .await
        .unwrap_err();
    assert_eq!(unreachable.kind, FailureKind::Transient);
}

fn settings_with_short_timeout(sink: &SmtpSink) -> MailSettings {
    settings(sink, 1, Duration::from_millis(500))
}

#[tokio::test]
async fn waiting_for_a_pooled_connection_is_not_part_of_the_send_timeout() {
    // Each message takes ~300 ms; with one connection the fourth waits ~900 ms for it, well past
    // the 700 ms send timeout, and must still go out.
    let sink = SmtpSink::start_with(Faults {
        reply_delay_ms: 300,
        ..Faults::default()
    })
    .await;
    let settings = settings(&sink, 1, Duration::from_millis(700));
    let mailer = Mailer::new(&settings).unwrap();
    let mut sending = tokio::task::JoinSet::new();
    for n in 0..4 {
        let (mailer, settings) = (mailer.clone(), settings.clone());
        sending.spawn(async move {
            mailer
                .send(
                    &from(),
                    &message(&format!("r{n}@example.com"), n),
                    &settings,
                )
                .await
        });
    }
    while let Some(sent) = sending.join_next().await {
        sent.unwrap().expect("every message is sent");
    }
    assert_eq!(sink.messages().len(), 4);
}
