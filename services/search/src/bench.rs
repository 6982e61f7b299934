//! The search benchmark: synthetic but realistic Chinese policies composed from word lists by a
//! seeded generator (same corpus every run), indexed, then queried with typical searches,
//! reporting latency percentiles.

use std::fmt;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate};
use matcher::Applicability;
use profiles::AudienceClass;
use store::policy::{
    BenefitItem, DeliveryMode, Interpretation, Policy, PolicyContent, PolicyLevel, PolicyStatus,
    QaPair,
};

use crate::{PolicyIndex, SearchError, SearchQuery};

/// What one benchmark run measured.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub policies: usize,
    pub queries: usize,
    /// Generating, indexing and committing the corpus.
    pub index_time: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Average number of matching policies per query, to show the queries are not trivial.
    pub mean_total: f64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "indexed {} policies in {:.1} s; {} searches: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {:.0} matches on average",
            self.policies,
            self.index_time.as_secs_f64(),
            self.queries,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.max.as_secs_f64() * 1e3,
            self.mean_total,
        )
    }
}

/// The day the searches are made on; the synthetic policies have no windows, so any day measures
/// the same work.
const BENCH_DAY: chrono::NaiveDate = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();

/// Indexes `policies` synthetic policies and runs `queries` searches (text, text with filters,
/// and filter-only listings, as the API sees them), one at a time.
pub fn bench_search(policies: usize, queries: usize) -> Result<BenchReport, SearchError> {
    let index = PolicyIndex::new()?;
    let started = Instant::now();
    let mut rng = Rng(0x5eed_2026);
    index.rebuild(
        (0..policies).map(|i| synthetic_policy(&mut rng, i as i64 + 1)),
        0,
    )?;
    let index_time = started.elapsed();

    let mut latencies = Vec::with_capacity(queries);
    let mut total_matches = 0usize;
    for _ in 0..queries {
        let query = synthetic_query(&mut rng);
        let started = Instant::now();
        let results = index.search(&query, BENCH_DAY)?;
        latencies.push(started.elapsed());
        total_matches += results.total;
    }
    latencies.sort();
    let percentile = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(BenchReport {
        policies,
        queries,
        index_time,
        p50: percentile(50),
        p99: percentile(99),
        max: latencies.last().copied().unwrap_or_default(),
        mean_total: total_matches as f64 / queries.max(1) as f64,
    })
}

/// SplitMix64: tiny, fast and good enough to vary a corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const REGIONS: &[(&str, &str)] = &[
    ("110000", "北京市"),
    ("110105", "朝阳区"),
    ("110108", "海淀区"),
    ("110112", "通州区"),
    ("310000", "上海市"),
    ("310115", "浦东新区"),
    ("440300", "深圳市"),
    ("440305", "南山区"),
    ("330100", "杭州市"),
    ("220100", "长春市"),
    ("510100", "成都市"),
    ("420100", "武汉市"),
];
const DEPARTMENTS: &[&str] = &[
    "财政局",
    "科学技术局",
    "人力资源和社会保障局",
    "经济和信息化局",
    "商务局",
    "民政局",
    "税务局",
    "发展和改革委员会",
    "退役军人事务局",
    "住房和城乡建设委员会",
];
/// A subject, the topic it belongs to, and the audience it targets.
const SUBJECTS: &[(&str, &str, AudienceClass)] = &[
    ("高新技术企业", "rnd", AudienceClass::HighTech),
    ("科技型中小企业", "rnd", AudienceClass::Sme),
    ("专精特新中小企业", "rnd", AudienceClass::Sme),
    ("小微企业", "finance", AudienceClass::Sme),
    ("个体工商户", "tax", AudienceClass::Individual),
    ("民营企业", "finance", AudienceClass::Private),
    (
        "外商投资企业",
        "foreign_trade",
        AudienceClass::ForeignFunded,
    ),
    ("数字经济企业", "digital", AudienceClass::Sme),
    ("文化创意企业", "culture", AudienceClass::Private),
    ("农业经营主体", "agriculture", AudienceClass::Private),
    ("高校毕业生", "graduates", AudienceClass::Individual),
    ("退役军人", "veterans", AudienceClass::Individual),
    ("困难老年人", "elderly", AudienceClass::Individual),
    ("残疾人", "disability", AudienceClass::Individual),
    ("灵活就业人员", "employment", AudienceClass::Individual),
    ("国有企业", "green", AudienceClass::StateOwned),
];
const BENEFITS: &[&str] = &[
    "研发费用加计扣除",
    "稳岗返还",
    "贷款贴息",
    "融资担保费补贴",
    "社会保险补贴",
    "一次性创业补贴",
    "技术改造奖励",
    "租房补贴",
    "研发投入补助",
    "养老服务补贴",
    "创业担保贷款",
    "算力券",
    "首台套保险补偿",
    "人才安居补贴",
    "职业技能培训补贴",
    "节能减碳奖励",
];
const VERBS: &[&str] = &["支持", "促进", "鼓励", "扶持", "加快培育", "进一步做好"];
const TITLE_ENDINGS: &[&str] = &[
    "高质量发展若干措施",
    "发展实施办法",
    "工作的通知",
    "实施细则",
    "管理办法",
    "专项资金管理办法",
];
const CLAUSES: &[&str] = &[
    "申请人应当在本市依法登记注册，具有独立法人资格，近三年无严重失信行为",
    "补贴资金由市、区两级财政按比例分担，实行总额控制、先到先得",
    "符合条件的单位通过政务服务网在线申报，相关材料留存备查",
    "主管部门会同财政部门对申报材料进行审核，并在门户网站公示五个工作日",
    "对弄虚作假骗取资金的，依法追回并纳入信用记录",
    "同一项目已获得其他同类财政资金支持的，不得重复申报",
    "符合条件的企业可享受免申即享，系统自动比对数据后直接兑现",
    "年度支持金额最高不超过五百万元，按照实际发生额的百分之二十给予补助",
    "从业人数、营业收入和资产总额按照上一年度财务报表确定",
    "本办法由市财政局负责解释，自发布之日起施行，有效期三年",
];
const QUERIES: &[&str] = &[
    "研发费用加计扣除",
    "高新技术企业",
    "稳岗",
    "免申即享",
    "小微企业 贷款贴息",
    "高校毕业生社会保险补贴",
    "专精特新",
    "退役军人创业",
    "数字经济企业算力券",
    "融资担保",
    "养老服务补贴",
    "灵活就业人员社会保险补贴怎么申请",
    "技术改造",
    "租房补贴",
    "外商投资企业研发中心",
];
const STATUSES: &[PolicyStatus] = &[
    PolicyStatus::Published,
    PolicyStatus::Published,
    PolicyStatus::Published,
    PolicyStatus::Published,
    PolicyStatus::Expired,
    PolicyStatus::Draft,
];

fn synthetic_policy(rng: &mut Rng, id: i64) -> Policy {
    let (region_code, region_name) = *rng.pick(REGIONS);
    let (subject, topic, audience) = *rng.pick(SUBJECTS);
    let benefit = *rng.pick(BENEFITS);
    let second_benefit = *rng.pick(BENEFITS);
    let department = format!("{region_name}{}", rng.pick(DEPARTMENTS));
    let title = format!(
        "{region_name}{}{subject}{}",
        rng.pick(VERBS),
        rng.pick(TITLE_ENDINGS)
    );
    let amount = 5 + rng.below(200);
    let summary = format!(
        "对符合条件的{subject}给予{benefit}支持，单个主体每年最高{amount}万元；{}。",
        rng.pick(CLAUSES)
    );
    let key_points = vec![
        format!("支持对象为在{region_name}注册的{subject}。"),
        format!("可同时申请{benefit}和{second_benefit}，最高{amount}万元。"),
        format!("{}。", rng.pick(CLAUSES)),
    ];
    let mut full_text = format!("第一条　为{}{subject}发展，制定本办法。\n", rng.pick(VERBS));
    for article in ["二", "三", "四", "五", "六"] {
        full_text.push_str(&format!("第{article}条　{}。\n", rng.pick(CLAUSES)));
    }
    full_text.push_str(&format!("第七条　{subject}申请{benefit}的，按本办法执行。"));
    let published_on = NaiveDate::from_ymd_opt(2020, 1, 1)
        .and_then(|start| start.checked_add_days(chrono::Days::new(rng.below(2500) as u64)));
    let level = match region_code {
        code if code.ends_with("0000") => PolicyLevel::Provincial,
        code if code.ends_with("00") => PolicyLevel::Municipal,
        _ => PolicyLevel::District,
    };
    let now = DateTime::UNIX_EPOCH;
    Policy {
        id,
        version: 1,
        created_at: now,
        updated_at: now,
        content: PolicyContent {
            doc_number: format!("{region_name}政发〔{}〕{}号", 2020 + id % 6, id % 97 + 1),
            title,
            issuing_departments: vec![department],
            region_code: region_code.to_owned(),
            level,
            written_on: published_on,
            published_on,
            valid_from: published_on,
            valid_until: None,
            disclosure: Default::default(),
            status: *rng.pick(STATUSES),
            delivery_mode: if rng.chance(15) {
                DeliveryMode::NoApplication
            } else {
                DeliveryMode::Apply
            },
            summary,
            full_text,
            topics: vec![topic.to_owned()],
            interpretation: Interpretation { key_points },
            qa: vec![QaPair {
                question: format!("{subject}如何申请{benefit}？"),
                answer: format!("通过政务服务网在线提交申请，{}。", rng.pick(CLAUSES)),
            }],
            benefit_items: vec![BenefitItem {
                name: format!("{subject}{benefit}"),
                targets: format!("符合条件的{subject}"),
                conditions: rng.pick(CLAUSES).to_string(),
                materials: Vec::new(),
                channel: String::new(),
                process: String::new(),
                online_url: None,
                offline_address: None,
                time_limit: None,
                hotline: None,
                window_opens: None,
                window_closes: None,
                amount: None,
            }],
            related_policy_ids: Vec::new(),
            applicability: Applicability {
                audiences: vec![audience],
                ..Applicability::default()
            },
        },
    }
}

/// Most searches are text alone; some add a region or topic filter, and some are the
/// filter-only listing.
fn synthetic_query(rng: &mut Rng) -> SearchQuery {
    let mut query = SearchQuery {
        limit: 10,
        ..SearchQuery::default()
    };
    if !rng.chance(10) {
        query.q = rng.pick(QUERIES).to_string();
    }
    if rng.chance(30) {
        query.region = Some(rng.pick(REGIONS).0.to_owned());
    }
    if rng.chance(20) {
        query.topic = Some(rng.pick(SUBJECTS).1.to_owned());
    }
    if rng.chance(20) {
        query.status = Some(PolicyStatus::Published);
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic_and_varied() {
        let (mut a, mut b) = (Rng(7), Rng(7));
        let first: Vec<Policy> = (1..=20).map(|id| synthetic_policy(&mut a, id)).collect();
        let again: Vec<Policy> = (1..=20).map(|id| synthetic_policy(&mut b, id)).collect();
        assert_eq!(first, again);
        let titles: std::collections::BTreeSet<&str> =
            first.iter().map(|p| p.content.title.as_str()).collect();
        assert!(titles.len() > 15, "{titles:?}");
    }

    #[test]
    fn a_small_run_reports_ordered_figures() {
        let report = bench_search(500, 60).unwrap();
        assert_eq!((report.policies, report.queries), (500, 60));
        assert!(report.p50 <= report.p99 && report.p99 <= report.max);
        assert!(report.index_time > Duration::ZERO);
        assert!(report.mean_total >= 1.0, "{report}");
    }

    /// The figure the issue asks for; run with
    /// `cargo test -p search --release -- --ignored --nocapture full_size`.
    #[test]
    #[ignore = "takes a minute in release mode"]
    fn full_size_benchmark() {
        let report = bench_search(100_000, 2_000).unwrap();
        println!("{report}");
        assert!(report.p99 < Duration::from_millis(20), "{report}");
    }
}
