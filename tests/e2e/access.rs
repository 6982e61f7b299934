//! Who may do what, checked on the server: anonymous callers are turned away, an enterprise
//! reaches only its own profile, inbox and preferences, staff only their region, a browser
//! session's writes need its CSRF token, and repeated failed sign-ins are throttled.

use e2e::{TestApp, on_both_backends};
use serde_json::json;
use store::Role;

use crate::fixtures::{self, CREDIT_CODE_CHAOYANG, CREDIT_CODE_HAIDIAN};

/// Two eligible enterprises, in Haidian and in Chaoyang, each with a pushed pack in its inbox.
async fn two_recipients(app: &TestApp) -> (i64, i64) {
    let haidian = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let mut other = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
    other["name"] = json!("北京朝阳数智科技有限公司");
    other["region"] = json!("110105");
    let chaoyang = app.create("/api/v1/profiles", &other).await;
    app.create("/api/v1/policies", &fixtures::policy()).await;
    for profile in [haidian, chaoyang] {
        app.only_inbox_item(profile).await;
    }
    (haidian, chaoyang)
}

async fn anonymous_callers_are_turned_away(app: TestApp) {
    let anonymous = reqwest::Client::new();
    for path in ["/api/v1/policies", "/api/v1/profiles", "/api/v1/pushes"] {
        let reply = anonymous.get(app.url(path)).send().await.unwrap();
        assert_eq!(reply.status(), 401, "{path}");
        let body: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(body["code"], "unauthenticated");
    }
    let forged = TestApp::client_with_token("not-a-token");
    assert_eq!(
        forged
            .get(app.url("/api/v1/policies"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        anonymous
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn an_enterprise_reaches_only_its_own_records(app: TestApp) {
    let (haidian, chaoyang) = two_recipients(&app).await;
    let token = TestApp::mint_token(
        &app.server.store,
        "zhixin",
        Role::Enterprise,
        Some(haidian),
        None,
    )
    .await;
    let me = app.acting_as(&token);
    let own_item = me
        .get(&format!("/api/v1/profiles/{haidian}/inbox"))
        .await
        .expect(200)
        .body["items"][0]["id"]
        .as_i64()
        .unwrap();
    let other_item = app
        .get(&format!("/api/v1/profiles/{chaoyang}/inbox"))
        .await
        .expect(200)
        .body["items"][0]["id"]
        .as_i64()
        .unwrap();

    me.get(&format!("/api/v1/inbox/{own_item}"))
        .await
        .expect(200);
    me.get(&format!("/api/v1/inbox/{other_item}"))
        .await
        .expect_error(403, "forbidden");
    me.put(
        &format!("/api/v1/inbox/{other_item}/state"),
        &json!({"state": "read"}),
    )
    .await
    .expect_error(403, "forbidden");
    me.get(&format!("/api/v1/profiles/{chaoyang}"))
        .await
        .expect_error(403, "forbidden");
    me.get(&format!("/api/v1/profiles/{chaoyang}/inbox"))
        .await
        .expect_error(403, "forbidden");
    me.get(&format!("/api/v1/profiles/{haidian}/matches"))
        .await
        .expect(200);
    me.put(
        &format!("/api/v1/profiles/{haidian}/preferences"),
        &json!({"channels": {"email": false, "inbox": true}}),
    )
    .await
    .expect(200);
    me.delete(&format!("/api/v1/profiles/{haidian}"))
        .await
        .expect_error(403, "forbidden");
    me.get("/api/v1/policies").await.expect(200);
    me.post("/api/v1/policies", &fixtures::policy())
        .await
        .expect_error(403, "forbidden");
    me.get("/api/v1/profiles")
        .await
        .expect_error(403, "forbidden");
    me.post("/api/v1/pushes/preview", &json!({"policy_ids": [1]}))
        .await
        .expect_error(403, "forbidden");
    assert_eq!(
        app.get(&format!("/api/v1/inbox/{other_item}"))
            .await
            .expect(200)
            .body["state"],
        "unread"
    );
}

async fn an_enterprise_corrects_its_own_profile_and_sees_what_to_complete(app: TestApp) {
    let (haidian, chaoyang) = two_recipients(&app).await;
    let token = TestApp::mint_token(
        &app.server.store,
        "zhixin",
        Role::Enterprise,
        Some(haidian),
        None,
    )
    .await;
    let me = app.acting_as(&token);
    let mut corrected = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    corrected["employees"] = json!(120);
    corrected["contacts"] =
        json!([{"name": "王敏", "email": "wangmin@zhixin.example.com", "role": "finance"}]);
    let saved = me
        .put(&format!("/api/v1/profiles/{haidian}"), &corrected)
        .await
        .expect(200)
        .body;
    assert_eq!(saved["profile"]["employees"], 120);
    let audit = app
        .get("/api/v1/audit?entity=profile")
        .await
        .expect(200)
        .body;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "update"),
        "{audit}"
    );
    // Saved again unchanged, as sent and as read back: no new version, no audit entry.
    for body in [&corrected, &saved["profile"]] {
        let again = me
            .put(&format!("/api/v1/profiles/{haidian}"), body)
            .await
            .expect(200)
            .body;
        assert_eq!(again["version"], saved["version"], "{again}");
    }
    assert_eq!(
        app.total("/api/v1/audit?entity=profile").await,
        audit["total"].as_i64().unwrap()
    );
    // A correction that breaks a rule is refused with the field, as for anyone else.
    corrected["credit_code"] = json!("91110108MA01AB2C3X");
    let field = me
        .put(&format!("/api/v1/profiles/{haidian}"), &corrected)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("credit_code"));
    me.put(
        &format!("/api/v1/profiles/{chaoyang}"),
        &fixtures::enterprise(CREDIT_CODE_CHAOYANG),
    )
    .await
    .expect_error(403, "forbidden");
    let completion = me
        .get(&format!("/api/v1/profiles/{haidian}/completion"))
        .await
        .expect(200)
        .body;
    assert!(completion.is_array(), "{completion}");
    me.get(&format!("/api/v1/profiles/{chaoyang}/completion"))
        .await
        .expect_error(403, "forbidden");
}

async fn staff_work_within_their_region(app: TestApp) {
    let (haidian, chaoyang) = two_recipients(&app).await;
    let token = TestApp::mint_token(
        &app.server.store,
        "haidian-staff",
        Role::Staff,
        None,
        Some("110108"),
    )
    .await;
    let staff = app.acting_as(&token);
    staff
        .get(&format!("/api/v1/profiles/{haidian}/matches"))
        .await
        .expect(200);
    staff
        .get(&format!("/api/v1/profiles/{chaoyang}"))
        .await
        .expect_error(403, "forbidden");
    let listed = staff.get("/api/v1/profiles").await.expect(200).body;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["items"][0]["id"], haidian);
    let field = staff
        .get("/api/v1/profiles?region=110105")
        .await
        .expect_error(403, "outside_region");
    assert_eq!(field.as_deref(), Some("region"));
    staff
        .get(&format!("/api/v1/profiles/{haidian}/inbox"))
        .await
        .expect_error(403, "forbidden");

    let policy = app.get("/api/v1/policies").await.expect(200).body["items"][0]["id"].clone();
    let field = staff
        .post(
            "/api/v1/pushes/preview",
            &json!({"policy_ids": [policy], "audience": {"region_within": "110105"}}),
        )
        .await
        .expect_error(403, "outside_region");
    assert_eq!(field.as_deref(), Some("audience.region_within"));
    let preview = staff
        .post("/api/v1/pushes/preview", &json!({"policy_ids": [policy]}))
        .await
        .expect(200)
        .body;
    assert_eq!(preview["recipients"], 1, "only Haidian: {preview}");
    let push = staff
        .post(
            "/api/v1/pushes",
            &json!({"policy_ids": [policy], "request_key": "staff-1"}),
        )
        .await
        .expect(202)
        .body;
    assert_eq!(push["requested_by"], "staff:haidian-staff");
    staff
        .put("/api/v1/weights", &json!({}))
        .await
        .expect_error(403, "forbidden");

    // The console's look-up finds by the first characters of a credit code or a part of the
    // name, names the district, and says when the only matches lie outside it — a count, not
    // the records.
    let console = TestApp::client_with_token(&token);
    let lookup = |q: String| {
        let (console, url) = (console.clone(), app.url(&format!("/staff?q={q}")));
        async move {
            let reply = console.get(url).send().await.unwrap();
            assert_eq!(reply.status(), 200);
            reply.text().await.unwrap()
        }
    };
    for q in [
        CREDIT_CODE_HAIDIAN[..12].to_owned(),
        CREDIT_CODE_HAIDIAN[..12].to_ascii_lowercase(),
        "智芯".to_owned(),
    ] {
        let page = lookup(q.clone()).await;
        assert!(
            page.contains(&format!("href=\"/staff/profiles/{haidian}\""))
                && page.contains("海淀区")
                && !page.contains("id=\"outside-region\""),
            "{q} finds the Haidian enterprise: {page}"
        );
    }
    for q in [CREDIT_CODE_CHAOYANG.to_owned(), "朝阳数智".to_owned()] {
        let page = lookup(q.clone()).await;
        assert!(
            page.contains("辖区外有 1 家匹配") && !page.contains("北京朝阳数智科技有限公司"),
            "{q} is outside the district, and nothing of it shows: {page}"
        );
    }

    // More matches than the page lists: it says how many there are, not only the first ones.
    let page = lookup("智芯".to_owned()).await;
    assert!(!page.contains("id=\"lookup-more\""), "{page}");
    for n in 0..50 {
        let first17 = format!("91110108MC{n:07}");
        let check = profiles::uscc::check_char(&first17).expect("a valid code body");
        app.create(
            "/api/v1/profiles",
            &fixtures::enterprise(&format!("{first17}{check}")),
        )
        .await;
    }
    let page = lookup("智芯".to_owned()).await;
    assert!(
        page.contains("id=\"lookup-more\"") && page.contains("共 51 家匹配，这里列出前 50 家"),
        "the 51st match is announced: {page}"
    );
}

/// What staff read about a policy or a push is their region's share only, in the API and the
/// pages; staff of another region and staff without a region are refused.
async fn staff_see_only_their_regions_audiences_confirmations_and_pushes(app: TestApp) {
    let (haidian, chaoyang) = two_recipients(&app).await;
    let mut policy = fixtures::policy();
    policy["delivery_mode"] = json!("no_application");
    policy["title"] = json!("关于企业免申即享稳岗返还的通知");
    let policy = app.create("/api/v1/policies", &policy).await;
    for profile in [haidian, chaoyang] {
        let items = app
            .wait_until(
                &format!("/api/v1/profiles/{profile}/inbox"),
                std::time::Duration::from_secs(30),
                |body| body["total"] == 2,
            )
            .await;
        let item = items["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["pack"]["items"][0]["policy_id"] == policy)
            .expect("the 免申即享 pack")["id"]
            .as_i64()
            .unwrap();
        app.post(
            &format!("/api/v1/inbox/{item}/confirmations"),
            &json!({"policy_id": policy}),
        )
        .await
        .expect(204);
    }
    let store = &app.server.store;
    let haidian_staff =
        app.acting_as(&TestApp::mint_token(store, "hd", Role::Staff, None, Some("110108")).await);
    let chaoyang_staff =
        app.acting_as(&TestApp::mint_token(store, "cy", Role::Staff, None, Some("110105")).await);
    let regionless =
        app.acting_as(&TestApp::mint_token(store, "nobody", Role::Staff, None, None).await);

    let audience = format!("/api/v1/policies/{policy}/audience");
    assert_eq!(app.get(&audience).await.expect(200).body["eligible"], 2);
    assert_eq!(
        haidian_staff.get(&audience).await.expect(200).body["eligible"],
        1
    );
    let field = haidian_staff
        .get(&format!("{audience}?region=110105"))
        .await
        .expect_error(403, "outside_region");
    assert_eq!(field.as_deref(), Some("region"));

    let confirmations = format!("/api/v1/policies/{policy}/confirmations");
    assert_eq!(
        app.get(&confirmations)
            .await
            .expect(200)
            .body
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let own = haidian_staff.get(&confirmations).await.expect(200).body;
    assert_eq!(own.as_array().unwrap().len(), 1, "{own}");
    assert_eq!(own[0]["profile_id"], haidian);
    let csv = haidian_staff
        .get(&format!("{confirmations}.csv"))
        .await
        .expect(200)
        .text;
    assert!(
        csv.contains(CREDIT_CODE_HAIDIAN) && !csv.contains(CREDIT_CODE_CHAOYANG),
        "{csv}"
    );

    let analytics = format!("/api/v1/policies/{policy}/analytics");
    let everyone = app.get(&analytics).await.expect(200).body;
    let theirs = haidian_staff.get(&analytics).await.expect(200).body;
    assert_eq!(
        (
            everyone["audience"].clone(),
            everyone["confirmations"].clone()
        ),
        (json!(2), json!(2))
    );
    assert_eq!(
        (theirs["audience"].clone(), theirs["confirmations"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(theirs["delivered_inbox"], 1, "{theirs}");

    let push_of = |staff: &e2e::Client, key: &'static str| {
        let staff = staff.clone();
        async move {
            staff
                .post(
                    "/api/v1/pushes",
                    &json!({"policy_ids": [policy], "request_key": key}),
                )
                .await
                .expect(202)
                .body["id"]
                .as_i64()
                .unwrap()
        }
    };
    let haidian_push = push_of(&haidian_staff, "hd-1").await;
    let chaoyang_push = push_of(&chaoyang_staff, "cy-1").await;
    let listed: Vec<i64> = haidian_staff.get("/api/v1/pushes").await.expect(200).body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        listed,
        vec![haidian_push],
        "neither Chaoyang's nor the publish pushes"
    );
    assert!(app.total("/api/v1/pushes").await >= 4);
    haidian_staff
        .get(&format!("/api/v1/pushes/{chaoyang_push}"))
        .await
        .expect_error(403, "forbidden");
    let before = app
        .wait_until(
            &format!("/api/v1/pushes/{chaoyang_push}"),
            std::time::Duration::from_secs(30),
            |body| body["status"] == "done",
        )
        .await["status"]
        .clone();
    haidian_staff
        .post(
            &format!("/api/v1/pushes/{chaoyang_push}/cancel"),
            &json!({}),
        )
        .await
        .expect_error(403, "forbidden");
    let after = app
        .get(&format!("/api/v1/pushes/{chaoyang_push}"))
        .await
        .expect(200)
        .body["status"]
        .clone();
    assert_eq!(before, after, "a refused cancel changed nothing");

    for path in [
        "/api/v1/profiles",
        audience.as_str(),
        confirmations.as_str(),
        "/api/v1/pushes",
    ] {
        regionless.get(path).await.expect_error(403, "forbidden");
    }
    // The pages follow the same rules.
    for (client, page, status) in [
        (&regionless, "/staff".to_owned(), 403),
        (&regionless, format!("/staff/profiles/{haidian}"), 403),
        (&haidian_staff, format!("/staff/profiles/{chaoyang}"), 403),
        (&haidian_staff, format!("/staff/profiles/{haidian}"), 200),
        (
            &haidian_staff,
            format!("/staff/pushes/{chaoyang_push}"),
            403,
        ),
        (&haidian_staff, format!("/staff/pushes/{haidian_push}"), 200),
    ] {
        assert_eq!(client.get(&page).await.status, status, "{page}");
    }
    let history = haidian_staff.get("/staff/pushes").await.expect(200).text;
    let link = |id: i64| format!("href=\"/staff/pushes/{id}\"");
    assert!(history.contains(&link(haidian_push)), "{history}");
    assert!(!history.contains(&link(chaoyang_push)), "{history}");
}

async fn browser_sessions_need_their_csrf_token_and_sign_out(app: TestApp) {
    let (haidian, _) = two_recipients(&app).await;
    TestApp::mint_token(
        &app.server.store,
        "zhixin",
        Role::Enterprise,
        Some(haidian),
        None,
    )
    .await;
    let browser = reqwest::Client::new();
    let signed_in = browser
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": "zhixin", "password": "e2e-password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let body: serde_json::Value = signed_in.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(body["user"]["role"], "enterprise");

    let preferences = app.url(&format!("/api/v1/profiles/{haidian}/preferences"));
    let change = json!({"channels": {"email": true, "inbox": true}, "frequency": "daily"});
    let without = browser
        .put(&preferences)
        .header("cookie", &session)
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(
        without.status(),
        403,
        "a write without the CSRF token is refused"
    );
    let with = browser
        .put(&preferences)
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), 200);
    // The pages' forms need the token too.
    let item = app
        .get(&format!("/api/v1/profiles/{haidian}/inbox"))
        .await
        .expect(200)
        .body["items"][0]["id"]
        .as_i64()
        .unwrap();
    let policy = app.get("/api/v1/policies").await.expect(200).body["items"][0]["id"]
        .as_i64()
        .unwrap();
    let forged = browser
        .post(app.url(&format!("/inbox/{item}/feedback")))
        .header("cookie", &session)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("policy_id={policy}&useful=false"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        403,
        "a form without the CSRF token is refused"
    );
    let feedback = app
        .get(&format!("/api/v1/inbox/{item}"))
        .await
        .expect(200)
        .body["feedback"]
        .clone();
    assert_eq!(feedback, json!([]), "and nothing was written");
    // Another site cannot sign the user out: sign-out is a write and needs the token too.
    let forged_out = browser
        .delete(app.url("/api/v1/session"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(forged_out.status(), 403);
    let still_in = browser
        .get(app.url("/api/v1/session"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        still_in.status(),
        200,
        "the session survived the forged sign-out"
    );
    let out = browser
        .delete(app.url("/api/v1/session"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let after = browser
        .get(app.url("/api/v1/session"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "the session ended on the server");
}

async fn repeated_failed_sign_ins_are_throttled(app: TestApp) {
    TestApp::mint_token(&app.server.store, "wangmin", Role::Admin, None, None).await;
    let anonymous = reqwest::Client::new();
    let attempt = |password: &'static str| {
        let (anonymous, url) = (anonymous.clone(), app.url("/api/v1/session"));
        async move {
            anonymous
                .post(url)
                .json(&json!({"username": "wangmin", "password": password}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt("wrong-password").await, 401);
    }
    assert_eq!(attempt("wrong-password").await, 429);
    assert_eq!(
        attempt("e2e-password-123").await,
        429,
        "even the right password waits"
    );
}

on_both_backends!(
    staff_see_only_their_regions_audiences_confirmations_and_pushes,
    anonymous_callers_are_turned_away,
    an_enterprise_reaches_only_its_own_records,
    an_enterprise_corrects_its_own_profile_and_sees_what_to_complete,
    staff_work_within_their_region,
    browser_sessions_need_their_csrf_token_and_sign_out,
    repeated_failed_sign_ins_are_throttled,
);
