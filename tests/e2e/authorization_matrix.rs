//! The authorization matrix: every operation of the OpenAPI document, called by every kind of
//! caller, on their own record, another's in and out of region and a missing one, with the id
//! spelled plainly, percent-encoded, with leading zeros, with a plus sign and too large. The
//! expectations below are this test's own statement of who may do what; an operation without one
//! fails the test, so a new route cannot ship without deciding its access.

use std::collections::BTreeSet;

use e2e::{Backend, Client, Reply, TestApp, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;
use store::Role;

use crate::fixtures::{self, CREDIT_CODE_CHAOYANG, CREDIT_CODE_HAIDIAN, ID_NUMBER_1990};

const HAIDIAN: &str = "110108";
const CHAOYANG: &str = "110105";
const MISSING: i64 = 987_654;

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Admin,
    /// Staff of 海淀区, where most records are.
    StaffIn,
    /// Staff of 朝阳区.
    StaffOut,
    /// A staff user nobody gave a region.
    StaffWithoutRegion,
    /// The user of the Haidian enterprise.
    Enterprise,
    /// The user of the citizen living in Haidian.
    Citizen,
    Anonymous,
}

/// Who may call an operation, as the product promises it.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Anyone, signed in or not.
    Open,
    /// Any signed-in user.
    SignedIn,
    Admin,
    /// Staff with a region (the answer narrowed to it) and administrators.
    Staff,
    /// The record's own enterprise or citizen user, and administrators.
    Owner,
    /// The record's own user, staff of the record's region, administrators.
    OwnerOrStaff,
    /// Staff of the region the push was confined to, administrators.
    StaffOfPush,
}

fn expectation(method: &str, path: &str) -> Option<Expect> {
    use Expect::*;
    if method == "get" && matches!(path, "/health" | "/ready") {
        return Some(Open);
    }
    let path = path.strip_prefix("/api/v1")?;
    Some(match (method, path) {
        ("post", "/session") | ("delete", "/session") => Open,
        ("get", "/session") => SignedIn,
        (
            "get",
            "/policies"
            | "/policies/{id}"
            | "/policies/{id}/versions/{version}"
            | "/search"
            | "/tags"
            | "/tags/{id}"
            | "/tag-dimensions"
            | "/attributes",
        ) => SignedIn,
        // The public portal's calendar and calculator.
        ("get", "/calendar" | "/calendar.ics") | ("post", "/match/preview") => Open,
        ("post", "/match/explain/{policy_id}") => SignedIn,
        (
            "get",
            "/policies/{id}/audience"
            | "/policies/{id}/confirmations"
            | "/policies/{id}/confirmations.csv"
            | "/policies/{id}/analytics"
            | "/profiles"
            | "/pushes",
        ) => Staff,
        ("post", "/pushes" | "/pushes/preview") => Staff,
        ("get", "/pushes/{id}") | ("post", "/pushes/{id}/cancel") => StaffOfPush,
        (
            "get",
            "/profiles/{id}"
            | "/profiles/{id}/matches"
            | "/profiles/{id}/completion"
            | "/profiles/{id}/explain/{policy_id}",
        ) => OwnerOrStaff,
        ("put", "/profiles/{id}") => Owner,
        ("get", "/profiles/{id}/inbox") => Owner,
        ("get" | "put", "/profiles/{id}/preferences") => Owner,
        ("get", "/inbox/{id}")
        | ("put", "/inbox/{id}/state")
        | ("post", "/inbox/{id}/feedback" | "/inbox/{id}/confirmations") => Owner,
        (
            "post",
            "/policies" | "/policies/check" | "/profiles" | "/tags" | "/attributes" | "/schedules"
            | "/imports/profiles" | "/weights/dry-run" | "/documents/suggest",
        )
        | ("put", "/policies/{id}" | "/weights" | "/tags/{id}" | "/schedules/{id}")
        | ("delete", "/policies/{id}" | "/profiles/{id}" | "/tags/{id}" | "/schedules/{id}")
        | (
            "post",
            "/tags/{id}/dry-run"
            | "/tags/{id}/rename"
            | "/tags/{id}/merge"
            | "/tags/{id}/merge/dry-run"
            | "/dead-letters/{id}/redrive"
            | "/dead-letters/redrive"
            | "/policies/{id}/publish"
            | "/policies/{id}/publish-preview"
            | "/policies/{id}/push",
        )
        | (
            "get",
            "/weights"
            | "/dead-letters"
            | "/schedules"
            | "/schedules/{id}"
            | "/audit"
            | "/imports/{id}"
            | "/imports/{id}/errors.csv"
            | "/policies/{id}/tag-suggestions"
            | "/policies/{id}/related-suggestions"
            | "/policies/{id}/publish-preview",
        ) => Admin,
        _ => return None,
    })
}

/// A record a path's `{id}` can name, with what decides access to it.
#[derive(Clone, Copy, Debug)]
struct Record {
    label: &'static str,
    id: i64,
    /// The enterprise or citizen user it belongs to.
    owner: Option<Who>,
    /// The region it lies in (or a push was confined to).
    region: Option<&'static str>,
}

impl Record {
    fn missing() -> Self {
        Self {
            label: "missing",
            id: MISSING,
            owner: None,
            region: None,
        }
    }
}

fn allowed(expect: Expect, who: Who, record: Option<&Record>) -> bool {
    let staff_region = match who {
        Who::StaffIn => Some(HAIDIAN),
        Who::StaffOut => Some(CHAOYANG),
        _ => None,
    };
    let owns = record.is_some_and(|r| r.owner == Some(who));
    let staff_covers = staff_region.is_some() && record.and_then(|r| r.region) == staff_region;
    match (who, expect) {
        (_, Expect::Open) => true,
        (Who::Anonymous, _) => false,
        (_, Expect::SignedIn) | (Who::Admin, _) => true,
        (_, Expect::Admin) => false,
        (_, Expect::Staff) => staff_region.is_some(),
        (_, Expect::Owner) => owns,
        (_, Expect::OwnerOrStaff) => owns || staff_covers,
        (_, Expect::StaffOfPush) => staff_covers,
    }
}

/// The spellings of an id that must all be decided as the plain one: `(label, text)`.
fn spellings(id: i64) -> Vec<(&'static str, String)> {
    let plain = id.to_string();
    let encoded: String = plain.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![
        ("plain", plain.clone()),
        ("percent-encoded", encoded),
        ("leading zeros", format!("000{plain}")),
        ("plus sign", format!("+{plain}")),
    ]
}

const OVERFLOW: &str = "99999999999999999999999";

/// Everything a write could leave behind, as one comparable line.
async fn fingerprint(db: &mut Database) -> String {
    let tables = [
        "policies",
        "policy_versions",
        "profiles",
        "tags",
        "scoring_weights",
        "users",
        "audit_log",
        "pushes",
        "deliveries",
        "inbox_items",
        "feedback",
        "confirmations",
        "preferences",
        "schedules",
        "import_jobs",
        "pushed_policies",
    ];
    let mut parts: Vec<String> = tables
        .iter()
        .map(|t| format!("CAST((SELECT COUNT(*) FROM {t}) AS TEXT)"))
        .collect();
    parts.push("CAST((SELECT COUNT(*) FROM inbox_items WHERE state = 'unread') AS TEXT)".into());
    parts.push("CAST((SELECT COUNT(*) FROM pushes WHERE status = 'cancelled') AS TEXT)".into());
    let sql = format!("SELECT {}", parts.join(" || ',' || "));
    match db {
        Database::Sqlite(conn) => sqlx::query_scalar(&sql).fetch_one(conn).await,
        Database::Postgres(conn) => sqlx::query_scalar(&sql).fetch_one(conn).await,
    }
    .expect("fingerprint the database")
}

enum Database {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

async fn open_database(app: &TestApp) -> Database {
    match app.backend {
        Backend::Sqlite => Database::Sqlite(
            sqlx::SqliteConnection::connect(&app.database_url)
                .await
                .expect("open the SQLite database"),
        ),
        Backend::Postgres => Database::Postgres(
            sqlx::PgConnection::connect(&app.database_url)
                .await
                .expect("open the PostgreSQL database"),
        ),
    }
}

/// A valid 统一社会信用代码 registered in `region`, distinct per `serial`.
fn credit_code(region: &str, serial: char) -> String {
    let first17 = format!("91{region}MA01QW{serial}KP");
    let check = profiles::uscc::check_char(&first17).expect("a valid code body");
    format!("{first17}{check}")
}

/// The callers and records every operation is tried with.
struct World {
    callers: Vec<(Who, Client)>,
    profiles: Vec<Record>,
    inbox_items: Vec<Record>,
    pushes: Vec<Record>,
    policy: i64,
    tag: i64,
    schedule: i64,
}

impl World {
    async fn build(app: &TestApp) -> Self {
        let enterprise = app
            .create(
                "/api/v1/profiles",
                &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
            )
            .await;
        let mut neighbour = fixtures::enterprise(&credit_code(HAIDIAN, '7'));
        neighbour["name"] = json!("北京海淀邻里科技有限公司");
        let neighbour = app.create("/api/v1/profiles", &neighbour).await;
        let mut chaoyang = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
        chaoyang["name"] = json!("北京朝阳数智科技有限公司");
        chaoyang["region"] = json!(CHAOYANG);
        let chaoyang = app.create("/api/v1/profiles", &chaoyang).await;
        let mut citizen = fixtures::citizen(ID_NUMBER_1990);
        citizen["residence_region"] = json!(HAIDIAN);
        let citizen = app.create("/api/v1/profiles", &citizen).await;
        let policy = app.create("/api/v1/policies", &fixtures::policy()).await;

        let store = &app.server.store;
        let token = |name: &'static str, role, profile, region| async move {
            TestApp::mint_token(store, name, role, profile, region).await
        };
        let staff_in = token("staff-in", Role::Staff, None, Some(HAIDIAN)).await;
        let staff_out = token("staff-out", Role::Staff, None, Some(CHAOYANG)).await;
        let staff_none = token("staff-none", Role::Staff, None, None).await;
        let enterprise_user = token("ent-user", Role::Enterprise, Some(enterprise), None).await;
        let citizen_user = token("cit-user", Role::Citizen, Some(citizen), None).await;
        let anonymous = Client {
            base_url: app.base_url.clone(),
            client: reqwest::Client::new(),
        };
        let callers = vec![
            (Who::Admin, app.api.clone()),
            (Who::StaffIn, app.acting_as(&staff_in)),
            (Who::StaffOut, app.acting_as(&staff_out)),
            (Who::StaffWithoutRegion, app.acting_as(&staff_none)),
            (Who::Enterprise, app.acting_as(&enterprise_user)),
            (Who::Citizen, app.acting_as(&citizen_user)),
            (Who::Anonymous, anonymous),
        ];

        let mut items = Vec::new();
        for (label, profile, owner, region) in [
            ("own item", enterprise, Some(Who::Enterprise), HAIDIAN),
            ("item in region", neighbour, None, HAIDIAN),
            ("item out of region", chaoyang, None, CHAOYANG),
        ] {
            items.push(Record {
                label,
                id: app.only_inbox_item(profile).await,
                owner,
                region: Some(region),
            });
        }
        items.push(Record::missing());

        let staff_push = |client: &Client, key: &str| {
            let body = json!({"policy_ids": [policy], "request_key": key});
            let client = client.clone();
            async move {
                let reply = client.post("/api/v1/pushes", &body).await.expect(202);
                reply.body["id"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("a push id in {}", reply.text))
            }
        };
        let push_in = staff_push(&callers[1].1, "matrix-in").await;
        let push_out = staff_push(&callers[2].1, "matrix-out").await;
        let publish_push = app
            .get("/api/v1/pushes?trigger_kind=publish")
            .await
            .expect(200)
            .body["items"][0]["id"]
            .as_i64()
            .expect("the publish push");
        app.wait_until(
            "/api/v1/pushes",
            std::time::Duration::from_secs(30),
            |body| {
                body["items"]
                    .as_array()
                    .is_some_and(|items| items.iter().all(|p| p["status"] == "done"))
            },
        )
        .await;
        let pushes = vec![
            Record {
                label: "push of Haidian",
                id: push_in,
                owner: None,
                region: Some(HAIDIAN),
            },
            Record {
                label: "push of Chaoyang",
                id: push_out,
                owner: None,
                region: Some(CHAOYANG),
            },
            Record {
                label: "publish push",
                id: publish_push,
                owner: None,
                region: None,
            },
            Record::missing(),
        ];

        let profiles = vec![
            Record {
                label: "own enterprise",
                id: enterprise,
                owner: Some(Who::Enterprise),
                region: Some(HAIDIAN),
            },
            Record {
                label: "own citizen",
                id: citizen,
                owner: Some(Who::Citizen),
                region: Some(HAIDIAN),
            },
            Record {
                label: "enterprise in region",
                id: neighbour,
                owner: None,
                region: Some(HAIDIAN),
            },
            Record {
                label: "enterprise out of region",
                id: chaoyang,
                owner: None,
                region: Some(CHAOYANG),
            },
            Record::missing(),
        ];
        let tag = app.get("/api/v1/tags").await.expect(200).body["items"][0]["id"]
            .as_i64()
            .expect("a tag");
        let schedule = app
            .create(
                "/api/v1/schedules",
                &json!({"name": "矩阵测试", "cron": "0 0 9 * * Mon",
                        "job": {"kind": "digest", "frequency": "weekly"}, "enabled": false}),
            )
            .await;
        Self {
            callers,
            profiles,
            inbox_items: items,
            pushes,
            policy,
            tag,
            schedule,
        }
    }

    /// The records stand for what they claim: each profile lies in its region and each push is
    /// confined to its region, as the service stored them.
    async fn is_what_it_says(&self, app: &TestApp) {
        for record in self.profiles.iter().filter(|r| r.id != MISSING) {
            let profile = app
                .get(&format!("/api/v1/profiles/{}", record.id))
                .await
                .expect(200)
                .body;
            let region = profile["profile"]["region"]
                .as_str()
                .or_else(|| profile["profile"]["residence_region"].as_str());
            assert_eq!(region, record.region, "{}", record.label);
        }
        for record in self.pushes.iter().filter(|r| r.id != MISSING) {
            let push = app
                .get(&format!("/api/v1/pushes/{}", record.id))
                .await
                .expect(200)
                .body;
            assert_eq!(
                push["region_scope"].as_str(),
                record.region,
                "{}",
                record.label
            );
        }
    }

    /// The records the `{id}` of `path` may name.
    fn records(&self, path: &str) -> Vec<Record> {
        let one = |label, id| Record {
            label,
            id,
            owner: None,
            region: None,
        };
        let kind = path
            .trim_start_matches("/api/v1/")
            .split('/')
            .next()
            .unwrap_or_default();
        match kind {
            "profiles" => self.profiles.clone(),
            "inbox" => self.inbox_items.clone(),
            "pushes" => self.pushes.clone(),
            "policies" => vec![one("policy", self.policy), Record::missing()],
            "tags" => vec![one("tag", self.tag), Record::missing()],
            "schedules" => vec![one("schedule", self.schedule), Record::missing()],
            "imports" | "dead-letters" => vec![Record::missing()],
            other => panic!("no records for {other} ({path}): add them to the matrix"),
        }
    }
}

/// One operation of the OpenAPI document.
struct Operation {
    method: String,
    path: String,
    has_body: bool,
}

impl Operation {
    /// Writes that change what they name whatever the body: their allowed calls are not repeated
    /// with another spelling, as the second call finds the record changed.
    fn consumes_its_record(&self) -> bool {
        self.method == "delete" || (self.method != "get" && !self.has_body)
    }

    /// Order of the run: reads, then writes refused by their bodies, then writes that change their
    /// record, deleting profiles last since every other record hangs off them.
    fn rank(&self) -> (u8, bool) {
        let stage = if self.method == "get" {
            0
        } else if !self.consumes_its_record() {
            1
        } else {
            2
        };
        (stage, self.path == "/api/v1/profiles/{id}")
    }
}

async fn operations(app: &TestApp) -> Vec<Operation> {
    let document = app.get("/api/openapi.json").await.expect(200).body;
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            found.push(Operation {
                method: method.clone(),
                path: path.clone(),
                has_body: operation.get("requestBody").is_some(),
            });
        }
    }
    found.sort_by_key(Operation::rank);
    found
}

async fn call(client: &Client, operation: &Operation, path: &str) -> Reply {
    let method = Method::from_bytes(operation.method.to_uppercase().as_bytes()).expect("method");
    // Bodies are empty objects: an allowed call is then turned away by validation and writes
    // nothing, a refused one must be turned away before it.
    let body = operation.has_body.then(|| json!({}));
    client.call(method, path, body.as_ref()).await
}

/// What went wrong, one line per case, so a failure lists every hole at once.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn check(&mut self, ok: bool, case: impl FnOnce() -> String) {
        if !ok {
            self.0.push(case());
        }
    }
}

fn refusal_is_right(reply: &Reply, who: Who) -> bool {
    let code = reply.body["code"].as_str().unwrap_or_default();
    match who {
        Who::Anonymous => reply.status == StatusCode::UNAUTHORIZED && code == "unauthenticated",
        _ => {
            reply.status == StatusCode::FORBIDDEN
                && matches!(code, "forbidden" | "outside_region")
                && reply.body["message"].is_string()
                && reply.body["message_en"].is_string()
        }
    }
}

fn not_refused(reply: &Reply) -> bool {
    !matches!(
        reply.status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) && !reply.status.is_server_error()
}

async fn every_operation_decides_access_on_the_decoded_id(app: TestApp) {
    let world = World::build(&app).await;
    world.is_what_it_says(&app).await;
    let mut db = open_database(&app).await;
    let operations = operations(&app).await;
    let unexpected: BTreeSet<String> = operations
        .iter()
        .filter(|op| expectation(&op.method, &op.path).is_none())
        .map(|op| format!("{} {}", op.method.to_uppercase(), op.path))
        .collect();
    assert!(
        unexpected.is_empty(),
        "operations without an access expectation in the matrix: {unexpected:?}"
    );
    assert!(
        operations.len() >= 60,
        "the OpenAPI document lists only {} operations",
        operations.len()
    );

    let mut findings = Findings::default();
    let mut requests = 0usize;
    for operation in &operations {
        let expect = expectation(&operation.method, &operation.path).expect("checked above");
        let names_a_record = operation.path.contains("{id}");
        let records = if names_a_record {
            world.records(&operation.path)
        } else {
            Vec::new()
        };
        let targets: Vec<Option<&Record>> = if names_a_record {
            records.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for record in targets {
            for (who, client) in &world.callers {
                let may = allowed(expect, *who, record);
                let mut spelled = match record {
                    Some(record) => spellings(record.id),
                    None => vec![("plain", String::new())],
                };
                if record.is_some() && (!may || !operation.consumes_its_record()) {
                    spelled.push(("too large", OVERFLOW.to_owned()));
                } else if record.is_some() {
                    spelled.truncate(1);
                }
                let mut plain_status = None;
                for (spelling, id) in spelled {
                    let path = operation
                        .path
                        .replace("{id}", &id)
                        .replace("{version}", "1")
                        .replace("{policy_id}", &world.policy.to_string());
                    let case = || {
                        format!(
                            "{} {} as {who:?} on {} ({spelling})",
                            operation.method.to_uppercase(),
                            operation.path,
                            record.map_or("-", |r| r.label),
                        )
                    };
                    let before = if operation.method != "get" && !may {
                        Some(fingerprint(&mut db).await)
                    } else {
                        None
                    };
                    let reply = call(client, operation, &path).await;
                    requests += 1;
                    if spelling == "too large" {
                        let refused = match who {
                            Who::Anonymous => reply.status == StatusCode::UNAUTHORIZED,
                            Who::Admin => reply.status == StatusCode::BAD_REQUEST,
                            _ => matches!(
                                reply.status,
                                StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN
                            ),
                        };
                        findings.check(refused, || {
                            format!("{}: got {} {}", case(), reply.status, reply.text)
                        });
                    } else if may {
                        findings.check(not_refused(&reply), || {
                            format!(
                                "{}: allowed but got {} {}",
                                case(),
                                reply.status,
                                reply.text
                            )
                        });
                        if !operation.consumes_its_record() {
                            let plain = *plain_status.get_or_insert(reply.status);
                            findings.check(plain == reply.status, || {
                                format!(
                                    "{}: {} where the plain id got {plain}",
                                    case(),
                                    reply.status
                                )
                            });
                        }
                    } else {
                        findings.check(refusal_is_right(&reply, *who), || {
                            format!(
                                "{}: must be refused, got {} {}",
                                case(),
                                reply.status,
                                reply.text
                            )
                        });
                    }
                    if let Some(before) = before {
                        let after = fingerprint(&mut db).await;
                        findings.check(before == after, || {
                            format!("{}: a refused write changed the database", case())
                        });
                    }
                }
            }
        }
    }
    assert!(
        findings.0.is_empty(),
        "{} of {requests} requests broke the matrix:\n{}",
        findings.0.len(),
        findings.0.join("\n")
    );
}

on_both_backends!(every_operation_decides_access_on_the_decoded_id);
