//! Search behaviour over the demo policies (real Chinese policy texts): recall and ranking for
//! typical queries, filters, facets, snippets, hostile input and index updates.

use chrono::{DateTime, NaiveDate};
use profiles::AudienceClass;
use store::policy::{Policy, PolicyContent, PolicyLevel, PolicyStatus};

use crate::{ApplicationWindow, FacetCount, PolicyIndex, SearchError, SearchQuery, SearchResults};

const DEMO: &str = include_str!("../../policy-push/demo/policies.jsonl");

/// The demo policies, with ids 1, 2, … in file order.
fn demo_policies() -> Vec<Policy> {
    DEMO.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let content: PolicyContent = serde_json::from_str(line).unwrap();
            policy(i as i64 + 1, content)
        })
        .collect()
}

fn policy(id: i64, content: PolicyContent) -> Policy {
    Policy {
        id,
        version: 1,
        created_at: DateTime::UNIX_EPOCH,
        updated_at: DateTime::UNIX_EPOCH,
        content,
    }
}

fn demo_index() -> (PolicyIndex, Vec<Policy>) {
    let policies = demo_policies();
    let index = PolicyIndex::new().unwrap();
    assert_eq!(index.rebuild(&policies, 0).unwrap(), policies.len());
    (index, policies)
}

/// The day the demo searches are made on.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
}

fn search(index: &PolicyIndex, query: &SearchQuery) -> SearchResults {
    index.search(query, today()).unwrap()
}

fn ids(results: &SearchResults) -> Vec<i64> {
    results.hits.iter().map(|hit| hit.id).collect()
}

fn title_of(policies: &[Policy], id: i64) -> &str {
    &policies[id as usize - 1].content.title
}

#[test]
fn rd_expense_deduction_finds_the_deduction_notice_first() {
    let (index, policies) = demo_index();
    let results = search(&index, &SearchQuery::text("研发费用加计扣除"));
    assert_eq!(
        title_of(&policies, results.hits[0].id),
        "关于进一步完善研发费用税前加计扣除政策的公告"
    );
    // The 科技型中小企业 subsidy also explains the deduction in its text.
    assert!(ids(&results).contains(&5), "{:?}", ids(&results));
}

#[test]
fn high_tech_enterprise_finds_the_two_high_tech_policies_first() {
    let (index, policies) = demo_index();
    let results = search(&index, &SearchQuery::text("高新技术企业"));
    let mut top: Vec<&str> = results.hits[..2]
        .iter()
        .map(|hit| title_of(&policies, hit.id))
        .collect();
    top.sort();
    assert_eq!(
        top,
        [
            "北京市支持高新技术企业高质量发展若干措施",
            "海淀区高新技术企业培育支持办法"
        ]
    );
}

#[test]
fn a_word_cut_differently_in_the_text_is_found_through_its_parts() {
    let (index, _) = demo_index();
    // The texts say 高新技术企业, indexed as 高新 + 技术 + 企业 + 高新技术企业, never 高新技术.
    let results = search(&index, &SearchQuery::text("高新技术"));
    assert!(ids(&results)[..2].contains(&3), "{:?}", ids(&results));
}

#[test]
fn job_stabilisation_finds_the_refund_notice_first() {
    let (index, policies) = demo_index();
    let results = search(&index, &SearchQuery::text("稳岗"));
    assert_eq!(
        title_of(&policies, results.hits[0].id),
        "关于做好2026年失业保险稳岗返还工作的通知"
    );
}

#[test]
fn no_application_finds_the_no_application_policies() {
    let (index, policies) = demo_index();
    let results = search(&index, &SearchQuery::text("免申即享"));
    let expected: Vec<i64> = policies
        .iter()
        .filter(|p| p.content.delivery_mode == store::policy::DeliveryMode::NoApplication)
        .map(|p| p.id)
        .collect();
    let mut top = ids(&results)[..expected.len()].to_vec();
    top.sort();
    assert_eq!(top, expected);
}

#[test]
fn a_title_match_outranks_a_body_only_match() {
    let policies = demo_policies();
    let mut in_title = policies[0].content.clone();
    in_title.title = "关于支持瞪羚企业发展的通知".into();
    let mut in_body = policies[1].content.clone();
    in_body.title = "关于企业发展的若干措施".into();
    in_body.full_text = "瞪羚企业可以申请。瞪羚企业认定后给予奖励。瞪羚企业名单每年公布。".into();
    let index = PolicyIndex::new().unwrap();
    index
        .rebuild([policy(1, in_body), policy(2, in_title)], 0)
        .unwrap();
    let results = search(&index, &SearchQuery::text("瞪羚企业"));
    assert_eq!(ids(&results), [2, 1]);
    assert!(results.hits[0].score > results.hits[1].score);
}

#[test]
fn the_words_in_the_order_asked_outrank_the_same_words_apart() {
    let policies = demo_policies();
    let mut apart = policies[0].content.clone();
    apart.title = "关于企业发展的若干措施".into();
    apart.full_text = "本办法支持小微企业，另有其他事项说明贷款贴息。".into();
    let mut together = apart.clone();
    together.full_text = "本办法支持小微企业贷款贴息，另有其他事项说明。".into();
    let index = PolicyIndex::new().unwrap();
    index
        .rebuild([policy(1, apart), policy(2, together)], 0)
        .unwrap();
    let results = search(&index, &SearchQuery::text("小微企业贷款贴息"));
    assert_eq!(ids(&results), [2, 1]);
    assert!(results.hits[0].score > results.hits[1].score);
}

#[test]
fn the_exact_doc_number_finds_its_policy_first() {
    let (index, policies) = demo_index();
    let results = search(&index, &SearchQuery::text(&policies[0].content.doc_number));
    assert_eq!(results.hits[0].id, 1);
}

#[test]
fn region_filter_includes_sub_regions_and_excludes_others() {
    let (index, policies) = demo_index();
    let within = |region: &str| SearchQuery {
        q: "高新技术企业".into(),
        region: Some(region.into()),
        ..SearchQuery::default()
    };
    let beijing = search(&index, &within("110000"));
    assert!(ids(&beijing).contains(&4), "海淀区 110108 is within 北京市");
    let haidian = search(&index, &within("110108"));
    assert!(!haidian.hits.is_empty());
    for hit in &haidian.hits {
        assert_eq!(policies[hit.id as usize - 1].content.region_code, "110108");
    }
    assert!(haidian.total < beijing.total);
    assert_eq!(search(&index, &within("220100")).total, 0);
}

#[test]
fn keyword_filters_narrow_to_matching_policies() {
    let (index, policies) = demo_index();
    let query = SearchQuery {
        topic: Some("employment".into()),
        audience: Some(AudienceClass::Individual),
        status: Some(PolicyStatus::Published),
        limit: 100,
        ..SearchQuery::default()
    };
    let results = search(&index, &query);
    let expected = policies
        .iter()
        .filter(|p| {
            let c = &p.content;
            c.topics.iter().any(|t| t == "employment")
                && c.applicability
                    .audiences
                    .contains(&AudienceClass::Individual)
                && c.status == PolicyStatus::Published
        })
        .count();
    assert!(expected > 2);
    assert_eq!(results.total, expected);
    assert_eq!(results.hits.len(), expected);

    let department = SearchQuery {
        q: "补贴".into(),
        department: Some("北京市民政局".into()),
        ..SearchQuery::default()
    };
    let results = search(&index, &department);
    assert!(!results.hits.is_empty());
    for hit in &results.hits {
        let departments = &policies[hit.id as usize - 1].content.issuing_departments;
        assert!(departments.iter().any(|d| d == "北京市民政局"));
    }
}

#[test]
fn date_range_is_inclusive_on_both_ends() {
    let (index, policies) = demo_index();
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
    let query = SearchQuery {
        published_from: day(2025, 3, 28),
        published_to: day(2025, 6, 16),
        limit: 100,
        ..SearchQuery::default()
    };
    let results = search(&index, &query);
    let expected = policies
        .iter()
        .filter(|p| {
            p.content.published_on >= day(2025, 3, 28) && p.content.published_on <= day(2025, 6, 16)
        })
        .count();
    assert_eq!(results.total, expected);
    let dates: Vec<_> = results.hits.iter().map(|h| h.published_on).collect();
    assert!(dates.contains(&day(2025, 3, 28)) && dates.contains(&day(2025, 6, 16)));
}

#[test]
fn an_empty_query_lists_newest_first() {
    let (index, policies) = demo_index();
    let results = search(&index, &SearchQuery::default());
    assert_eq!(results.total, policies.len());
    let dates: Vec<_> = results.hits.iter().map(|h| h.published_on).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    assert_eq!(
        dates[0],
        policies
            .iter()
            .map(|p| p.content.published_on)
            .max()
            .unwrap()
    );
}

#[test]
fn facets_count_the_whole_matching_set_not_the_page() {
    let (index, policies) = demo_index();
    let results = search(
        &index,
        &SearchQuery {
            limit: 1,
            ..SearchQuery::default()
        },
    );
    assert_eq!(results.hits.len(), 1);
    let count = |facet: &[crate::FacetCount], value: &str| {
        facet
            .iter()
            .find(|f| f.value == value)
            .map_or(0, |f| f.count)
    };
    let employment = policies
        .iter()
        .filter(|p| p.content.topics.iter().any(|t| t == "employment"))
        .count() as u64;
    assert_eq!(count(&results.facets.topic, "employment"), employment);
    let drafts = policies
        .iter()
        .filter(|p| p.content.status == PolicyStatus::Draft)
        .count() as u64;
    assert_eq!(count(&results.facets.status, "draft"), drafts);
    let status_total: u64 = results.facets.status.iter().map(|f| f.count).sum();
    assert_eq!(status_total, policies.len() as u64);
    let changchun = policies
        .iter()
        .filter(|p| p.content.region_code == "220100")
        .count() as u64;
    assert_eq!(count(&results.facets.region, "220100"), changchun);
    assert_eq!(
        count(&results.facets.department, "北京市财政局"),
        policies
            .iter()
            .filter(|p| p
                .content
                .issuing_departments
                .iter()
                .any(|d| d == "北京市财政局"))
            .count() as u64
    );
    let individuals = policies
        .iter()
        .filter(|p| {
            p.content
                .applicability
                .audiences
                .contains(&AudienceClass::Individual)
        })
        .count() as u64;
    assert_eq!(count(&results.facets.audience, "individual"), individuals);
    assert!(
        results
            .facets
            .topic
            .windows(2)
            .all(|w| w[0].count >= w[1].count)
    );

    let narrowed = search(&index, &SearchQuery::text("稳岗"));
    let narrowed_total: u64 = narrowed.facets.status.iter().map(|f| f.count).sum();
    assert_eq!(narrowed_total, narrowed.total as u64);
}

#[test]
fn snippets_mark_matches_and_escape_html() {
    let (index, policies) = demo_index();
    let results = search(&index, &SearchQuery::text("稳岗"));
    assert!(
        results.hits[0].snippet_html.contains("<mark>稳岗"),
        "{}",
        results.hits[0].snippet_html
    );

    let mut hostile = policies[0].content.clone();
    hostile.summary = "<script>alert(1)</script> 瞪羚企业 & 专项支持".into();
    index.upsert(&policy(100, hostile)).unwrap();
    let results = search(&index, &SearchQuery::text("瞪羚企业"));
    let snippet = &results.hits[0].snippet_html;
    assert!(snippet.contains("&lt;script&gt;"), "{snippet}");
    assert!(!snippet.contains("<script>"), "{snippet}");
    assert!(snippet.contains("<mark>瞪羚企业</mark>"), "{snippet}");
}

#[test]
fn query_syntax_characters_are_plain_text() {
    let (index, _) = demo_index();
    for hostile in [
        "\"AND (",
        "title:x",
        "研发费用 AND (加计扣除",
        "*?~^[]{}!+-",
        "（）【】“”",
        "",
        "   ",
    ] {
        assert!(
            index.search(&SearchQuery::text(hostile), today()).is_ok(),
            "{hostile}"
        );
    }
    let results = search(&index, &SearchQuery::text("研发费用 AND (加计扣除"));
    assert_eq!(results.hits[0].id, 2);
    assert_eq!(search(&index, &SearchQuery::text("（）【】")).total, 0);
}

#[test]
fn bad_input_is_a_client_error() {
    let (index, _) = demo_index();
    let error = index
        .search(&SearchQuery::text("稳".repeat(201)), today())
        .unwrap_err();
    assert!(matches!(error, SearchError::QueryTooLong { max: 200 }));
    assert!(error.is_client_error());
    let error = index
        .search(
            &SearchQuery {
                limit: 101,
                ..SearchQuery::default()
            },
            today(),
        )
        .unwrap_err();
    assert!(error.is_client_error());
}

#[test]
fn upserted_policies_are_found_at_once_and_removed_ones_are_not() {
    let (index, policies) = demo_index();
    let before = index.len();
    let mut content = policies[5].content.clone();
    content.title = "北京市支持独角兽企业上市若干措施".into();
    index.upsert(&policy(500, content.clone())).unwrap();
    assert_eq!(index.len(), before + 1);
    assert_eq!(ids(&search(&index, &SearchQuery::text("独角兽")))[0], 500);

    content.title = "北京市支持链主企业发展若干措施".into();
    index.upsert(&policy(500, content)).unwrap();
    assert_eq!(index.len(), before + 1, "an upsert replaces, not adds");
    assert!(!ids(&search(&index, &SearchQuery::text("独角兽"))).contains(&500));
    assert_eq!(ids(&search(&index, &SearchQuery::text("链主企业")))[0], 500);

    index.remove(500).unwrap();
    assert!(!ids(&search(&index, &SearchQuery::text("链主企业"))).contains(&500));
    assert_eq!(index.len(), before);

    index.rebuild(&policies[..3], 0).unwrap();
    assert_eq!(index.len(), 3);
}

#[test]
fn results_serialise_for_the_api() {
    let (index, _) = demo_index();
    let json = serde_json::to_value(search(&index, &SearchQuery::text("稳岗"))).unwrap();
    assert!(json["total"].as_u64().unwrap() >= 1);
    assert!(json["hits"][0]["snippet_html"].is_string());
    assert!(json["facets"]["topic"][0]["value"].is_string());
}

#[test]
fn applied_changes_record_their_position_and_applying_again_adds_nothing() {
    let (index, policies) = demo_index();
    let before = index.len();
    let mut content = policies[5].content.clone();
    content.title = "北京市支持独角兽企业上市若干措施".into();
    let saved = [policy(500, content)];
    index.apply(&saved, &[1], Some(42)).unwrap();
    index.apply(&saved, &[1], Some(42)).unwrap();
    assert_eq!(index.len(), before, "one added, one removed, each once");
    assert_eq!(
        ids(&search(&index, &SearchQuery::text("独角兽"))),
        vec![500]
    );
    assert_eq!(index.position().unwrap(), 42);

    index.remove(500).unwrap();
    assert_eq!(
        index.position().unwrap(),
        42,
        "a write ahead of the log keeps the position"
    );
    index.rebuild(&policies, 57).unwrap();
    assert_eq!(index.position().unwrap(), 57);
}

fn facet(counts: &[FacetCount], value: &str) -> u64 {
    counts
        .iter()
        .find(|f| f.value == value)
        .map_or(0, |f| f.count)
}

#[test]
fn the_level_filter_keeps_that_level_and_its_facet_counts_each() {
    let (index, policies) = demo_index();
    let all = search(&index, &SearchQuery::default());
    for (level, name) in [
        (PolicyLevel::National, "national"),
        (PolicyLevel::Municipal, "municipal"),
        (PolicyLevel::District, "district"),
    ] {
        let expected: Vec<i64> = policies
            .iter()
            .filter(|p| p.content.level == level)
            .map(|p| p.id)
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(facet(&all.facets.level, name), expected.len() as u64);
        let query = SearchQuery {
            level: Some(level),
            limit: 100,
            ..SearchQuery::default()
        };
        let mut found = ids(&search(&index, &query));
        found.sort();
        assert_eq!(found, expected, "{name}");
    }
}

/// A policy with one benefit item open from `opens` to `closes`, or with no window.
fn windowed(id: i64, window: Option<(&str, &str)>) -> Policy {
    let mut content = demo_policies()[0].content.clone();
    content.title = format!("窗口测试政策{id}");
    content.benefit_items.truncate(1);
    let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
    content.benefit_items[0].window_opens = window.map(|(opens, _)| day(opens));
    content.benefit_items[0].window_closes = window.map(|(_, closes)| day(closes));
    policy(id, content)
}

#[test]
fn open_and_closing_soon_are_judged_on_the_day_asked_without_reindexing() {
    let index = PolicyIndex::new().unwrap();
    let mut two_windows = windowed(4, Some(("2026-01-01", "2026-01-31")));
    two_windows.content.benefit_items.push(
        windowed(5, Some(("2026-09-01", "2026-09-30")))
            .content
            .benefit_items[0]
            .clone(),
    );
    index
        .rebuild(
            [
                windowed(1, Some(("2026-03-01", "2026-06-30"))),
                windowed(2, Some(("2026-01-01", "2026-12-31"))),
                windowed(3, None),
                two_windows,
            ],
            0,
        )
        .unwrap();
    let on = |date: &str, window: Option<ApplicationWindow>| {
        let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        let results = index
            .search(
                &SearchQuery {
                    window,
                    ..SearchQuery::default()
                },
                day,
            )
            .unwrap();
        let mut found = ids(&results);
        found.sort();
        (found, results.facets.window)
    };
    let (open, counts) = on("2026-06-10", Some(ApplicationWindow::Open));
    assert_eq!(
        open,
        [1, 2],
        "policy 4's windows are apart: neither is open"
    );
    assert_eq!(facet(&counts, "open"), 2);
    assert_eq!(facet(&counts, "closing_soon"), 1);
    let (closing, _) = on("2026-06-10", Some(ApplicationWindow::ClosingSoon));
    assert_eq!(closing, [1]);
    let (_, all_counts) = on("2026-06-10", None);
    assert_eq!(facet(&all_counts, "open"), 2);
    assert_eq!(facet(&all_counts, "closing_soon"), 1);

    let (last_day, _) = on("2026-06-30", Some(ApplicationWindow::Open));
    assert_eq!(last_day, [1, 2]);
    let (next_day, counts) = on("2026-07-01", Some(ApplicationWindow::Open));
    assert_eq!(next_day, [2], "closed yesterday, gone today");
    assert_eq!(facet(&counts, "closing_soon"), 0);
    assert!(counts.iter().all(|c| c.value != "closing_soon"));
    let (september, _) = on("2026-09-15", Some(ApplicationWindow::ClosingSoon));
    assert_eq!(september, [4]);
}
