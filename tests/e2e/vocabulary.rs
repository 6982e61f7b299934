//! The citizen vocabulary over HTTP — "no disability" stated rather than left unknown, 应届毕业生
//! with the graduation year, 退役军人 — through create, update and import, bad values refused
//! naming the field; verdicts for the requested day on both matching paths, around a birthday; and
//! the exact relative-date operators, checked at save and answered alike by both paths.

use e2e::{TestApp, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures;

/// 身份证号 with correct check digits, fictitious people: born 1946-12-02, and three born 1980.
const BORN_1946_12_02: &str = "110105194612020020";
const ID_A: &str = "110105198001010024";
const ID_B: &str = "110105198001010040";
const ID_C: &str = "110105198001010067";

fn citizen_policy(condition: Value) -> Value {
    let mut policy = fixtures::policy();
    policy["applicability"] = json!({
        "audiences": ["individual"],
        "tags": {"region": ["110000"]},
        "condition": condition
    });
    policy
}

async fn profile_of(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/api/v1/profiles/{id}"))
        .await
        .expect(200)
        .body["profile"]
        .clone()
}

async fn a_citizen_states_no_disability_graduation_and_veteran_status(app: TestApp) {
    let mut citizen = fixtures::citizen(ID_A);
    citizen["disability_level"] = json!("none");
    citizen["employment_status"] = json!("graduate");
    citizen["graduation_year"] = json!(2026);
    citizen["veteran"] = json!(true);
    let id = app.create("/api/v1/profiles", &citizen).await;
    let stored = profile_of(&app, id).await;
    assert_eq!(
        [
            &stored["disability_level"],
            &stored["employment_status"],
            &stored["graduation_year"],
            &stored["veteran"]
        ],
        [
            &json!("none"),
            &json!("graduate"),
            &json!(2026),
            &json!(true)
        ],
        "{stored}"
    );

    citizen["disability_level"] = json!(2);
    citizen["veteran"] = json!(false);
    app.put(&format!("/api/v1/profiles/{id}"), &citizen)
        .await
        .expect(200);
    let updated = profile_of(&app, id).await;
    assert_eq!(
        (&updated["disability_level"], &updated["veteran"]),
        (&json!(2), &json!(false))
    );

    for (field, value) in [
        ("disability_level", json!(0)),
        ("disability_level", json!("无")),
        ("disability_level", json!(true)),
        ("graduation_year", json!(1800)),
        ("graduation_year", json!("2026")),
        ("veteran", json!("maybe")),
        ("employment_status", json!("fresh_graduate")),
    ] {
        let mut bad = fixtures::citizen(ID_B);
        bad[field] = value.clone();
        let reply = app.post("/api/v1/profiles", &bad).await;
        assert_eq!(
            reply.status.as_u16(),
            422,
            "{field} {value}: {}",
            reply.text
        );
        assert_eq!(
            reply.body["field"], field,
            "{field} {value}: {}",
            reply.text
        );
        assert!(
            !reply.body["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
                && !reply.body["message_en"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty(),
            "{}",
            reply.text
        );
    }
    assert_eq!(app.total("/api/v1/profiles").await, 1, "nothing written");
}

async fn a_disability_policy_decides_a_citizen_who_states_none(app: TestApp) {
    let policy = app
        .create(
            "/api/v1/policies",
            &citizen_policy(json!({"all": [
                {"field": "has_disability", "op": "eq", "value": true},
                {"field": "disability_level", "op": "le", "value": 2}
            ]})),
        )
        .await;
    let mut none = fixtures::citizen(ID_A);
    none["disability_level"] = json!("none");
    let none = app.create("/api/v1/profiles", &none).await;
    let mut graded = fixtures::citizen(ID_B);
    graded["disability_level"] = json!(1);
    let graded = app.create("/api/v1/profiles", &graded).await;
    let unknown = app
        .create("/api/v1/profiles", &fixtures::citizen(ID_C))
        .await;

    let day = "as_of=2026-11-21";
    let groups = |body: &Value| {
        ["eligible", "possible", "near_miss"].map(|group| {
            body[group]
                .as_array()
                .unwrap()
                .iter()
                .any(|hit| hit["policy"]["id"] == policy)
        })
    };
    for (profile, expected) in [
        (none, [false, false, false]),
        (graded, [true, false, false]),
        (unknown, [false, true, false]),
    ] {
        let reply = app
            .get(&format!("/api/v1/profiles/{profile}/matches?{day}"))
            .await
            .expect(200);
        assert_eq!(groups(&reply.body), expected, "{}", reply.text);
    }
    let audience = app
        .get(&format!("/api/v1/policies/{policy}/audience?{day}"))
        .await
        .expect(200);
    assert_eq!(
        (&audience.body["eligible"], &audience.body["undetermined"]),
        (&json!(1), &json!(1)),
        "{}",
        audience.text
    );
}

/// The case: born 1946-12-02, under "age ≥ 80", on 2026-12-01 and the day after — with
/// the audience index built on the service's own day, which is neither.
async fn both_paths_answer_an_age_rule_for_the_requested_day(app: TestApp) {
    let policy = app
        .create(
            "/api/v1/policies",
            &citizen_policy(json!({"all": [
                {"field": "hukou_region", "op": "within", "value": "110000"},
                {"field": "age", "op": "ge", "value": 80}
            ]})),
        )
        .await;
    let elderly = app
        .create("/api/v1/profiles", &fixtures::citizen(BORN_1946_12_02))
        .await;
    both_paths_say(
        &app,
        elderly,
        policy,
        &[("2026-12-01", false), ("2026-12-02", true)],
    )
    .await;
}

/// Checks that the forward path (the profile's matches) and the reverse path (the policy's
/// audience) both decide `profile` under `policy` as `expected` on each day.
async fn both_paths_say(app: &TestApp, profile: i64, policy: i64, expected: &[(&str, bool)]) {
    for &(day, eligible) in expected {
        let forward = app
            .get(&format!("/api/v1/profiles/{profile}/matches?as_of={day}"))
            .await
            .expect(200);
        let listed = forward.body["eligible"]
            .as_array()
            .unwrap()
            .iter()
            .any(|hit| hit["policy"]["id"] == policy);
        assert_eq!(listed, eligible, "forward on {day}: {}", forward.text);
        let reverse = app
            .get(&format!("/api/v1/policies/{policy}/audience?as_of={day}"))
            .await
            .expect(200);
        assert_eq!(
            reverse.body["eligible"],
            json!(u8::from(eligible)),
            "reverse on {day}: {}",
            reverse.text
        );
        assert_eq!(reverse.body["undetermined"], 0, "{}", reverse.text);
    }
}

/// "成立不满3年" as `founded_on years_since_lt 3`, for an enterprise founded 2023-12-02: two whole
/// years on 2026-12-01, three on 2026-12-02; and operators checked when a policy is checked.
async fn exact_relative_date_operators_are_checked_and_answered_by_both_paths(app: TestApp) {
    let mut young = fixtures::policy();
    young["applicability"]["condition"] = json!({"all": [
        {"field": "region", "op": "within", "value": "110000"},
        {"field": "founded_on", "op": "years_since_lt", "value": 3, "clause": "第二条"}
    ]});
    app.post("/api/v1/policies/check", &young).await.expect(200);
    let policy = app.create("/api/v1/policies", &young).await;
    let mut enterprise = fixtures::enterprise(fixtures::CREDIT_CODE_HAIDIAN);
    enterprise["founded_on"] = json!("2023-12-02");
    let enterprise = app.create("/api/v1/profiles", &enterprise).await;
    both_paths_say(
        &app,
        enterprise,
        policy,
        &[("2026-12-01", true), ("2026-12-02", false)],
    )
    .await;

    // An operator that does not exist fails the condition's structure, named by its path.
    let mut misspelled = young.clone();
    misspelled["applicability"]["condition"]["all"][1]["op"] = json!("years_since_less_than");
    let reply = app.post("/api/v1/policies/check", &misspelled).await;
    let message = reply.body["message_en"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let named = reply.expect_error(422, "invalid_field").unwrap_or_default();
    assert_eq!(named, "applicability.condition");
    assert!(
        message.contains("condition.all[1].op")
            && message.contains("unknown operator \"years_since_less_than\""),
        "{message}"
    );
    let mut fractional = young.clone();
    fractional["applicability"]["condition"]["all"][1]["value"] = json!(2.5);
    let named = app
        .post("/api/v1/policies/check", &fractional)
        .await
        .expect_error(422, "validation_failed")
        .unwrap_or_default();
    assert_eq!(named, "applicability.condition.all[1].value");
    let mut on_a_number = young.clone();
    on_a_number["applicability"]["condition"]["all"][1] =
        json!({"field": "employees", "op": "months_until_ge", "value": 6});
    let named = app
        .post("/api/v1/policies/check", &on_a_number)
        .await
        .expect_error(422, "validation_failed")
        .unwrap_or_default();
    assert_eq!(named, "applicability.condition.all[1].op");
}

async fn an_imported_sheet_states_none_graduation_and_veteran_status(app: TestApp) {
    let sheet = format!(
        "kind,name,id_number,residence_region,employment_status,graduation_year,disability_level,veteran,household\n\
         citizen,王芳,{ID_A},110105,应届毕业生,2026,无,是,无\n\
         citizen,赵强,{ID_B},110105,graduate,2025,轻度,否,\n"
    );
    let started = app
        .send_raw(
            Method::POST,
            "/api/v1/imports/profiles",
            "text/csv",
            sheet.into_bytes(),
        )
        .await
        .expect(202);
    let job_id = started.body["id"].as_i64().expect("job id");
    let job = app
        .wait_until(
            &format!("/api/v1/imports/{job_id}"),
            std::time::Duration::from_secs(10),
            |job| job["status"] != "running",
        )
        .await;
    assert_eq!(
        (&job["status"], &job["imported_rows"], &job["failed_rows"]),
        (&json!("done"), &json!(1), &json!(1)),
        "{job}"
    );
    let errors = app
        .text(&format!("/api/v1/imports/{job_id}/errors.csv"))
        .await;
    assert!(errors.contains("disability_level"), "{errors}");
    let listed = app.get("/api/v1/profiles?kind=citizen").await.expect(200);
    let id = listed.body["items"][0]["id"].as_i64().expect("imported id");
    let stored = profile_of(&app, id).await;
    assert_eq!(
        [
            &stored["disability_level"],
            &stored["employment_status"],
            &stored["graduation_year"],
            &stored["veteran"],
            &stored["household"]
        ],
        [
            &json!("none"),
            &json!("graduate"),
            &json!(2026),
            &json!(true),
            &json!([])
        ],
        "{stored}"
    );
}

on_both_backends!(
    a_citizen_states_no_disability_graduation_and_veteran_status,
    a_disability_policy_decides_a_citizen_who_states_none,
    both_paths_answer_an_age_rule_for_the_requested_day,
    an_imported_sheet_states_none_graduation_and_veteran_status,
    exact_relative_date_operators_are_checked_and_answered_by_both_paths,
);
