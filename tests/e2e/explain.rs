//! "Why" and "why not" over HTTP: `GET /api/v1/profiles/{id}/explain/{policy_id}` and the policy
//! calculator's `POST /api/v1/match/explain/{policy_id}` for an eligible pair, an unmet leaf, a
//! missing fact, a near miss and a met `any`, asserting the reason tree and its Chinese text.

use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

use crate::fixtures::{self, CREDIT_CODE_CHAOYANG, CREDIT_CODE_HAIDIAN, ID_NUMBER_1990};

/// A third and fourth valid credit code (GB 32100-2015 check character), fictitious.
const CREDIT_CODE_CHANGCHUN: &str = "91220104MA14Q3R5TY";
const DAY: &str = "as_of=2026-11-21";

fn enterprise_policy() -> Value {
    let mut policy = fixtures::policy();
    policy["applicability"]["condition"] = json!({"all": [
        {"field": "region", "op": "within", "value": "110000", "clause": "第二条"},
        {"field": "employees", "op": "le", "value": 500, "clause": "第三条第一款"},
        {"field": "revenue", "op": "ge", "value": 1000, "clause": "第三条第二款"}
    ]});
    policy["applicability"]["audiences"] = json!(["private"]);
    policy
}

/// 就业补贴 for Beijing residents: women from 30, men from 35.
fn citizen_policy() -> Value {
    let mut policy = fixtures::policy();
    policy["title"] = json!("关于支持大龄失业人员再就业的补贴办法");
    policy["applicability"] = json!({
        "tags": {"region": ["110000"]},
        "condition": {"all": [
            {"field": "residence_region", "op": "within", "value": "110000", "clause": "第二条"},
            {"any": [
                {"all": [{"field": "gender", "op": "eq", "value": "female"},
                         {"field": "age", "op": "ge", "value": 30}]},
                {"all": [{"field": "gender", "op": "eq", "value": "male"},
                         {"field": "age", "op": "ge", "value": 35, "clause": "第四条"}]}
            ]}
        ]}
    });
    policy
}

fn lines(reply: &Value) -> Vec<String> {
    reply["explanation"]["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["text_zh"].as_str().unwrap().to_owned())
        .collect()
}

/// No text a person reads shows a code, an English enum or a float artefact.
fn reads_plainly(reply: &Value) {
    let mut texts = Vec::new();
    collect_texts(reply, &mut texts);
    for text in texts {
        for raw in [
            "110108", "110000", "220104", "female", "male", "private", ".0000",
        ] {
            assert!(!text.contains(raw), "{raw} in {text}");
        }
    }
}

fn collect_texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(text) if key.ends_with("_zh") => out.push(text.clone()),
                    other => collect_texts(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_texts(item, out)),
        _ => {}
    }
}

async fn explains_eligible_unmet_undetermined_and_near_miss_pairs(app: TestApp) {
    let policy = app.create("/api/v1/policies", &enterprise_policy()).await;
    let eligible = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let mut unknown_revenue = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
    unknown_revenue.as_object_mut().unwrap().remove("revenue");
    let undetermined = app.create("/api/v1/profiles", &unknown_revenue).await;
    let mut far = fixtures::enterprise(CREDIT_CODE_CHANGCHUN);
    far["region"] = json!("220104");
    far["employees"] = json!(800);
    let ineligible = app.create("/api/v1/profiles", &far).await;
    let explain = |profile: i64| format!("/api/v1/profiles/{profile}/explain/{policy}?{DAY}");

    let reply = app.get(&explain(eligible)).await.expect(200).body;
    assert_eq!(reply["verdict"], "eligible");
    assert_eq!(reply["in_force"], true);
    assert_eq!(reply["policy"]["id"], policy);
    let explanation = &reply["explanation"];
    assert_eq!(explanation["summary_zh"], "满足 3 项中的 3 项");
    assert_eq!(explanation["audience"]["outcome"], "met");
    let region = &explanation["condition"]["children"][0];
    assert_eq!(
        region,
        &json!({
            "kind": "leaf", "path": "condition.all[0]", "outcome": "met", "decides": true,
            "field": "region", "field_zh": "注册地", "field_en": "registered region",
            "op": "within", "expected": "110000", "expected_zh": "北京市", "expected_en": "Beijing",
            "actual": "110108", "actual_zh": "北京市海淀区",
            "actual_en": "Haidian District, Beijing", "clause": "第二条",
            "text_zh": "注册地 北京市海淀区 属于 北京市（第二条）",
            "text_en": "registered region Haidian District, Beijing is within Beijing (clause 第二条)"
        })
    );
    assert_eq!(
        lines(&reply),
        [
            "适用对象类别 高新技术企业、民营企业、中小企业 属于政策适用对象（民营企业）",
            "满足 3 项中的 3 项",
            "注册地 北京市海淀区 属于 北京市（第二条）",
            "从业人员数 85 ≤ 500（第三条第一款）",
            "营业收入（万元） 4200 ≥ 1000（第三条第二款）",
        ]
    );
    assert_eq!(reply["explanation"]["near_miss"], Value::Null);
    reads_plainly(&reply);

    // Two unmet leaves: not eligible, and not a near miss.
    let reply = app.get(&explain(ineligible)).await.expect(200).body;
    assert_eq!(reply["verdict"], "not_eligible");
    assert_eq!(
        lines(&reply),
        [
            "满足 3 项中的 1 项",
            "注册地 长春市朝阳区 不属于 北京市（要求属于 北京市）（第二条）",
            "从业人员数 800 > 500（要求≤ 500）（第三条第一款）",
        ]
    );
    let children = reply["explanation"]["condition"]["children"]
        .as_array()
        .unwrap();
    let outcomes: Vec<&str> = children
        .iter()
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["unmet", "unmet", "met"]);
    assert_eq!(reply["explanation"]["near_miss"], Value::Null);
    reads_plainly(&reply);

    let reply = app.get(&explain(undetermined)).await.expect(200).body;
    assert_eq!(reply["verdict"], "undetermined");
    assert_eq!(reply["missing_fields"], json!(["revenue"]));
    assert_eq!(
        lines(&reply),
        [
            "满足 3 项中的 2 项，1 项待确认",
            "缺少营业收入（万元）信息（要求≥ 1000）（第三条第二款）",
        ]
    );
    let revenue = &reply["explanation"]["condition"]["children"][2];
    assert_eq!(revenue["outcome"], "unknown");
    assert_eq!(revenue["actual"], Value::Null);
    assert_eq!(revenue["decides"], true);

    // One step short: the near miss says what it is and that the recipient can take it.
    let mut near = fixtures::enterprise(CREDIT_CODE_CHANGCHUN);
    near["employees"] = json!(800);
    app.put(&format!("/api/v1/profiles/{ineligible}"), &near)
        .await
        .expect(200);
    let reply = app.get(&explain(ineligible)).await.expect(200).body;
    assert_eq!(reply["verdict"], "not_eligible");
    let near_miss = &reply["explanation"]["near_miss"];
    assert_eq!(near_miss["path"], "condition.all[1]");
    assert_eq!(near_miss["remedy"], "changeable");
    assert_eq!(
        near_miss["text_zh"],
        "差一项：若从业人员数 ≤ 500，即可符合（当前 800）（第三条第一款）。这一项可以通过您自身的调整达到"
    );
    assert!(
        reply["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "near_miss" && r["text_zh"] == near_miss["text_zh"]),
        "match reasons carry the same hint"
    );

    // The matches list renders its reasons from the same tree, without the tree itself.
    let matches = app
        .get(&format!("/api/v1/profiles/{eligible}/matches?{DAY}"))
        .await
        .expect(200)
        .body;
    let listed = &matches["eligible"][0];
    assert_eq!(
        (listed["met"].as_u64(), listed["total"].as_u64()),
        (Some(3), Some(3))
    );
    assert!(listed.get("explanation").is_none());
    let listed_texts: Vec<&str> = listed["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text_zh"].as_str().unwrap())
        .collect();
    assert!(listed_texts.contains(&"注册地 北京市海淀区 属于 北京市（第二条）"));

    let mut draft = enterprise_policy();
    draft["status"] = json!("draft");
    let draft = app.create("/api/v1/policies", &draft).await;
    app.get(&format!("/api/v1/profiles/{eligible}/explain/{draft}"))
        .await
        .expect_error(409, "policy_not_published");
    app.get(&format!("/api/v1/profiles/{eligible}/explain/987654"))
        .await
        .expect_error(404, "not_found");
    app.get(&format!("/api/v1/profiles/987654/explain/{policy}"))
        .await
        .expect_error(404, "not_found");
    app.get(&format!(
        "/api/v1/profiles/{eligible}/explain/{policy}?as_of=2026-13-01"
    ))
    .await
    .expect_error(400, "invalid_query");
}

async fn only_the_deciding_branch_of_an_any_is_a_reason(app: TestApp) {
    let policy = app.create("/api/v1/policies", &citizen_policy()).await;
    // Born 1990-03-07, male by the ID number: 36 on the day, so the branch for men applies.
    let citizen = app
        .create("/api/v1/profiles", &fixtures::citizen(ID_NUMBER_1990))
        .await;
    let reply = app
        .get(&format!(
            "/api/v1/profiles/{citizen}/explain/{policy}?{DAY}"
        ))
        .await
        .expect(200)
        .body;
    assert_eq!(reply["verdict"], "eligible");
    let explanation = &reply["explanation"];
    assert_eq!(
        (explanation["met"].as_u64(), explanation["total"].as_u64()),
        (Some(2), Some(2))
    );
    let any = &explanation["condition"]["children"][1];
    assert_eq!(any["kind"], "any");
    assert_eq!(
        (any["met"].as_u64(), any["total"].as_u64()),
        (Some(1), Some(2))
    );
    let women = &any["children"][0];
    assert_eq!(
        (women["outcome"].as_str(), women["decides"].as_bool()),
        (Some("unmet"), Some(false))
    );
    assert_eq!(
        women["children"][0]["text_zh"],
        "性别 男 不为 女（要求为 女）"
    );
    let men = &any["children"][1];
    assert_eq!(
        (men["outcome"].as_str(), men["decides"].as_bool()),
        (Some("met"), Some(true))
    );
    assert_eq!(men["children"][1]["clause"], "第四条");
    assert_eq!(
        lines(&reply),
        [
            "满足 2 项中的 2 项",
            "居住地 北京市朝阳区 属于 北京市（第二条）",
            "以下 2 项满足任一即可，已满足「满足 2 项中的 2 项：「性别 男 为 男；年龄 36 ≥ 35（第四条）」」",
        ]
    );
    let all_reasons = reply["reasons"].to_string();
    assert!(
        !all_reasons.contains('女'),
        "the branch for women did not apply: {all_reasons}"
    );
    reads_plainly(&reply);

    // Before 35 he is one condition short, and time will supply it.
    let reply = app
        .get(&format!(
            "/api/v1/profiles/{citizen}/explain/{policy}?as_of=2024-11-21"
        ))
        .await
        .expect(200)
        .body;
    assert_eq!(reply["verdict"], "not_eligible");
    assert_eq!(reply["explanation"]["near_miss"]["remedy"], "with_time");
    assert_eq!(
        reply["explanation"]["near_miss"]["text_zh"],
        "差一项：若年龄 ≥ 35，即可符合（当前 34）（第四条）。这一项会随时间推移自然满足"
    );
}

async fn the_calculator_explains_an_unsaved_profile(app: TestApp) {
    let policy = app.create("/api/v1/policies", &enterprise_policy()).await;
    let before = app.total("/api/v1/profiles").await;
    let mut profile = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    profile["employees"] = json!(800);
    let reply = app
        .post(
            &format!("/api/v1/match/explain/{policy}"),
            &json!({"profile": profile, "as_of": "2026-11-21"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(reply["as_of"], "2026-11-21");
    assert_eq!(reply["verdict"], "not_eligible");
    assert_eq!(
        lines(&reply),
        [
            "满足 3 项中的 2 项",
            "从业人员数 800 > 500（要求≤ 500）（第三条第一款）",
        ]
    );
    assert_eq!(reply["explanation"]["near_miss"]["remedy"], "changeable");
    assert_eq!(
        app.total("/api/v1/profiles").await,
        before,
        "nothing stored"
    );

    profile["employees"] = json!("many");
    let refused = app
        .post(
            &format!("/api/v1/match/explain/{policy}"),
            &json!({"profile": profile}),
        )
        .await
        .expect(422);
    assert_eq!(
        refused.body["field"], "profile.employees",
        "{}",
        refused.text
    );
    app.post(
        "/api/v1/match/explain/987654",
        &json!({"profile": fixtures::enterprise(CREDIT_CODE_HAIDIAN)}),
    )
    .await
    .expect_error(404, "not_found");
}

on_both_backends!(
    explains_eligible_unmet_undetermined_and_near_miss_pairs,
    only_the_deciding_branch_of_an_any_is_a_reason,
    the_calculator_explains_an_unsaved_profile,
);
