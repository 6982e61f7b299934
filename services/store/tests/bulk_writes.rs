//! Bulk writes: a batch of policies or profiles written with multi-row statements leaves exactly
//! the rows (records, facet tables, versions, audit, change log) that saving the same inputs one
//! at a time leaves, on both backends; a bad input of a batch is reported with its field and
//! leaves nothing behind while the rest of the batch is written.

mod support;

use std::sync::Arc;

use scratch_db::ScratchDatabase;
use sqlx::Connection;
use store::{ManualClock, Store};

/// Enough policies that the facet and version rows of one batch need more than one statement
/// (the store binds at most 999 values to one), and the profile batches too.
const POLICIES: usize = 450;
/// Departments per policy: 450 × 12 department rows of 2 values is eleven statements.
const DEPARTMENTS: usize = 12;

/// Topics of the standard taxonomy the policies take turns to carry beside `tax`.
const TOPICS: [&str; 7] = [
    "rnd",
    "finance",
    "employment",
    "talent",
    "startup",
    "digital",
    "green",
];

/// Policy `n`; `revision` changes its body so a re-save makes a different version.
fn policy(n: usize, revision: usize) -> store::policy::PolicyContent {
    let departments: Vec<String> = (0..DEPARTMENTS).map(|d| format!("第{d}局")).collect();
    serde_json::from_value(serde_json::json!({
        "doc_number": format!("京测发〔2026〕{n}号"),
        "title": format!("测试政策{n}"),
        "issuing_departments": departments,
        "region_code": "110000",
        "level": "municipal",
        "status": "published",
        "summary": format!("第{revision}稿"),
        "topics": ["tax", TOPICS[(n + revision) % TOPICS.len()]],
        "benefit_items": [
            {"name": "补贴", "window_opens": "2026-01-01", "window_closes": "2026-12-31"},
            {"name": "服务"}
        ],
        "applicability": {"audiences": ["sme", "private"]}
    }))
    .expect("a policy document")
}

/// A policy no store accepts: its region code is not one.
fn bad_policy() -> store::policy::PolicyContent {
    let mut bad = policy(9_999, 0);
    bad.region_code = "北京".to_owned();
    bad
}

fn enterprise(n: usize, employees: usize) -> profiles::ProfileInput {
    let first17 = format!("91110108MA{:07}", n + 1);
    let check = profiles::uscc::check_char(&first17).expect("a check character");
    serde_json::from_value(serde_json::json!({
        "kind": "enterprise", "name": format!("测试企业{n}"),
        "credit_code": format!("{first17}{check}"), "region": "110108", "industry": "I6513",
        "founded_on": "2019-04-12", "employees": employees,
        "contacts": [{"name": "王敏", "email": format!("e{n}@example.com"), "role": "finance"}]
    }))
    .expect("a profile document")
}

fn citizen(id_number: &str) -> profiles::ProfileInput {
    serde_json::from_value(serde_json::json!({
        "kind": "citizen", "name": "小明", "id_number": id_number, "residence_region": "110105"
    }))
    .expect("a profile document")
}

/// Every row the writes under test leave, as text, table by table in a fixed order. Times that
/// come from the store's clock are kept; the change log's database-side time is not.
const DUMPS: &[&str] = &[
    "SELECT CAST(id AS TEXT) || '|' || doc_number || '|' || title || '|' || status || '|' || \
     CAST(version AS TEXT) || '|' || CAST(body AS TEXT) || '|' || COALESCE(CAST(valid_until AS TEXT), '-') \
     FROM policies ORDER BY id",
    "SELECT CAST(policy_id AS TEXT) || '|' || dimension || '|' || code FROM policy_tags \
     ORDER BY policy_id, dimension, code",
    "SELECT CAST(policy_id AS TEXT) || '|' || department FROM policy_departments \
     ORDER BY policy_id, department",
    "SELECT CAST(policy_id AS TEXT) || '|' || CAST(item_index AS TEXT) || '|' || item_name || '|' \
     || COALESCE(CAST(opens_on AS TEXT), '-') || '|' || COALESCE(CAST(closes_on AS TEXT), '-') \
     FROM application_windows ORDER BY policy_id, item_index",
    "SELECT CAST(policy_id AS TEXT) || '|' || CAST(version AS TEXT) || '|' || \
     CAST(snapshot AS TEXT) || '|' || actor || '|' || CAST(created_at AS TEXT) \
     FROM policy_versions ORDER BY policy_id, version",
    "SELECT CAST(id AS TEXT) || '|' || kind || '|' || name || '|' || \
     COALESCE(credit_code, id_hash) || '|' || COALESCE(CAST(employees AS TEXT), '-') || '|' || \
     CAST(version AS TEXT) || '|' || CAST(body AS TEXT) || '|' || CAST(labels AS TEXT) \
     FROM profiles ORDER BY id",
    "SELECT CAST(profile_id AS TEXT) || '|' || email FROM contact_confirmations \
     ORDER BY profile_id, email",
    "SELECT CAST(at AS TEXT) || '|' || actor || '|' || action || '|' || entity || '|' || \
     entity_id || '|' || CAST(detail AS TEXT) FROM audit_log ORDER BY id",
    "SELECT entity || '|' || COALESCE(CAST(entity_id AS TEXT), '-') || '|' || change \
     FROM changes ORDER BY id",
];

async fn dump(url: &str) -> Vec<String> {
    let mut rows = Vec::new();
    for query in DUMPS {
        let table: Vec<String> = if url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_scalar(query).fetch_all(&mut db).await.unwrap()
        } else {
            let mut db = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(query).fetch_all(&mut db).await.unwrap()
        };
        rows.push(format!("-- {query}"));
        rows.extend(table);
    }
    rows
}

/// The inputs both ways write: a first round of policies and profiles, then a round that
/// updates some, creates others and saves one policy twice.
fn rounds() -> Vec<(
    Vec<store::policy::PolicyContent>,
    Vec<profiles::ProfileInput>,
)> {
    let first = (
        (0..POLICIES).map(|n| policy(n, 1)).collect(),
        (0..300).map(|n| enterprise(n, 10)).collect(),
    );
    let mut policies: Vec<_> = (POLICIES / 2..POLICIES + 50)
        .map(|n| policy(n, 2))
        .collect();
    policies.push(policy(POLICIES + 10, 3));
    let mut profiles: Vec<_> = (250..400).map(|n| enterprise(n, 20)).collect();
    profiles.push(citizen("110105200811230010"));
    vec![first, (policies, profiles)]
}

/// Writes `rounds` into `store`, each round as one batch of each kind, or input by input.
async fn write(store: &Store, batched: bool) {
    for (policies, profiles) in rounds() {
        let policy_chunks: Vec<_> = if batched {
            vec![policies]
        } else {
            policies.into_iter().map(|p| vec![p]).collect()
        };
        for chunk in policy_chunks {
            for outcome in store.save_policies(&chunk, "import").await.unwrap() {
                outcome.unwrap();
            }
        }
        let profile_chunks: Vec<_> = if batched {
            vec![profiles]
        } else {
            profiles.into_iter().map(|p| vec![p]).collect()
        };
        for chunk in profile_chunks {
            for outcome in store.upsert_profiles(chunk, "import").await.unwrap() {
                outcome.unwrap();
            }
        }
    }
}

/// One batch per round writes the same rows as one input at a time, profiles' audit aside:
/// a profile batch is audited in one row naming every profile it wrote.
async fn batches_write_what_single_saves_write(batched_url: &str, single_url: &str) {
    let clock = Arc::new(ManualClock::at(1_795_320_000));
    let batched = support::open(batched_url, &clock).await;
    let single = support::open(single_url, &clock).await;
    write(&batched, true).await;
    write(&single, false).await;
    batched.close().await;
    single.close().await;
    let is_profile_audit = |row: &String| row.contains("|import|profile|batch|");
    let (batched_rows, single_rows) = (dump(batched_url).await, dump(single_url).await);
    let keep = |rows: Vec<String>| -> Vec<String> {
        rows.into_iter()
            .filter(|row| !is_profile_audit(row))
            .collect()
    };
    let (batched_kept, single_kept) = (keep(batched_rows.clone()), keep(single_rows.clone()));
    assert!(
        batched_kept.len() > 6 * POLICIES,
        "the dump holds every row"
    );
    for (n, (b, s)) in batched_kept.iter().zip(&single_kept).enumerate() {
        assert_eq!(b, s, "row {n} differs");
    }
    assert_eq!(batched_kept.len(), single_kept.len());
    // The profile audit rows name the same profiles, created and updated, across the batches.
    let audited = |rows: &[String]| -> (Vec<i64>, Vec<i64>) {
        let (mut created, mut updated) = (Vec::new(), Vec::new());
        for row in rows.iter().filter(|row| is_profile_audit(row)) {
            let detail: serde_json::Value =
                serde_json::from_str(row.rsplit_once("|batch|").unwrap().1).unwrap();
            let ids =
                |key: &str| -> Vec<i64> { serde_json::from_value(detail[key].clone()).unwrap() };
            created.extend(ids("created"));
            updated.extend(ids("updated"));
        }
        created.sort_unstable();
        updated.sort_unstable();
        (created, updated)
    };
    let (created, updated) = audited(&batched_rows);
    assert_eq!((created.len(), updated.len()), (401, 50));
    assert_eq!((created, updated), audited(&single_rows));
}

/// A batch with a bad policy and a bad profile among good ones: each bad one is reported with
/// its field and leaves no row anywhere; the good ones are written whole.
async fn a_bad_input_leaves_nothing_and_is_reported(url: &str) {
    let clock = Arc::new(ManualClock::at(1_795_320_000));
    let store = support::open(url, &clock).await;
    let head = store.change_head().await.unwrap();
    let mut batch: Vec<_> = (0..20).map(|n| policy(n, 1)).collect();
    batch.insert(7, bad_policy());
    let outcomes = store.save_policies(&batch, "import").await.unwrap();
    for (n, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Err(problems) => {
                assert_eq!(n, 7);
                assert_eq!(problems.len(), 1);
                assert_eq!(problems[0].field, "region_code");
            }
            Ok(created) => assert!(created, "input {n} is new"),
        }
    }
    assert!(outcomes[7].is_err());
    let mut profiles: Vec<_> = (0..20).map(|n| enterprise(n, 10)).collect();
    profiles.insert(3, citizen("110105200811230011"));
    let outcomes = store.upsert_profiles(profiles, "import").await.unwrap();
    let errors = outcomes[3].as_ref().expect_err("a wrong check digit");
    assert!(
        errors.iter().any(|error| error.field == "id_number"),
        "the field is named: {errors}"
    );
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 20);
    store.close().await;

    let rows = dump(url).await;
    assert!(
        !rows.iter().any(|row| row.contains("测试政策9999")),
        "nothing of the bad policy is stored"
    );
    assert!(!rows.iter().any(|row| row.contains("110105200811230011")));
    let count = |prefix: &str| rows.iter().filter(|row| row.starts_with(prefix)).count();
    assert_eq!(count("policy|"), 20, "one change per policy written");
    assert_eq!(count("profile|"), 20, "one change per profile written");
    let store = support::open(url, &clock).await;
    assert_eq!(store.count_policies().await.unwrap(), 20);
    assert_eq!(store.change_head().await.unwrap(), head + 40);
}

#[tokio::test]
async fn batches_write_what_single_saves_write_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = |name: &str| format!("sqlite://{}/{name}.db", dir.path().display());
    batches_write_what_single_saves_write(&url("batched"), &url("single")).await;
}

#[tokio::test]
async fn batches_write_what_single_saves_write_on_postgres() {
    let batched = ScratchDatabase::create("pp_store_bulk_batched").await;
    let single = ScratchDatabase::create("pp_store_bulk_single").await;
    batches_write_what_single_saves_write(batched.url(), single.url()).await;
}

#[tokio::test]
async fn a_bad_input_leaves_nothing_and_is_reported_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_bad_input_leaves_nothing_and_is_reported(&format!(
        "sqlite://{}/bad.db",
        dir.path().display()
    ))
    .await;
}

#[tokio::test]
async fn a_bad_input_leaves_nothing_and_is_reported_on_postgres() {
    let db = ScratchDatabase::create("pp_store_bulk_bad").await;
    a_bad_input_leaves_nothing_and_is_reported(db.url()).await;
}

/// A policy saved again in a batch cannot reach a status its lifecycle does not allow (a draft
/// revoked, even one created earlier in the same batch; a revoked policy published): that line is
/// refused naming `status`, the others are written, and the refused policy stays as it was.
async fn a_batch_keeps_to_the_policy_lifecycle(url: &str) {
    use store::policy::PolicyStatus::{Draft, Revoked};
    let clock = Arc::new(ManualClock::at(1_795_320_000));
    let store = support::open(url, &clock).await;
    let with_status = |n: usize, revision: usize, status: &str| {
        let mut content = policy(n, revision);
        content.status = serde_json::from_value(serde_json::json!(status)).unwrap();
        content
    };
    let first = [with_status(0, 1, "draft"), with_status(1, 1, "published")];
    for outcome in store.save_policies(&first, "import").await.unwrap() {
        assert!(outcome.unwrap(), "created");
    }
    let second = [
        with_status(0, 2, "revoked"),
        with_status(1, 2, "revoked"),
        with_status(1, 3, "published"),
        with_status(2, 1, "draft"),
        with_status(2, 2, "expired"),
    ];
    let outcomes = store.save_policies(&second, "import").await.unwrap();
    for refused in [0, 4] {
        let problems = outcomes[refused]
            .as_ref()
            .expect_err("a draft is not revoked");
        assert_eq!(problems[0].field, "status");
        assert_eq!(problems[0].rule, "status_transition");
        assert!(
            problems[0].message_zh.contains("“草稿”改为"),
            "{}",
            problems[0].message_zh
        );
    }
    assert!(
        !outcomes[1].as_ref().unwrap(),
        "a published policy is revoked"
    );
    let problems = outcomes[2]
        .as_ref()
        .expect_err("revoked by the line before");
    assert!(
        problems[0].message_zh.contains("“已废止”改为"),
        "{}",
        problems[0].message_zh
    );
    assert!(outcomes[3].as_ref().unwrap(), "created as a draft");
    let third = [with_status(1, 3, "published")];
    let outcomes = store.save_policies(&third, "import").await.unwrap();
    assert_eq!(
        outcomes[0].as_ref().expect_err("revoked stays revoked")[0].field,
        "status"
    );
    let stored = store.all_policies().await.unwrap();
    let status = |title: &str| {
        let policy = stored.iter().find(|p| p.content.title == title).unwrap();
        (policy.content.status, policy.version)
    };
    assert_eq!(status("测试政策0"), (Draft, 1));
    assert_eq!(status("测试政策1"), (Revoked, 2));
    assert_eq!(status("测试政策2"), (Draft, 1));
}

#[tokio::test]
async fn a_batch_keeps_to_the_policy_lifecycle_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_batch_keeps_to_the_policy_lifecycle(&format!(
        "sqlite://{}/lifecycle.db",
        dir.path().display()
    ))
    .await;
}

#[tokio::test]
async fn a_batch_keeps_to_the_policy_lifecycle_on_postgres() {
    let db = ScratchDatabase::create("pp_store_bulk_lifecycle").await;
    a_batch_keeps_to_the_policy_lifecycle(db.url()).await;
}
