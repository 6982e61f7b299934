//! Contacts and identity, end to end with a real SMTP server: the cap on contacts, the double
//! opt-in of addresses a profile's own user adds, one message per address with a refused address
//! holding back no one, and identity fields the own user cannot change (nor probe with).

use std::time::Duration;

use e2e::{Backend, Client, TestApp, on_both_backends};
use serde_json::{Value, json};
use smtp_sink::SmtpSink;

use crate::fixtures::{self, CREDIT_CODE_CHAOYANG, CREDIT_CODE_HAIDIAN, ID_NUMBER_1990};

const WAIT: Duration = Duration::from_secs(30);
/// Valid 身份证号 (GB 11643 check digits) of two more fictitious people.
const ID_NUMBER_1985: &str = "110108198506150021";
const ID_NUMBER_1992: &str = "11010519920101004X";

async fn app_with_sink(backend: Backend, sink: &SmtpSink) -> TestApp {
    let url = sink.url();
    TestApp::spawn_with(backend, move |config| config.mail.smtp_url = Some(url)).await
}

/// A client acting as the enterprise or citizen user bound to `profile`.
async fn owner_of(app: &TestApp, profile: i64, role: store::Role) -> Client {
    let name = format!("owner-{profile}");
    let token = TestApp::mint_token(&app.server.store, &name, role, Some(profile), None).await;
    app.acting_as(&token)
}

/// A service mailing into its own SMTP sink, one enterprise in it and a client acting as that
/// enterprise's user.
async fn an_enterprise_and_its_user(backend: Backend) -> (SmtpSink, TestApp, i64, Client) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink).await;
    let id = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let owner = owner_of(&app, id, store::Role::Enterprise).await;
    (sink, app, id, owner)
}

fn contact(n: usize) -> Value {
    json!({"name": format!("外部联系人{n}"), "email": format!("outsider{n}@evil.example"), "role": "general"})
}

/// The audit entries of one profile, newest first.
async fn profile_audit(app: &TestApp, id: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/audit?entity=profile&entity_id={id}"))
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .expect("audit items")
        .clone()
}

async fn more_contacts_than_allowed_are_refused_and_nothing_is_written(backend: Backend) {
    let (sink, app, id, owner) = an_enterprise_and_its_user(backend).await;
    for count in [6, 3_000] {
        let mut body = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
        body["contacts"] = Value::Array((0..count).map(contact).collect());
        let field = owner
            .put(&format!("/api/v1/profiles/{id}"), &body)
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(field.as_deref(), Some("contacts"), "{count} contacts");
        let field = app
            .put(&format!("/api/v1/profiles/{id}"), &body)
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(field.as_deref(), Some("contacts"), "administrators too");
        let mut new = body.clone();
        new["credit_code"] = json!(CREDIT_CODE_CHAOYANG);
        let reply = app.post("/api/v1/profiles", &new).await;
        assert_eq!(
            reply.body["errors"][0]["rule"], "too_many_contacts",
            "{}",
            reply.text
        );
        reply.expect_error(422, "validation_failed");
    }
    let stored = app.get(&format!("/api/v1/profiles/{id}")).await.expect(200);
    assert_eq!(stored.body["version"], 1, "nothing written");
    assert_eq!(
        stored.body["profile"]["contacts"],
        fixtures::enterprise(CREDIT_CODE_HAIDIAN)["contacts"]
    );
    assert_eq!(app.total("/api/v1/profiles").await, 1);
    assert!(
        profile_audit(&app, id)
            .await
            .iter()
            .all(|e| e["action"] == "create"),
        "no update audited"
    );
    // Five is allowed.
    let mut five = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    five["contacts"] = Value::Array((0..5).map(contact).collect());
    app.put(&format!("/api/v1/profiles/{id}"), &five)
        .await
        .expect(200);
    assert!(
        sink.messages().is_empty(),
        "refused or trusted changes mail nothing"
    );
}

/// The `rcpt_tos` of each message, in arrival order.
fn envelopes(mails: &[Value]) -> Vec<Vec<String>> {
    mails
        .iter()
        .map(|m| {
            m["rcpt_tos"]
                .as_array()
                .expect("rcpt_tos")
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

/// Messages to `address`, asserting every message has exactly one addressee.
fn mails_to<'a>(mails: &'a [Value], address: &str) -> Vec<&'a Value> {
    for (mail, envelope) in mails.iter().zip(envelopes(mails)) {
        assert_eq!(envelope.len(), 1, "one recipient per envelope: {mail}");
        assert_eq!(
            mail["to"], envelope[0],
            "To: names only the envelope's one address"
        );
    }
    mails
        .iter()
        .filter(|m| m["rcpt_tos"][0] == address)
        .collect()
}

fn second_policy() -> Value {
    let mut policy = fixtures::policy();
    policy["doc_number"] = json!("京科发〔2026〕2号");
    policy["title"] = json!("关于支持中关村企业开展技术攻关的若干措施");
    policy
}

/// Waits until `count` publish pushes exist and every one is done (all deliveries settled).
async fn publish_pushes_done(app: &TestApp, count: usize) {
    app.wait_until("/api/v1/pushes?trigger_kind=publish", WAIT, |body| {
        body["items"].as_array().is_some_and(|items| {
            items.len() == count && items.iter().all(|p| p["status"] == "done")
        })
    })
    .await;
}

async fn an_added_address_gets_only_the_confirmation_until_it_confirms(backend: Backend) {
    let (sink, app, id, owner) = an_enterprise_and_its_user(backend).await;
    let mut body = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    body["contacts"] = json!([
        {"name": "王敏", "email": "wangmin@example.com", "role": "finance"},
        {"name": "新同事", "email": "newcomer@example.com", "role": "hr"}
    ]);
    owner
        .put(&format!("/api/v1/profiles/{id}"), &body)
        .await
        .expect(200);

    let mails = sink.wait_for(1, WAIT).await;
    let confirmation = mails_to(&mails, "newcomer@example.com");
    assert_eq!(confirmation.len(), 1, "{mails:?}");
    assert!(
        mails_to(&mails, "wangmin@example.com").is_empty(),
        "an address already listed is not asked again"
    );
    let text = confirmation[0]["text"].as_str().expect("text part");
    let link = crate::push::link_after(text, "确认链接：");
    assert!(link.contains("/confirm-contact/"), "{link}");

    app.create("/api/v1/policies", &fixtures::policy()).await;
    publish_pushes_done(&app, 1).await;
    let mails = sink.wait_for(2, WAIT).await;
    assert_eq!(
        mails_to(&mails, "wangmin@example.com").len(),
        1,
        "{mails:?}"
    );
    assert_eq!(
        mails_to(&mails, "newcomer@example.com").len(),
        1,
        "an unconfirmed address gets only its confirmation: {mails:?}"
    );

    let http = reqwest::Client::new();
    let page = http.get(&link).send().await.expect("confirmation page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    let confirmed = http.post(&link).send().await.expect("confirm");
    assert_eq!(confirmed.status(), 200);
    let again = http.post(&link).send().await.expect("confirm again");
    assert_eq!(again.status(), 410, "a confirmation link works once");
    let forged = link.replacen("/confirm-contact/", "/confirm-contact/9", 1);
    assert_eq!(http.post(&forged).send().await.unwrap().status(), 403);
    assert!(
        profile_audit(&app, id)
            .await
            .iter()
            .any(|e| e["action"] == "confirm_contact"
                && e["detail"]["email"] == "newcomer@example.com"),
        "the confirmation is audited"
    );

    app.create("/api/v1/policies", &second_policy()).await;
    publish_pushes_done(&app, 2).await;
    let mails = sink.wait_for(4, WAIT).await;
    assert_eq!(mails.len(), 4, "{mails:?}");
    let packs: Vec<&Value> = mails_to(&mails, "newcomer@example.com")
        .into_iter()
        .filter(|m| m["subject"].as_str().unwrap().contains("技术攻关"))
        .collect();
    assert_eq!(
        packs.len(),
        1,
        "confirmed, the address gets packs: {mails:?}"
    );
    assert_eq!(mails_to(&mails, "wangmin@example.com").len(), 2);
}

/// The `detail` of every delivery attempt, read straight from the database.
async fn attempt_details(app: &TestApp) -> Vec<String> {
    use sqlx::Connection;
    let sql = "SELECT detail FROM delivery_attempts WHERE detail IS NOT NULL";
    match app.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&app.database_url)
                .await
                .unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.database_url)
                .await
                .unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
        }
    }
}

async fn each_address_gets_its_own_message_and_a_refused_one_holds_back_no_other(backend: Backend) {
    let sink = SmtpSink::start_refusing(&["refused@example.com"]).await;
    let app = app_with_sink(backend, &sink).await;
    let mut body = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    // Set by an administrator, so confirmed; the refused address comes first in the delivery.
    body["contacts"] = json!([
        {"name": "王敏", "email": "wangmin@example.com", "role": "finance"},
        {"name": "退信", "email": "refused@example.com", "role": "general"},
        {"name": "张伟", "email": "zhangwei@example.com", "role": "hr"}
    ]);
    app.create("/api/v1/profiles", &body).await;
    app.create("/api/v1/policies", &fixtures::policy()).await;
    publish_pushes_done(&app, 1).await;
    let listed = app
        .get("/api/v1/pushes?trigger_kind=publish")
        .await
        .expect(200)
        .body;
    let push = listed["items"][0]["id"].as_i64().unwrap();
    let progress = app
        .get(&format!("/api/v1/pushes/{push}"))
        .await
        .expect(200)
        .body;
    assert_eq!(
        progress["deliveries"]["email"]["delivered"], 1,
        "{progress}"
    );

    let mails = sink.wait_for(2, WAIT).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    let mut reached: Vec<Vec<String>> = envelopes(&mails);
    reached.sort();
    assert_eq!(
        reached,
        [vec!["wangmin@example.com"], vec!["zhangwei@example.com"]]
    );
    for address in ["wangmin@example.com", "zhangwei@example.com"] {
        assert_eq!(mails_to(&mails, address).len(), 1);
    }
    let ids: std::collections::HashSet<&str> = mails
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "each message its own Message-ID");

    let details = attempt_details(&app).await;
    assert!(
        details
            .iter()
            .any(|d| d.contains("wangmin@example.com sent")
                && d.contains("zhangwei@example.com sent")
                && d.contains("refused@example.com refused")
                && d.contains("550")),
        "each address's outcome is in the attempt log: {details:?}"
    );
}

async fn the_own_user_cannot_change_or_probe_identity_numbers(app: TestApp) {
    let enterprise = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let citizen = app
        .create("/api/v1/profiles", &fixtures::citizen(ID_NUMBER_1990))
        .await;
    let firm = owner_of(&app, enterprise, store::Role::Enterprise).await;
    let person = owner_of(&app, citizen, store::Role::Citizen).await;
    let mut other_firm = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    other_firm["credit_code"] = json!(CREDIT_CODE_CHAOYANG);
    let other_person = fixtures::citizen(ID_NUMBER_1985);

    // Each attempt is refused the same way before and after someone registers the number.
    let mut refusals: Vec<(String, String)> = Vec::new();
    for registered in [false, true] {
        if registered {
            app.create("/api/v1/profiles", &other_firm).await;
            app.create("/api/v1/profiles", &other_person).await;
        }
        let reply = firm
            .put(&format!("/api/v1/profiles/{enterprise}"), &other_firm)
            .await;
        let text = reply.text.clone();
        assert_eq!(reply.body["errors"][0]["rule"], "identity_locked", "{text}");
        let field = reply.expect_error(422, "validation_failed");
        assert_eq!(field.as_deref(), Some("credit_code"));
        refusals.push(("credit_code".into(), text));

        let mut changed = fixtures::citizen(ID_NUMBER_1990);
        changed["id_number"] = json!(ID_NUMBER_1985);
        let reply = person
            .put(&format!("/api/v1/profiles/{citizen}"), &changed)
            .await;
        let text = reply.text.clone();
        let field = reply.expect_error(422, "validation_failed");
        assert_eq!(field.as_deref(), Some("id_number"));
        refusals.push(("id_number".into(), text));
    }
    assert_eq!(refusals[0], refusals[2], "no 409, no hint of registration");
    assert_eq!(refusals[1], refusals[3], "no 409, no hint of registration");
    // Stating a birth date would let the user test guesses against the number: refused alike.
    let mut right = None;
    for guess in ["1990-03-07", "1990-03-08"] {
        let mut dated = fixtures::citizen(ID_NUMBER_1990);
        dated.as_object_mut().unwrap().remove("id_number");
        dated["birth_date"] = json!(guess);
        let reply = person
            .put(&format!("/api/v1/profiles/{citizen}"), &dated)
            .await;
        let text = reply.text.clone();
        let field = reply.expect_error(422, "validation_failed");
        assert_eq!(field.as_deref(), Some("birth_date"));
        assert!(
            right.get_or_insert(text.clone()) == &text,
            "same reply for any date"
        );
    }
    // Turning the profile into the other kind is changing its identity too.
    let field = person
        .put(&format!("/api/v1/profiles/{citizen}"), &other_firm)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("kind"));
    for id in [enterprise, citizen] {
        let stored = app.get(&format!("/api/v1/profiles/{id}")).await.expect(200);
        assert_eq!(
            stored.body["version"], 1,
            "nothing written: {}",
            stored.text
        );
    }
    // Correcting other fields with the same identity still works.
    let mut same = fixtures::citizen(ID_NUMBER_1990);
    same.as_object_mut().unwrap().remove("id_number");
    same["education"] = json!("master");
    person
        .put(&format!("/api/v1/profiles/{citizen}"), &same)
        .await
        .expect(200);

    // An administrator may, and it is audited without the number.
    let mut corrected = fixtures::citizen(ID_NUMBER_1992);
    corrected["name"] = json!("李华");
    let saved = app
        .put(&format!("/api/v1/profiles/{citizen}"), &corrected)
        .await
        .expect(200);
    assert_eq!(saved.body["profile"]["id_masked"], "110105***********X");
    let entry = profile_audit(&app, citizen).await[0].clone();
    assert_eq!(entry["action"], "update");
    assert_eq!(entry["detail"]["identity_changed"], json!(["id_number"]));
    assert!(!entry.to_string().contains(ID_NUMBER_1992));
    let moved = app
        .put(&format!("/api/v1/profiles/{enterprise}"), &other_firm)
        .await
        .expect_error(409, "duplicate");
    assert_eq!(moved.as_deref(), Some("credit_code"));
}

on_both_backends!(
    backend: more_contacts_than_allowed_are_refused_and_nothing_is_written,
    an_added_address_gets_only_the_confirmation_until_it_confirms,
    each_address_gets_its_own_message_and_a_refused_one_holds_back_no_other,
);

mod identity {
    use super::*;
    on_both_backends!(the_own_user_cannot_change_or_probe_identity_numbers);
}
