//! Every page an administrator, a staff member, an enterprise, a citizen and a visitor can reach,
//! as served: each has the viewport meta (phones), shows its times in China's time and Chinese
//! formats (no raw UTC stamp, offset or nanoseconds); an unknown address, a refusal and a wrong
//! method are pages in the same look while `/api/` keeps its JSON; a signed-out visit to a page
//! returns there after sign-in, and only ever to a page of this site.

use e2e::TestApp;
use reqwest::redirect::Policy;
use store::Role;

use crate::fixtures::{self, CREDIT_CODE_HAIDIAN, ID_NUMBER_1990};

const VIEWPORT: &str = r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#;

/// The HTML a reader sees: the page without its scripts' data blocks (never shown).
fn shown(html: &str) -> String {
    let mut rest = html;
    let mut out = String::new();
    while let Some(start) = rest.find("<script") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("</script>")
            .map_or("", |end| &rest[start + end + "</script>".len()..]);
    }
    out.push_str(rest);
    out
}

/// The first raw machine time in `text`: an RFC 3339 stamp (`2026-12-07T03:`), a UTC offset or
/// name, or a fraction of a second (`:05.123`).
fn raw_time(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let digits = |from: usize, count: usize| {
        bytes
            .get(from..from + count)
            .is_some_and(|run| run.iter().all(u8::is_ascii_digit))
    };
    for at in 0..bytes.len() {
        let rfc3339 = digits(at, 4)
            && bytes.get(at + 4) == Some(&b'-')
            && digits(at + 5, 2)
            && bytes.get(at + 7) == Some(&b'-')
            && digits(at + 8, 2)
            && bytes.get(at + 10) == Some(&b'T')
            && digits(at + 11, 2)
            && bytes.get(at + 13) == Some(&b':');
        let fraction = bytes[at] == b':'
            && digits(at + 1, 2)
            && bytes.get(at + 3) == Some(&b'.')
            && digits(at + 4, 3);
        let named = bytes[at..].starts_with(b"+00:00") || bytes[at..].starts_with(b"UTC");
        if rfc3339 || fraction || named {
            let around = &bytes[at.saturating_sub(20)..(at + 30).min(bytes.len())];
            return Some(String::from_utf8_lossy(around).into_owned());
        }
    }
    None
}

/// Opens `path` as `client`; asserts the status and that it is a page fit for a phone with no
/// raw time; returns the page.
async fn page(client: &reqwest::Client, app: &TestApp, path: &str, status: u16) -> String {
    let reply = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), status, "{path}");
    let kind = reply.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/html"), "{path} is a page: {kind}");
    let html = reply.text().await.unwrap();
    assert!(html.contains(VIEWPORT), "{path} has the viewport meta");
    if let Some(raw) = raw_time(&shown(&html)) {
        panic!("{path} shows a raw time: …{raw}…");
    }
    html
}

/// `2026年12月7日 11:05`: a time as the pages show it.
fn has_chinese_time(html: &str) -> bool {
    html.split('年').skip(1).any(|after| {
        let Some((month, rest)) = after.split_once('月') else {
            return false;
        };
        let Some((day, rest)) = rest.split_once("日 ") else {
            return false;
        };
        let clock = rest.get(..5).unwrap_or_default().as_bytes();
        month.len() <= 2
            && day.len() <= 2
            && clock.len() == 5
            && clock[2] == b':'
            && clock
                .iter()
                .enumerate()
                .all(|(i, b)| i == 2 || b.is_ascii_digit())
    })
}

async fn every_page_fits_a_phone_and_shows_china_time(app: TestApp) {
    let enterprise = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let citizen = app
        .create("/api/v1/profiles", &fixtures::citizen(ID_NUMBER_1990))
        .await;
    let policy = app.create("/api/v1/policies", &fixtures::policy()).await;
    let item = app.only_inbox_item(enterprise).await;
    let push = app.get("/api/v1/pushes").await.expect(200).body["items"][0]["id"]
        .as_i64()
        .expect("the publication pushed");
    let store = &app.server.store;
    let as_enterprise = TestApp::client_with_token(
        &TestApp::mint_token(store, "zhixin", Role::Enterprise, Some(enterprise), None).await,
    );
    let as_citizen = TestApp::client_with_token(
        &TestApp::mint_token(store, "lihua", Role::Citizen, Some(citizen), None).await,
    );
    let as_staff = TestApp::client_with_token(
        &TestApp::mint_token(store, "haidian-staff", Role::Staff, None, Some("110108")).await,
    );
    let as_admin = &app.client;
    let anonymous = reqwest::Client::new();

    for path in [
        "/policies".to_owned(),
        format!("/policies/{policy}"),
        "/policies?q=研发".to_owned(),
        "/calendar".to_owned(),
        "/calculator".to_owned(),
        "/calculator?kind=enterprise&region=110108".to_owned(),
        "/login".to_owned(),
    ] {
        page(&anonymous, &app, &path, 200).await;
    }
    for path in [
        "/inbox".to_owned(),
        format!("/inbox/{item}"),
        "/preferences".to_owned(),
        "/profile".to_owned(),
        "/my/policies".to_owned(),
        "/inbox?lang=en".to_owned(),
    ] {
        let html = page(&as_enterprise, &app, &path, 200).await;
        if path == "/inbox" {
            assert!(has_chinese_time(&html), "the inbox dates its pack: {html}");
        }
    }
    for path in ["/inbox", "/profile", "/my/policies", "/preferences"] {
        page(&as_citizen, &app, path, 200).await;
    }
    page(&as_citizen, &app, "/staff", 403).await;
    page(&as_citizen, &app, &format!("/inbox/{item}"), 403).await;
    for path in [
        "/staff".to_owned(),
        "/staff?q=北京智芯".to_owned(),
        format!("/staff/profiles/{enterprise}"),
        "/staff/push".to_owned(),
        "/staff/pushes".to_owned(),
    ] {
        page(&as_staff, &app, &path, 200).await;
    }
    let history = page(as_admin, &app, "/staff/pushes", 200).await;
    assert!(
        has_chinese_time(&history),
        "the push history dates each push"
    );
    assert!(
        history.contains("<td>政策发布</td>") && !history.contains(">publish<"),
        "the trigger in words: {history}"
    );
    for path in [
        "/admin".to_owned(),
        "/admin/policies".to_owned(),
        format!("/admin/policies/{policy}"),
        "/admin/analytics".to_owned(),
        "/admin/dead-letters".to_owned(),
        "/admin/weights".to_owned(),
        "/admin/tags".to_owned(),
        "/admin/schedules".to_owned(),
        format!("/staff/profiles/{enterprise}"),
        format!("/staff/pushes/{push}"),
    ] {
        page(as_admin, &app, &path, 200).await;
    }
    app.create(
        "/api/v1/schedules",
        &serde_json::json!({
            "name": "截止提醒",
            "cron": "0 0 9 * * *",
            "job": {"kind": "deadline_reminder", "days_before": 7}
        }),
    )
    .await;
    let schedules = page(as_admin, &app, "/admin/schedules", 200).await;
    assert!(
        schedules.contains("申报截止前 7 天提醒")
            && !schedules.contains("{&quot;")
            && !schedules.contains("{\"")
            && has_chinese_time(schedules.split("class=\"next-runs\"").nth(1).unwrap_or("")),
        "the job as a sentence and its next runs in China time: {schedules}"
    );
    let staff_view = page(
        as_admin,
        &app,
        &format!("/staff/profiles/{enterprise}"),
        200,
    )
    .await;
    assert!(
        staff_view.contains("海淀区")
            && staff_view.contains("class=\"score\"")
            && staff_view.contains("<td>政策发布</td><td>消息中心</td><td>已送达</td>"),
        "the staff view names the district, scores each match and lists the pushes that reached the enterprise: {staff_view}"
    );
    let list = page(as_admin, &app, "/admin/policies", 200).await;
    assert!(
        list.contains("<td>已发布</td>") && !list.contains("<td>published</td>"),
        "the policy list names statuses in words: {list}"
    );
    let editor = page(as_admin, &app, &format!("/admin/policies/{policy}"), 200).await;
    assert!(
        editor.contains("<strong id=\"policy-status\">已发布</strong>")
            && editor.contains("<option value=\"municipal\" selected>市级</option>")
            && !editor.contains("(JSON)")
            && !editor.contains("id=\"condition\""),
        "the editor is forms in words, with no JSON box: {editor}"
    );
    let audit = page(as_admin, &app, "/admin/audit", 200).await;
    assert!(has_chinese_time(&audit), "the audit log dates each entry");
}

async fn errors_at_page_addresses_are_pages(app: TestApp) {
    let anonymous = reqwest::Client::new();
    let html = page(&anonymous, &app, "/no/such/page", 404).await;
    assert!(html.contains("<h1>未找到</h1>"), "{html}");
    assert!(html.contains("<header>"), "in the site's look: {html}");
    let html = page(&anonymous, &app, "/no/such/page?lang=en", 404).await;
    assert!(html.contains("<h1>Not found</h1>"), "{html}");
    let html = page(&anonymous, &app, "/static/missing.js", 404).await;
    assert!(html.contains("<h1>未找到</h1>"), "{html}");
    // The pages behind the links in e-mails are pages for phones too.
    for link in [
        "/unsubscribe/not-a-token",
        "/r/not-a-token",
        "/confirm-contact/x",
    ] {
        let html = page(&anonymous, &app, link, 400).await;
        assert!(html.contains("链接无效"), "{html}");
    }
    // A page's form address opened as a link.
    let html = page(&anonymous, &app, "/logout", 405).await;
    assert!(html.contains("<h1>无法这样打开</h1>"), "{html}");
    // Signed in, the error page still shows who is signed in.
    let html = page(&app.client, &app, "/admin/nothing-here", 404).await;
    assert!(html.contains("e2e-admin"), "{html}");
    let html = page(&app.client, &app, "/staff/profiles/999999", 404).await;
    assert!(html.contains("<h1>未找到</h1>"), "{html}");

    let api = anonymous
        .get(app.url("/api/v1/no-such-route"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status().as_u16(), 404);
    assert_eq!(api.headers()["content-type"], "application/json");
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["code"], "route_not_found");
}

fn without_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn sign_in_with(client: &reqwest::Client, app: &TestApp, next: &str) -> reqwest::Response {
    let body = form_body(&[
        ("username", "zhixin"),
        ("password", "e2e-password-123"),
        ("next", next),
    ]);
    client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes every byte but unreserved ASCII, as a form does.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn sign_in_returns_to_the_page_asked_for_and_only_here(app: TestApp) {
    let enterprise = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    TestApp::mint_token(
        &app.server.store,
        "zhixin",
        Role::Enterprise,
        Some(enterprise),
        None,
    )
    .await;
    let client = without_redirects();
    let asked = client
        .get(app.url("/my/policies?group=possible"))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status().as_u16(), 303);
    let login = asked.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(login, "/login?next=%2Fmy%2Fpolicies%3Fgroup%3Dpossible");
    let form = page(&client, &app, &login, 200).await;
    assert!(
        form.contains(r#"name="next" value="&#x2f;my&#x2f;policies?group=possible""#),
        "the sign-in form carries the page: {form}"
    );
    let signed = sign_in_with(&client, &app, "/my/policies?group=possible").await;
    assert_eq!(signed.status().as_u16(), 303);
    assert_eq!(signed.headers()["location"], "/my/policies?group=possible");

    // A form's address is no page to return to.
    let posted = client
        .post(app.url("/preferences"))
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.headers()["location"], "/login");

    for attack in [
        "//evil.example/inbox",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
        "/%0D%0ASet-Cookie:x=1",
        "javascript:alert(1)",
    ] {
        let signed = sign_in_with(&client, &app, attack).await;
        assert_eq!(signed.status().as_u16(), 303, "{attack:?}");
        assert_eq!(
            signed.headers()["location"],
            "/",
            "{attack:?} is not followed"
        );
        // A control character in an address is refused before any page (with the error page).
        let status = if attack.contains(char::is_control) {
            400
        } else {
            200
        };
        let form = page(
            &client,
            &app,
            &format!("/login?next={}", encode(attack)),
            status,
        )
        .await;
        assert!(!form.contains(r#"name="next""#), "{attack:?} is not kept");
    }
}

#[test]
fn raw_times_are_recognised() {
    for raw in [
        "发送于 2026-12-07T03:44:06Z",
        "2026-12-07 03:44:06.123456789",
        "at 03:44 UTC",
        "2026-12-07 03:44+00:00",
    ] {
        assert!(raw_time(raw).is_some(), "{raw}");
    }
    for fine in ["2026年12月7日 11:44", "2026-12-07 11:44", "截止 2026-12-31"] {
        assert_eq!(raw_time(fine), None, "{fine}");
        assert!(
            !fine.contains('年') || has_chinese_time(fine),
            "{fine} reads as a Chinese time"
        );
    }
}

e2e::on_both_backends!(
    every_page_fits_a_phone_and_shows_china_time,
    errors_at_page_addresses_are_pages,
    sign_in_returns_to_the_page_asked_for_and_only_here,
);
