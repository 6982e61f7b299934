//! What each role can read about a citizen, gathered from every API route and page it may
//! reach, must leave at least 10,000 身份证号 consistent with it: the number is 6 region digits, 8
//! of birth date, 3 of sequence (the last one's parity is the gender) and a check character.

use chrono::{Datelike, NaiveDate};
use e2e::{Client, TestApp, on_both_backends};
use serde_json::{Value, json};

use crate::fixtures::{self, ID_NUMBER_1990};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARACTERS: &[u8; 11] = b"10X98765432";

fn check_character(first17: &str) -> char {
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    char::from(CHECK_CHARACTERS[(sum % 11) as usize])
}

/// What a reader learnt about the citizen whose number is `truth`.
struct Seen {
    text: String,
    age: Option<u32>,
    gender: Option<String>,
}

fn whole_years(born: NaiveDate, on: NaiveDate) -> i32 {
    let before_birthday = (on.month(), on.day()) < (born.month(), born.day());
    on.year() - born.year() - i32::from(before_birthday)
}

/// The masked forms of an ID number in `text`: 18 characters of digits, `X` and `*` with at
/// least one `*`, starting with a region digit.
fn masked_forms(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found: Vec<String> = chars
        .windows(18)
        .filter(|w| {
            w[0].is_ascii_digit()
                && w.contains(&'*')
                && w.iter()
                    .all(|c| c.is_ascii_digit() || *c == '*' || *c == 'X')
        })
        .map(|w| w.iter().collect())
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Counts the valid ID numbers consistent with what was seen. The region is taken as known (the
/// hukou and residence regions are on the profile); the birth date as known if it appears in any
/// common form, else narrowed by the age; the sequence by the gender; every masked form seen
/// fixes its visible characters; the check character must be right.
fn candidates(seen: &Seen, truth: &str, today: NaiveDate) -> usize {
    let region = &truth[..6];
    let born = NaiveDate::parse_from_str(&truth[6..14], "%Y%m%d").unwrap();
    let date_forms = [
        born.format("%Y-%m-%d").to_string(),
        born.format("%Y%m%d").to_string(),
        born.format("%Y/%m/%d").to_string(),
        format!("{}年{}月{}日", born.year(), born.month(), born.day()),
    ];
    let dates: Vec<NaiveDate> = if date_forms.iter().any(|f| seen.text.contains(f)) {
        vec![born]
    } else {
        NaiveDate::from_ymd_opt(1900, 1, 1)
            .unwrap()
            .iter_days()
            .take_while(|d| *d <= today)
            .filter(|d| {
                seen.age
                    .is_none_or(|age| whole_years(*d, today) == i32::try_from(age).unwrap())
            })
            .collect()
    };
    let parity = match seen.gender.as_deref() {
        Some("male") => Some(1),
        Some("female") => Some(0),
        _ => None,
    };
    let masks: Vec<Vec<char>> = masked_forms(&seen.text)
        .into_iter()
        .filter(|m| m.starts_with(region))
        .map(|m| m.chars().collect())
        .collect();
    let mut count = 0;
    for date in &dates {
        let prefix = format!("{region}{}", date.format("%Y%m%d"));
        for sequence in 0..1000u32 {
            if parity.is_some_and(|p| sequence % 2 != p) {
                continue;
            }
            let first17 = format!("{prefix}{sequence:03}");
            let number: Vec<char> = format!("{first17}{}", check_character(&first17))
                .chars()
                .collect();
            let fits = masks.iter().all(|mask| {
                mask.iter()
                    .zip(&number)
                    .all(|(shown, actual)| *shown == '*' || shown == actual)
            });
            if fits {
                count += 1;
            }
        }
    }
    count
}

fn citizen_policy() -> Value {
    let mut policy = fixtures::policy();
    policy["doc_number"] = json!("京人社发〔2026〕3号");
    policy["title"] = json!("关于成年失业人员求职创业补贴的通知");
    policy["topics"] = json!(["employment"]);
    policy["applicability"] = json!({
        "audiences": ["individual"],
        "tags": {"region": ["110000"], "topic": ["employment"]},
        "condition": {"all": [
            {"field": "region", "op": "within", "value": "110000"},
            {"field": "birth_date", "op": "years_since_at_least", "value": 18},
            {"field": "birth_date", "op": "lt", "value": "2010-01-01"}
        ]}
    });
    policy
}

/// GETs every path, asserting each answers 200, and joins the bodies.
async fn read_all(client: &Client, paths: &[String]) -> String {
    let mut text = String::new();
    for path in paths {
        let reply = client.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        text.push_str(&reply.text);
        text.push('\n');
    }
    text
}

async fn no_role_reads_enough_to_rebuild_an_id_number(app: TestApp) {
    let citizen = app
        .create("/api/v1/profiles", &fixtures::citizen(ID_NUMBER_1990))
        .await;
    let policy = app.create("/api/v1/policies", &citizen_policy()).await;
    let me = app.acting_as(
        &TestApp::mint_token(
            &app.server.store,
            "citizen",
            store::Role::Citizen,
            Some(citizen),
            None,
        )
        .await,
    );
    let staff = app.acting_as(
        &TestApp::mint_token(
            &app.server.store,
            "staff-chaoyang",
            store::Role::Staff,
            None,
            Some("110105"),
        )
        .await,
    );
    let item = app.only_inbox_item(citizen).await;

    let own = [
        format!("/api/v1/profiles/{citizen}"),
        format!("/api/v1/profiles/{citizen}/matches"),
        format!("/api/v1/profiles/{citizen}/completion"),
        format!("/api/v1/profiles/{citizen}/explain/{policy}"),
    ];
    let citizen_paths: Vec<String> = own
        .iter()
        .cloned()
        .chain([
            format!("/api/v1/profiles/{citizen}/inbox"),
            format!("/api/v1/inbox/{item}"),
            format!("/api/v1/profiles/{citizen}/preferences"),
            "/profile".to_owned(),
            "/my/policies".to_owned(),
            "/inbox".to_owned(),
            format!("/inbox/{item}"),
        ])
        .collect();
    let staff_paths: Vec<String> = own
        .iter()
        .cloned()
        .chain([
            "/api/v1/profiles?kind=citizen".to_owned(),
            format!("/api/v1/policies/{policy}/audience"),
            format!("/api/v1/policies/{policy}/confirmations"),
            format!("/api/v1/policies/{policy}/confirmations.csv"),
            format!("/api/v1/policies/{policy}/analytics"),
            format!("/staff/profiles/{citizen}"),
        ])
        .collect();
    let admin_paths: Vec<String> = citizen_paths
        .iter()
        .filter(|p| p.starts_with("/api/"))
        .chain(staff_paths.iter())
        .cloned()
        .chain([
            "/api/v1/audit".to_owned(),
            format!("/api/v1/audit?entity=profile&entity_id={citizen}"),
            "/api/v1/dead-letters".to_owned(),
            "/admin/audit".to_owned(),
        ])
        .collect();

    let profile = app
        .get(&format!("/api/v1/profiles/{citizen}"))
        .await
        .expect(200)
        .body;
    let age = profile["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "age")
        .and_then(|l| l["value"].as_f64())
        .map(|a| a as u32);
    assert!(age.is_some(), "every role reads the age: {profile}");
    let gender = profile["profile"]["gender"].as_str().map(str::to_owned);
    assert_eq!(
        gender.as_deref(),
        Some("male"),
        "every role reads the gender"
    );
    assert!(
        profile["profile"].get("birth_date").is_none(),
        "no role reads the birth date: {profile}"
    );
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();

    for (role, client, paths) in [
        ("citizen", &me, &citizen_paths),
        ("staff", &staff, &staff_paths),
        ("admin", &app.api, &admin_paths),
    ] {
        let text = read_all(client, paths).await;
        assert!(!text.contains(ID_NUMBER_1990), "{role} reads the number");
        assert!(!text.contains("19900307"), "{role} reads the birth date");
        assert!(!text.contains("1990-03-07"), "{role} reads the birth date");
        let seen = Seen {
            text,
            age,
            gender: gender.clone(),
        };
        assert!(
            masked_forms(&seen.text).contains(&"110105***********9".to_owned()),
            "{role} sees the masked number"
        );
        let count = candidates(&seen, ID_NUMBER_1990, today);
        assert!(count >= 10_000, "{role}: only {count} candidate ID numbers");
    }

    // The count is not vacuous: the former masked form (sequence and check visible) with the
    // same age and gender leaves a few dozen.
    let former = Seen {
        text: "110105********1239".to_owned(),
        age,
        gender,
    };
    let count = candidates(&former, ID_NUMBER_1990, today);
    assert!((1..100).contains(&count), "{count}");
}

on_both_backends!(no_role_reads_enough_to_rebuild_an_id_number);
