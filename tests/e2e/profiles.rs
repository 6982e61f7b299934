//! Profiles over HTTP: validated create, upsert keys, derived labels, and a citizen's ID number
//! never leaving the request that carried it.

use e2e::{Backend, TestApp, on_both_backends};
use serde_json::json;

use crate::fixtures::{self, CREDIT_CODE_CHAOYANG, CREDIT_CODE_HAIDIAN, ID_NUMBER_1990};

async fn an_enterprise_is_stored_with_its_derived_labels(app: TestApp) {
    let created = app
        .post(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await
        .expect(201);
    let id = created.body["id"].as_i64().expect("id");
    let read = app.get(&format!("/api/v1/profiles/{id}")).await.expect(200);
    assert_eq!(read.body["profile"]["credit_code"], CREDIT_CODE_HAIDIAN);
    let labels = read.body["labels"].as_array().expect("labels");
    let size = labels
        .iter()
        .find(|l| l["key"] == "size_class")
        .expect("size class label");
    // Software and IT services (I65): 10 <= employees < 100 with revenue >= 50万 is small.
    assert_eq!(size["value"], "small", "{size}");
    assert!(!size["reason_zh"].as_str().unwrap_or_default().is_empty());
}

async fn a_second_profile_with_the_same_credit_code_is_a_conflict(app: TestApp) {
    app.post(
        "/api/v1/profiles",
        &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
    )
    .await
    .expect(201);
    let field = app
        .post(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await
        .expect_error(409, "duplicate");
    assert_eq!(field.as_deref(), Some("credit_code"));
    assert_eq!(app.get("/api/v1/profiles").await.body["total"], 1);
}

async fn a_wrong_check_character_is_rejected_naming_the_field(app: TestApp) {
    let mut input = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    input["credit_code"] = json!("91110108MA01AB2C3X");
    let field = app
        .post("/api/v1/profiles", &input)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("credit_code"));
    let mut citizen = fixtures::citizen(ID_NUMBER_1990);
    citizen["id_number"] = json!("110105199003071230");
    let field = app
        .post("/api/v1/profiles", &citizen)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("id_number"));
    assert_eq!(
        app.get("/api/v1/profiles").await.body["total"],
        0,
        "nothing written"
    );
}

async fn a_citizen_id_number_is_kept_only_masked_and_hashed(app: TestApp) {
    let created = app
        .post("/api/v1/profiles", &fixtures::citizen(ID_NUMBER_1990))
        .await
        .expect(201);
    let id = created.body["id"].as_i64().unwrap();
    assert!(
        !created.text.contains(ID_NUMBER_1990),
        "create reply leaks the ID: {}",
        created.text
    );
    assert_eq!(created.body["profile"]["id_masked"], "110105***********9");
    assert!(
        created.body["profile"].get("id_hash").is_none(),
        "the look-up hash stays inside"
    );
    let read = app.get(&format!("/api/v1/profiles/{id}")).await.expect(200);
    assert!(!read.text.contains(ID_NUMBER_1990));
    let listed = app.get("/api/v1/profiles?kind=citizen").await.expect(200);
    assert!(!listed.text.contains(ID_NUMBER_1990));
    let audit = app.get("/api/v1/audit").await.expect(200);
    assert!(!audit.text.contains(ID_NUMBER_1990));
    assert!(
        !database_contains(&app, ID_NUMBER_1990).await,
        "the full ID number is in the database"
    );

    // An update without the number keeps the stored identity.
    let mut update = fixtures::citizen(ID_NUMBER_1990);
    update.as_object_mut().unwrap().remove("id_number");
    update["employment_status"] = json!("employed");
    let updated = app
        .put(&format!("/api/v1/profiles/{id}"), &update)
        .await
        .expect(200);
    assert_eq!(updated.body["profile"]["id_masked"], "110105***********9");
    assert_eq!(updated.body["version"], 2);

    // The same person registered again is recognised by the keyed hash.
    app.post("/api/v1/profiles", &fixtures::citizen(ID_NUMBER_1990))
        .await
        .expect_error(409, "duplicate");
}

/// Looks for `needle` in every byte the database keeps: the SQLite file and its WAL, or every
/// text column of every PostgreSQL table.
async fn database_contains(app: &TestApp, needle: &str) -> bool {
    match app.backend {
        Backend::Sqlite => {
            let url = &app.database_url;
            let path = url.trim_start_matches("sqlite://");
            [path.to_owned(), format!("{path}-wal")].iter().any(|file| {
                std::fs::read(file)
                    .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
                    .unwrap_or(false)
            })
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&app.database_url)
                .await
                .unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for table in tables {
                let hits: i64 = sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM {table} t WHERE t::text LIKE '%' || $1 || '%'"
                ))
                .bind(needle)
                .fetch_one(&mut conn)
                .await
                .unwrap();
                if hits > 0 {
                    return true;
                }
            }
            false
        }
    }
}

async fn profiles_list_by_kind_region_industry_and_name(app: TestApp) {
    app.post(
        "/api/v1/profiles",
        &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
    )
    .await
    .expect(201);
    let mut chaoyang = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
    chaoyang["name"] = json!("北京朝阳文创传媒有限公司");
    chaoyang["region"] = json!("110105");
    chaoyang["industry"] = json!("R86");
    app.post("/api/v1/profiles", &chaoyang).await.expect(201);
    app.post("/api/v1/profiles", &fixtures::citizen(ID_NUMBER_1990))
        .await
        .expect(201);

    assert_eq!(app.total("/api/v1/profiles").await, 3);
    assert_eq!(app.total("/api/v1/profiles?kind=enterprise").await, 2);
    assert_eq!(app.total("/api/v1/profiles?region=110105").await, 2);
    assert_eq!(app.total("/api/v1/profiles?industry=I").await, 1);
    assert_eq!(app.total("/api/v1/profiles?industry=R86").await, 1);
    assert_eq!(
        app.total("/api/v1/profiles?name=%E6%96%87%E5%88%9B").await,
        1
    );
    assert_eq!(
        app.total(&format!(
            "/api/v1/profiles?credit_code={CREDIT_CODE_CHAOYANG}"
        ))
        .await,
        1
    );
}

async fn a_deleted_profile_is_gone(app: TestApp) {
    let id = app
        .post(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();
    app.delete(&format!("/api/v1/profiles/{id}"))
        .await
        .expect(204);
    app.get(&format!("/api/v1/profiles/{id}"))
        .await
        .expect_error(404, "not_found");
    app.delete(&format!("/api/v1/profiles/{id}"))
        .await
        .expect_error(404, "not_found");
}

on_both_backends!(
    an_enterprise_is_stored_with_its_derived_labels,
    a_second_profile_with_the_same_credit_code_is_a_conflict,
    a_wrong_check_character_is_rejected_naming_the_field,
    a_citizen_id_number_is_kept_only_masked_and_hashed,
    profiles_list_by_kind_region_industry_and_name,
    a_deleted_profile_is_gone,
);
