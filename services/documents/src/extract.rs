//! Suggestions from a policy's text: catalogue metadata, benefit amounts and condition leaves in
//! the project's condition language, each with the span it quotes, its clause and a confidence.
//! Rules and dictionaries only (vocabulary.rs, number.rs): no answers to any particular passage.
//! Pure: text in, suggestions out; nothing is applied until an administrator accepts it.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::number::{self, Comparison, Quantity, Unit};
use crate::span::Span;
use crate::structure::{self, Structure};
use crate::vocabulary;

/// A catalogue field suggested from the text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetadataSuggestion {
    /// title, doc_number, issuer, written_on, valid_from, valid_until, window_opens,
    /// window_closes, targets, audience.
    pub field: &'static str,
    pub value: Json,
    pub span: Option<Span>,
    pub clause: Option<String>,
    pub confidence: f32,
}

/// What an amount means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountKind {
    /// A sum (or a cap on one) per beneficiary.
    Fixed,
    /// A rate of a base (返还 60%, 减半).
    Rate,
    /// Per person hired or placed.
    PerHead,
    /// Per beneficiary per month or year.
    PerPeriod,
}

/// A benefit amount suggested from the text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmountSuggestion {
    pub kind: AmountKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<f64>,
    /// The unit as written (元, 万元); none for a rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'static str>,
    /// month, year or once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<&'static str>,
    pub span: Span,
    pub clause: Option<String>,
    pub confidence: f32,
}

/// A condition leaf suggested from the text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeafSuggestion {
    pub field: String,
    pub op: &'static str,
    pub value: Json,
    /// The sentence states the leaf negatively (不属于…, 无…记录, …除外): it goes under `not`.
    pub negated: bool,
    /// What the leaf tests, in the text's words (the subject of the comparison).
    pub label: String,
    pub span: Span,
    pub clause: Option<String>,
    pub confidence: f32,
    /// Leaves with the same group number are alternatives (之一, 或者): an `any`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any_group: Option<usize>,
}

/// Everything suggested for one document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestions {
    pub structure: Structure,
    pub metadata: Vec<MetadataSuggestion>,
    pub amounts: Vec<AmountSuggestion>,
    pub conditions: Vec<LeafSuggestion>,
    /// The suggested tree: `all` over the leaves, `any` over alternatives, `not` over negated
    /// leaves; `null` when no leaf was found.
    pub condition: Json,
}

/// Who a document is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Enterprise,
    Citizen,
    Both,
}

impl Audience {
    pub fn name(self) -> &'static str {
        match self {
            Audience::Enterprise => "enterprise",
            Audience::Citizen => "citizen",
            Audience::Both => "both",
        }
    }

    fn enterprise(self) -> bool {
        self != Audience::Citizen
    }

    fn citizen(self) -> bool {
        self != Audience::Enterprise
    }
}

const ENTERPRISE_WORDS: &[&str] = &[
    "企业",
    "单位",
    "公司",
    "纳税人",
    "市场主体",
    "个体工商户",
    "招用",
    "吸纳",
    "法人",
];
const CITIZEN_WORDS: &[&str] = &[
    "老年人",
    "残疾人",
    "毕业生",
    "居民",
    "户籍",
    "申请人",
    "本人",
    "学生",
    "周岁",
    "家庭",
    "人员",
    "个人",
    "老人",
    "儿童",
];
const HIRING_WORDS: &[&str] = &["招用", "吸纳", "招收", "录用", "聘用", "新招用"];

static PERSONAL_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*(?:[0-9一二三四五六七八九十]+[.、．]|[(（][0-9一二三四五六七八九十]+[)）])\s*(个人|自然人)\s*$")
        .expect("heading pattern")
});
static ENTERPRISE_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*(?:[0-9一二三四五六七八九十]+[.、．]|[(（][0-9一二三四五六七八九十]+[)）])\s*([\u{4e00}-\u{9fff}]{0,4}(?:企业|单位))\s*$")
        .expect("heading pattern")
});

/// The audience from the words the text uses; headings for both individuals and enterprises make
/// it both.
pub fn audience(text: &str) -> Audience {
    if PERSONAL_HEADING.is_match(text) && ENTERPRISE_HEADING.is_match(text) {
        return Audience::Both;
    }
    let count = |words: &[&str]| -> usize { words.iter().map(|w| text.matches(w).count()).sum() };
    let enterprise = count(ENTERPRISE_WORDS) + 3 * count(HIRING_WORDS);
    let citizen = count(CITIZEN_WORDS);
    if enterprise >= citizen {
        Audience::Enterprise
    } else {
        Audience::Citizen
    }
}

/// The publishing jurisdiction, for 本市 / 本地: the region an issuer's name or the 文号's first
/// character names.
fn jurisdiction(structure: &Structure) -> Option<&'static str> {
    structure
        .issuers
        .iter()
        .find_map(|issuer| vocabulary::region_of_name(&issuer.value))
        .or_else(|| {
            let number = &structure.doc_number.as_ref()?.value;
            vocabulary::region_of_name(number)
                .or_else(|| vocabulary::province_by_abbreviation(number.chars().next()?))
        })
}

/// Suggests metadata, amounts and conditions for `text`.
pub fn suggest(text: &str) -> Suggestions {
    let structure = structure::structure(text);
    let audience = audience(text);
    let metadata = metadata(text, &structure, audience);
    let amounts = amounts(text, &structure);
    let mut conditions = Vec::new();
    let claimed: Vec<(usize, usize)> = amounts.iter().map(|a| (a.span.start, a.span.end)).collect();
    let context = Context {
        text,
        structure: &structure,
        audience,
        jurisdiction: jurisdiction(&structure),
        claimed: &claimed,
    };
    thresholds(&context, &mut conditions);
    phrases(&context, &mut conditions);
    dedupe(&mut conditions);
    group_alternatives(text, &structure, &mut conditions);
    let condition = tree(&conditions);
    Suggestions {
        structure,
        metadata,
        amounts,
        conditions,
        condition,
    }
}

struct Context<'a> {
    text: &'a str,
    structure: &'a Structure,
    audience: Audience,
    jurisdiction: Option<&'static str>,
    /// Spans already read as amounts: their numbers are not conditions.
    claimed: &'a [(usize, usize)],
}

impl Context<'_> {
    fn clause(&self, at: usize) -> Option<String> {
        self.structure.clause_at(at).map(str::to_owned)
    }

    fn claimed(&self, start: usize, end: usize) -> bool {
        self.claimed.iter().any(|(s, e)| start < *e && *s < end)
    }

    #[allow(clippy::too_many_arguments)]
    fn leaf(
        &self,
        field: impl Into<String>,
        op: &'static str,
        value: Json,
        label: &str,
        start: usize,
        end: usize,
        confidence: f32,
    ) -> LeafSuggestion {
        LeafSuggestion {
            field: field.into(),
            op,
            value,
            negated: negated_at(self.text, start),
            label: label.to_owned(),
            span: Span::new(self.text, start, end),
            clause: self.clause(start),
            confidence,
            any_group: None,
        }
    }
}

static WINDOW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:申报|申请|受理)[^。；\n]{0,24}?(?P<y1>[12][0-9]{3})\s*年\s*(?P<m1>[0-9]{1,2})\s*月\s*(?P<d1>[0-9]{1,2})\s*日",
        r"[^。；\n0-9]{0,6}?(?:至|到|—|－|-)\s*(?:(?P<y2>[12][0-9]{3})\s*年\s*)?(?P<m2>[0-9]{1,2})\s*月\s*(?P<d2>[0-9]{1,2})\s*日"
    ))
    .expect("window pattern")
});
static TARGETS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:支持|补贴|适用|发放|申报|扶持|奖励|资助|服务)对象(?:为|是|[:：])?")
        .expect("targets pattern")
});

/// The application window (申报时间为2025年3月1日至3月31日; a second date without a year takes
/// the first one's) and who the benefit is for (补贴对象: the rest of its line, or the next line
/// under a heading), as catalogue suggestions for the benefit item.
fn window_and_targets(text: &str, structure: &Structure, out: &mut Vec<MetadataSuggestion>) {
    let clause = |at: usize| structure.clause_at(at).map(str::to_owned);
    if let Some(caps) = WINDOW.captures(text) {
        let number = |name: &str| caps.name(name).and_then(|m| m.as_str().parse::<u32>().ok());
        let year = |name: &str| caps.name(name).and_then(|m| m.as_str().parse::<i32>().ok());
        let opens = year("y1").zip(number("m1")).zip(number("d1"));
        let opens = opens.and_then(|((y, m), d)| chrono::NaiveDate::from_ymd_opt(y, m, d));
        let closes = year("y2")
            .or(year("y1"))
            .zip(number("m2"))
            .zip(number("d2"))
            .and_then(|((y, m), d)| chrono::NaiveDate::from_ymd_opt(y, m, d));
        if let (Some(opens), Some(closes)) = (opens, closes)
            && opens <= closes
        {
            let first = caps.name("y1").expect("matched");
            let last = caps.name("d2").expect("matched");
            for (field, date, start, end) in [
                (
                    "window_opens",
                    opens,
                    first.start(),
                    caps.name("d1").expect("matched").end(),
                ),
                (
                    "window_closes",
                    closes,
                    caps.name("m2").expect("matched").start(),
                    last.end(),
                ),
            ] {
                out.push(MetadataSuggestion {
                    field,
                    value: json!(date.to_string()),
                    span: Some(Span::new(text, start, end + "日".len())),
                    clause: clause(start),
                    confidence: 0.7,
                });
            }
        }
    }
    if let Some(m) = TARGETS.find(text) {
        let line_end = text[m.end()..]
            .find('\n')
            .map_or(text.len(), |i| m.end() + i);
        let (start, end) = if text[m.end()..line_end].trim().chars().count() >= 2 {
            (m.end(), line_end)
        } else {
            let next = (line_end + 1).min(text.len());
            let next_end = text[next..].find('\n').map_or(text.len(), |i| next + i);
            (next, next_end)
        };
        let targets = text[start..end].trim();
        if targets.chars().count() >= 2 {
            let start = start + text[start..end].find(targets).unwrap_or(0);
            out.push(MetadataSuggestion {
                field: "targets",
                value: json!(targets),
                span: Some(Span::new(text, start, start + targets.len())),
                clause: clause(start),
                confidence: 0.6,
            });
        }
    }
}

fn metadata(text: &str, structure: &Structure, audience: Audience) -> Vec<MetadataSuggestion> {
    let mut out = Vec::new();
    let clause = |span: &Span| structure.clause_at(span.start).map(str::to_owned);
    if let Some(title) = &structure.title {
        out.push(MetadataSuggestion {
            field: "title",
            value: json!(title.value),
            span: Some(title.span.clone()),
            clause: None,
            confidence: 0.6,
        });
    }
    if let Some(number) = &structure.doc_number {
        out.push(MetadataSuggestion {
            field: "doc_number",
            value: json!(number.value),
            span: Some(number.span.clone()),
            clause: clause(&number.span),
            confidence: 0.9,
        });
    }
    for issuer in &structure.issuers {
        out.push(MetadataSuggestion {
            field: "issuer",
            value: json!(issuer.value),
            span: Some(issuer.span.clone()),
            clause: None,
            confidence: 0.8,
        });
    }
    for (field, found) in [
        ("written_on", &structure.written_on),
        ("valid_from", &structure.valid_from),
        ("valid_until", &structure.valid_until),
    ] {
        if let Some(found) = found {
            out.push(MetadataSuggestion {
                field,
                value: json!(found.value.to_string()),
                span: Some(found.span.clone()),
                clause: clause(&found.span),
                confidence: 0.85,
            });
        }
    }
    window_and_targets(text, structure, &mut out);
    out.push(MetadataSuggestion {
        field: "audience",
        value: json!(audience.name()),
        span: None,
        clause: None,
        confidence: 0.7,
    });
    out
}

/// Up to `n` characters of `text` before `at`, not reaching back before `floor`.
fn chars_before(text: &str, at: usize, n: usize, floor: usize) -> &str {
    let from = text[floor..at]
        .char_indices()
        .rev()
        .take(n)
        .last()
        .map_or(at, |(i, _)| floor + i);
    &text[from..at]
}

/// The stretch of the sentence around `at` up to the nearest clause breaks.
fn segment(text: &str, at: usize) -> (usize, usize) {
    let breaks = ['，', ',', '。', '；', ';', '\n', '：', ':', '？', '！'];
    let start = text[..at].rfind(breaks).map_or(0, |i| {
        i + text[i..].chars().next().map_or(1, char::len_utf8)
    });
    let end = text[at..].find(breaks).map_or(text.len(), |i| at + i);
    (start, end)
}

fn sentence(text: &str, at: usize) -> (usize, usize) {
    let breaks = ['。', '；', ';', '\n', '？', '！'];
    let start = text[..at].rfind(breaks).map_or(0, |i| {
        i + text[i..].chars().next().map_or(1, char::len_utf8)
    });
    let end = text[at..].find(breaks).map_or(text.len(), |i| at + i);
    (start, end)
}

const NEGATING_WORDS: &[&str] = &[
    "不享受",
    "不得享受",
    "不予",
    "不属于",
    "除外",
    "不包括",
    "不适用",
    "不得",
    "不能享受",
    "不可以享受",
    "不可享受",
];

/// Whether the sentence around `at` excludes what stands at `at`: a negating word after it in the
/// sentence (…的残疾人不享受), or 除 … 外 around it, or 不适用 / 不属于 just before it.
fn negated_at(text: &str, at: usize) -> bool {
    let (start, end) = sentence(text, at);
    let after = &text[at..end];
    let before = &text[start..at];
    if NEGATING_WORDS.iter().any(|w| after.contains(w)) && !after.contains("但") {
        return true;
    }
    if before.contains('除') && after.contains('外') {
        return true;
    }
    ["不属于", "不适用", "非", "不含", "不包括"]
        .iter()
        .any(|w| before.ends_with(w))
        || before.contains("不适用") && before.contains("行业")
}

/// Subject words of the profile fields a threshold may test, by unit.
const NUMBER_FIELDS: &[(&[&str], Unit, &str)] = &[
    (
        &["营业收入", "销售收入", "营收", "年收入"],
        Unit::Money,
        "revenue",
    ),
    (&["资产总额", "总资产"], Unit::Money, "total_assets"),
    (&["应纳税所得额"], Unit::Money, "taxable_income"),
    (&["注册资本", "注册资金"], Unit::Money, "registered_capital"),
    (
        &[
            "从业人数",
            "从业人员",
            "职工人数",
            "职工总数",
            "员工人数",
            "员工总数",
            "在职职工",
            "用工人数",
        ],
        Unit::Persons,
        "employees",
    ),
];

/// Subject words of common facts outside the profile schema: the suggested `attr.` key (the
/// administrator may rename it; the label keeps the text's own words).
const ATTR_NAMES: &[(&str, &str)] = &[
    ("失业保险", "unemployment_insurance"),
    ("社会保险", "social_insurance"),
    ("社保", "social_insurance"),
    ("补缴", "back_pay"),
    ("裁员率", "layoff_rate"),
    ("研发费用", "rd_expense"),
    ("研发投入", "rd_expense"),
    ("股权融资", "equity_financing"),
    ("融资", "financing"),
    ("得分", "score"),
    ("评分", "score"),
    ("分值", "score"),
    ("经营", "operating"),
    ("劳动合同", "labor_contract"),
    ("纳税", "tax_paid"),
    ("税收", "tax_paid"),
    ("出口", "exports"),
    ("产值", "output_value"),
    ("投资", "investment"),
    ("参保", "insured"),
    ("缴纳", "contribution"),
    ("照护", "care"),
    ("护理", "care"),
    ("居住", "residence"),
    ("工作", "work"),
    ("从事", "activity"),
    ("市场", "market"),
    ("营业收入", "revenue_share"),
    ("收入", "income"),
    ("职工", "staff"),
    ("人数", "headcount"),
    ("面积", "floor_area"),
];

fn unit_word(unit: Unit) -> &'static str {
    match unit {
        Unit::Money => "amount",
        Unit::ForeignMoney => "foreign_amount",
        Unit::Persons => "persons",
        Unit::Age => "age",
        Unit::Months => "months",
        Unit::Years => "years",
        Unit::Days => "days",
        Unit::Ratio => "ratio",
        Unit::Points => "points",
        Unit::Households => "households",
        Unit::Items => "count",
        Unit::Times => "times",
    }
}

/// Subjects that are terms of the benefit, not facts of the applicant (贷款期限最长不超过3年).
const BENEFIT_TERMS: &[&str] = &[
    "期限",
    "贷款",
    "额度",
    "补贴",
    "补助",
    "奖励",
    "资助",
    "贴息",
    "标准",
    "每人",
    "每月",
    "每年",
    "每户",
    "次数",
    "周期",
    "时限",
    "办结",
    "工作日",
];

fn round(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

fn number_json(value: f64) -> Json {
    let value = round(value);
    if value.fract() == 0.0 && value.abs() < 1e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// Thresholds: a number with its unit and a comparison word, tested on the field its subject
/// names (从业人数 → employees, 营业收入 → revenue, 周岁 → age, 成立 … 年 → founded_on), else on
/// an `attr.` field named from the subject.
fn thresholds(cx: &Context<'_>, out: &mut Vec<LeafSuggestion>) {
    let text = cx.text;
    let in_ranges: Vec<(f64, usize, Quantity)> = number::ranges(text);
    for (low, start, high) in &in_ranges {
        if high.unit != Unit::Age || !cx.audience.citizen() || cx.claimed(*start, high.end) {
            continue;
        }
        let mut leaf = cx.leaf(
            "age",
            "between",
            json!([number_json(*low), number_json(high.value)]),
            "年龄",
            *start,
            high.end,
            0.85,
        );
        leaf.negated = false;
        out.push(leaf);
        gender(cx, *start, high.end, out);
    }
    for q in number::quantities(text) {
        if in_ranges
            .iter()
            .any(|(_, s, h)| *s <= q.start && q.end <= h.end)
        {
            continue;
        }
        let Some(compared) = number::comparison(text, &q) else {
            continue;
        };
        let start = compared.start.min(q.start);
        let end = compared.end.max(q.end);
        if cx.claimed(start, end) {
            continue;
        }
        let after = &text[end..];
        // 不超过100万元的部分 limits the amount, not who qualifies; 不足1年的省份 speaks of provinces.
        if after.starts_with("的部分")
            || after.starts_with("部分")
            || ["的省份", "的地区", "的城市", "的地方"]
                .iter()
                .any(|w| after.starts_with(w))
        {
            continue;
        }
        let (seg_start, seg_end) = segment(text, q.start);
        let before = &text[seg_start..start];
        let subject_after = &text[end..seg_end];
        if BENEFIT_TERMS
            .iter()
            .any(|w| chars_before(text, start, 10, seg_start).contains(w))
        {
            continue;
        }
        let quote_start = subject_start(text, seg_start, start);
        let label = text[quote_start..start].trim_matches(|c: char| !c.is_alphanumeric());
        let op = compared.op;
        let field = match q.unit {
            Unit::Age => {
                if !cx.audience.citizen() {
                    continue;
                }
                gender(cx, q.start, end, out);
                Some("age".to_owned())
            }
            Unit::Years | Unit::Months
                if ["成立", "设立", "创办", "注册成立"]
                    .iter()
                    .any(|w| before.contains(w))
                    && !before.contains("经营") =>
            {
                // Whole years or months since founding: 不满 / 以内 read as fewer than, 满 / 以上 as at
                // least; ≤ and > are less certain, hence the lower confidence.
                let at_least = matches!(op, Comparison::Ge | Comparison::Gt);
                let op_name = match (q.unit == Unit::Years, at_least) {
                    (true, true) => "years_since_ge",
                    (true, false) => "years_since_lt",
                    (false, true) => "months_since_ge",
                    (false, false) => "months_since_lt",
                };
                let confidence = if matches!(op, Comparison::Le | Comparison::Gt) {
                    0.5
                } else {
                    0.75
                };
                out.push(cx.leaf(
                    "founded_on",
                    op_name,
                    number_json(q.value),
                    "成立年限",
                    quote_start,
                    end,
                    confidence,
                ));
                continue;
            }
            _ => NUMBER_FIELDS
                .iter()
                .find(|(words, unit, field)| {
                    *unit == q.unit
                        && (words.iter().any(|w| before.contains(w)))
                        && (*field != "employees" || cx.audience.enterprise())
                        && !(*field == "taxable_income" && after.contains("部分"))
                })
                .map(|(_, _, field)| (*field).to_owned()),
        };
        let (field, confidence) = match field {
            Some(field) => (field, 0.85),
            None => {
                let context = format!("{before}{subject_after}");
                let name = ATTR_NAMES
                    .iter()
                    .find(|(word, _)| context.contains(word))
                    .map_or("threshold", |(_, name)| name);
                let key = format!("attr.{name}_{}", unit_word(q.unit));
                (key, 0.55)
            }
        };
        out.push(cx.leaf(
            field,
            op.name(),
            number_json(q.value),
            label,
            quote_start,
            end,
            confidence,
        ));
    }
}

static LEADING_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:第[一二三四五六七八九十百0-9]+条|[（(][一二三四五六七八九十0-9]+[)）]|[一二三四五六七八九十]+、|[0-9]{1,2}[.．、])\s*")
        .expect("leading marker pattern")
});

/// Where the quote of a threshold begins: the subject words just before the comparison, back to
/// the segment's start (after any clause marker, and after a 、 that ends the item before) but at
/// most 20 characters.
fn subject_start(text: &str, seg_start: usize, at: usize) -> usize {
    let seg_start = LEADING_MARKER
        .find(&text[seg_start..at])
        .map_or(seg_start, |m| seg_start + m.end());
    // 且 / 并且 join two conditions in one segment: the quote starts after it.
    let seg_start = ['、', '且']
        .iter()
        .filter_map(|c| {
            text[seg_start..at]
                .rfind(*c)
                .map(|i| seg_start + i + c.len_utf8())
        })
        .max()
        .unwrap_or(seg_start);
    let mut start = at;
    for (count, (index, _)) in text[seg_start..at].char_indices().rev().enumerate() {
        if count >= 20 {
            break;
        }
        start = seg_start + index;
    }
    start
}

/// 男 / 女 stated with an age in the same part of the segment (男60周岁以下; 男性年满60周岁、女性年满55周岁).
fn gender(cx: &Context<'_>, start: usize, end: usize, out: &mut Vec<LeafSuggestion>) {
    let (seg_start, _) = segment(cx.text, start);
    let part_start = cx.text[seg_start..start]
        .rfind('、')
        .map_or(seg_start, |i| seg_start + i + '、'.len_utf8());
    let before = &cx.text[part_start..start];
    let value = match (before.contains('男'), before.contains('女')) {
        (true, false) => "male",
        (false, true) => "female",
        _ => return,
    };
    let at = before
        .find(['男', '女'])
        .map_or(part_start, |i| part_start + i);
    out.push(cx.leaf("gender", "eq", json!(value), "性别", at, end, 0.8));
}

static HUKOU: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(本市|本地|本区|本县|本省|我市|我区|我县|我省|[\u{4e00}-\u{9fff}]{2,10}?)(?:城乡)?(?:户籍|户口|常住户口)")
        .expect("hukou pattern")
});
static ENTERPRISE_REGION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:注册地|注册地址|注册登记地|住所|税收户管地)(?:在|位于|为|属于)?([\u{4e00}-\u{9fff}]{2,12}?)(?:的|，|,|、|。|内|范围|行政区域|辖区)",
        r"|在([\u{4e00}-\u{9fff}]{2,12}?)(?:行政区域内|辖区内|范围内|内)?(?:依法)?(?:注册|登记)"
    ))
    .expect("region pattern")
});
static DISABILITY_GRADES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[一二三四1-4]级?(?:(?:、|和|或|至|到|-|—)[一二三四1-4]级?)*级")
        .expect("disability pattern")
});
static RESIDENCE_PERMIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"持有[\u{4e00}-\u{9fff}]{0,8}?居住证").expect("residence permit pattern")
});
/// …、…的残疾人不享受…: each listed benefit already received excludes.
static EXCLUDED_RECEIVERS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([^，,。；;\n]{2,80}?)的[\u{4e00}-\u{9fff}]{1,8}?(?:不享受|不得享受|不予|不能享受|不再享受)")
        .expect("excluded receivers pattern")
});
static EDUCATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(小学|初中|普通高中|高中|中专|中职|大专|专科|高职|大学本科|本科|学士|硕士研究生|硕士|研究生|博士研究生|博士)(及以上|以上)?(?:学历|学位)")
        .expect("education pattern")
});
/// Yes/no facts many policies ask for, in their usual wording: the suggested `attr.` key.
const FLAG_PHRASES: &[(&str, &str)] = &[
    ("签订劳动合同", "labor_contract_signed"),
    ("签订了劳动合同", "labor_contract_signed"),
    ("信誉良好", "good_credit"),
    ("信用良好", "good_credit"),
    ("信用记录良好", "good_credit"),
    ("具有独立法人资格", "independent_legal_person"),
    ("具备独立法人资格", "independent_legal_person"),
    ("依法缴纳社会保险", "social_insurance_paid"),
    ("依法纳税", "tax_compliant"),
    ("财务制度健全", "sound_accounts"),
    ("财务管理制度健全", "sound_accounts"),
];

static NO_RECORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:无|没有|未有)([\u{4e00}-\u{9fff}]{1,8}?)(?:记录|行为)").expect("record pattern")
});

fn region_code(cx: &Context<'_>, name: &str) -> Option<&'static str> {
    if name.starts_with('本') || name.starts_with('我') {
        return cx.jurisdiction;
    }
    let (code, len) = vocabulary::region_at(name)?;
    // The whole captured name must be the region (江西 of 具有江西, not 西 of 江西).
    (len == name.len()).then_some(code)
}

fn gb_digit(c: &str) -> Option<u8> {
    Some(match c {
        "一" | "1" => 1,
        "二" | "2" => 2,
        "三" | "3" => 3,
        "四" | "4" => 4,
        _ => return None,
    })
}

/// Leaves stated by phrases: regions, industries, certifications, size classes, household,
/// disability, employment, education, veteran, 无…记录.
fn phrases(cx: &Context<'_>, out: &mut Vec<LeafSuggestion>) {
    let text = cx.text;
    if cx.audience.citizen() {
        for caps in HUKOU.captures_iter(text) {
            let m = caps.get(1).expect("group");
            // The captured run may start with 具有/拥有/持有 or other words: try each suffix.
            let name = m.as_str();
            let found = name
                .char_indices()
                .find_map(|(i, _)| region_code(cx, &name[i..]).map(|code| (i, code)));
            if let Some((i, code)) = found {
                let whole = caps.get(0).expect("match");
                out.push(cx.leaf(
                    "hukou_region",
                    "within",
                    json!(code),
                    "户籍",
                    m.start() + i,
                    whole.end(),
                    0.85,
                ));
            }
        }
        for (phrase, flag) in vocabulary::HOUSEHOLD_PHRASES {
            for (at, _) in text.match_indices(phrase) {
                out.push(cx.leaf(
                    "household",
                    "has",
                    json!(flag),
                    phrase,
                    at,
                    at + phrase.len(),
                    0.8,
                ));
            }
        }
        for (at, _) in text.match_indices("残疾人证") {
            let (seg_start, _) = segment(text, at);
            let start = text[seg_start..at]
                .rfind("持有")
                .map_or(at, |i| seg_start + i);
            out.push(cx.leaf(
                "disability_level",
                "le",
                json!(4),
                "持有残疾人证",
                start,
                at + "残疾人证".len(),
                0.8,
            ));
        }
        for whole in DISABILITY_GRADES.find_iter(text) {
            let (s_start, s_end) = sentence(text, whole.start());
            if !text[s_start..s_end].contains("残疾") {
                continue;
            }
            // The most severe grade is 1: the list allows up to its highest number.
            let grade = whole
                .as_str()
                .chars()
                .filter_map(|c| gb_digit(c.encode_utf8(&mut [0; 4])))
                .max();
            if let Some(grade) = grade {
                out.push(cx.leaf(
                    "disability_level",
                    "le",
                    json!(grade),
                    "残疾等级",
                    whole.start(),
                    whole.end(),
                    0.8,
                ));
            }
        }
        for (phrase, status) in vocabulary::EMPLOYMENT_PHRASES {
            for (at, _) in text.match_indices(phrase) {
                // 全日制在校生 contains 在校生: the longer phrase is listed first and wins in dedupe by span.
                out.push(cx.leaf(
                    "employment_status",
                    "eq",
                    json!(status),
                    phrase,
                    at,
                    at + phrase.len(),
                    0.75,
                ));
            }
        }
        for caps in EDUCATION.captures_iter(text) {
            let whole = caps.get(0).expect("match");
            let name = &caps[1];
            let Some(index) = vocabulary::EDUCATION_LEVELS
                .iter()
                .position(|(names, _)| names.contains(&name))
            else {
                continue;
            };
            let leaf = if caps.get(2).is_some() {
                let levels: Vec<&str> = vocabulary::EDUCATION_LEVELS[index..]
                    .iter()
                    .map(|(_, code)| *code)
                    .collect();
                cx.leaf(
                    "education",
                    "in",
                    json!(levels),
                    "学历",
                    whole.start(),
                    whole.end(),
                    0.8,
                )
            } else {
                let code = vocabulary::EDUCATION_LEVELS[index].1;
                cx.leaf(
                    "education",
                    "eq",
                    json!(code),
                    "学历",
                    whole.start(),
                    whole.end(),
                    0.7,
                )
            };
            out.push(leaf);
        }
        for m in RESIDENCE_PERMIT.find_iter(text) {
            out.push(cx.leaf(
                "attr.residence_permit",
                "eq",
                json!(true),
                "持有居住证",
                m.start(),
                m.end(),
                0.6,
            ));
        }
        excluded_receivers(cx, out);
        for word in ["退役军人", "退役士兵", "复员军人", "转业军人"] {
            for (at, _) in text.match_indices(word) {
                let after = &text[at + word.len()..];
                if ["家庭", "事务", "服务"]
                    .iter()
                    .any(|w| after.starts_with(w))
                {
                    continue;
                }
                out.push(cx.leaf(
                    "veteran",
                    "eq",
                    json!(true),
                    word,
                    at,
                    at + word.len(),
                    0.75,
                ));
            }
        }
    }
    if cx.audience.enterprise() {
        for caps in ENTERPRISE_REGION.captures_iter(text) {
            let Some(m) = caps.get(1).or(caps.get(2)) else {
                continue;
            };
            if let Some(code) = region_code(cx, m.as_str()) {
                let whole = caps.get(0).expect("match");
                out.push(cx.leaf(
                    "region",
                    "within",
                    json!(code),
                    "注册地",
                    whole.start(),
                    whole.end(),
                    0.75,
                ));
            }
        }
        certifications(cx, out);
        sizes(cx, out);
    }
    if cx.audience == Audience::Both {
        for (heading, kind) in [
            (&*PERSONAL_HEADING, "citizen"),
            (&*ENTERPRISE_HEADING, "enterprise"),
        ] {
            for m in heading.find_iter(text) {
                let span = m.as_str().trim();
                let start = m.start() + m.as_str().find(span).unwrap_or(0);
                out.push(cx.leaf(
                    "kind",
                    "eq",
                    json!(kind),
                    span,
                    start,
                    start + span.len(),
                    0.7,
                ));
            }
        }
    }
    industries(cx, out);
    unit_kinds(cx, out);
    for (phrase, key) in FLAG_PHRASES {
        for (at, _) in text.match_indices(phrase) {
            // 签订1年以上劳动合同 is a threshold, read with its number.
            let (seg_start, _) = segment(text, at);
            let part = &text[seg_start..at];
            let part = part
                .rfind('、')
                .map_or(part, |i| &part[i + '、'.len_utf8()..]);
            if part.chars().any(|c| c.is_ascii_digit()) {
                continue;
            }
            let end = at + phrase.len();
            out.push(cx.leaf(
                format!("attr.{key}"),
                "eq",
                json!(true),
                phrase,
                at,
                end,
                0.6,
            ));
        }
    }
    for caps in NO_RECORD.captures_iter(text) {
        let whole = caps.get(0).expect("match");
        let what = &caps[1];
        let name = [
            ("犯罪", "criminal_record"),
            ("失信", "dishonesty_record"),
            ("违法", "violation_record"),
            ("违规", "violation_record"),
            ("欠税", "tax_arrears"),
            ("事故", "accident_record"),
        ]
        .iter()
        .find(|(w, _)| what.contains(w))
        .map_or("adverse_record", |(_, n)| n);
        let mut leaf = cx.leaf(
            format!("attr.{name}"),
            "eq",
            json!(true),
            what,
            whole.start(),
            whole.end(),
            0.6,
        );
        leaf.negated = true;
        out.push(leaf);
    }
}

/// Benefits already received that exclude (领取工伤保险生活护理费、纳入特困人员供养保障的残疾人不享受…):
/// one negated `attr.` flag per listed item that starts with a verb of receiving.
fn excluded_receivers(cx: &Context<'_>, out: &mut Vec<LeafSuggestion>) {
    const RECEIVING: &[&str] = &[
        "正在享受",
        "已享受",
        "享受",
        "领取",
        "已领取",
        "纳入",
        "已纳入",
        "获得",
        "已获得",
    ];
    const NAMES: &[(&str, &str)] = &[
        ("工伤", "work_injury_benefit"),
        ("特困", "destitute_support"),
        ("孤儿", "orphan_allowance"),
        ("低保", "subsistence_allowance"),
        ("最低生活保障", "subsistence_allowance"),
        ("失业保险金", "unemployment_benefit"),
        ("养老金", "pension"),
        ("养老保险", "pension"),
    ];
    for caps in EXCLUDED_RECEIVERS.captures_iter(cx.text) {
        let list = caps.get(1).expect("group");
        let mut offset = list.start();
        for item in list.as_str().split('、') {
            let start = offset;
            offset += item.len() + '、'.len_utf8();
            if !RECEIVING.iter().any(|w| item.starts_with(w)) {
                continue;
            }
            let name = NAMES
                .iter()
                .find(|(w, _)| item.contains(w))
                .map_or("excluded_benefit", |(_, n)| n);
            let mut leaf = cx.leaf(
                format!("attr.{name}"),
                "eq",
                json!(true),
                item,
                start,
                start + item.len(),
                0.55,
            );
            leaf.negated = true;
            out.push(leaf);
        }
    }
}

/// Characters that may stand right before a subject phrase such as 小微企业 (so that 科技型中小企业
/// or 支持小微企业 are not read as one).
fn subject_boundary_before(text: &str, at: usize) -> bool {
    match text[..at].chars().next_back() {
        None => true,
        Some(c) => {
            !('\u{4e00}'..='\u{9fff}').contains(&c) || "对为是的等和及与或向凡类".contains(c)
        }
    }
}

fn subject_boundary_after(text: &str, at: usize) -> bool {
    match text[at..].chars().next() {
        None => true,
        Some(c) => {
            !('\u{4e00}'..='\u{9fff}').contains(&c)
                || "的按可和及与享给在应须等或申如均".contains(c)
        }
    }
}

fn certifications(cx: &Context<'_>, out: &mut Vec<LeafSuggestion>) {
    let text = cx.text;
    let mut taken: Vec<(usize, usize)> = Vec::new();
    for (phrase, kind) in vocabulary::CERTIFICATIONS {
        for (at, _) in text.match_indices(phrase) {
            let end = at + phrase.len();
            if taken.iter().any(|(s, e)| at < *e && *s < end) {
                continue;
            }
            taken.push((at, end));
            let before = &text[segment(text, at).0..at];
            if ["申报", "申请", "培育", "争创", "创建", "认定工作", "评选"]
                .iter()
                .any(|w| before.contains(w))
            {
                continue;
            }
            let stated = [
                "获得",
                "取得",
                "认定为",
                "被认定",
                "经认定",
                "属于",
                "有效期内",
            ]
            .iter()
            .any(|w| before.contains(w));
            if !stated && !subject_boundary_before(text, at) {
                continue;
            }
            let confidence = if stated { 0.8 } else { 0.6 };
            out.push(cx.leaf(
                "certifications",
                "has",
                json!(kind),
                phrase,
                at,
                end,
                confidence,
            ));
        }
    }
}

fn sizes(cx: &Context<'_>, out: &mut Vec<LeafSuggestion>) {
    let text = cx.text;
    let title_end = cx.structure.title.as_ref().map_or(0, |t| t.span.end);
    let mut taken: Vec<(usize, usize)> = Vec::new();
    for (phrase, classes) in vocabulary::SIZE_PHRASES
        .iter()
        .map(|(p, c)| (*p, Some(*c)))
        .chain(std::iter::once(("小型微利企业", None)))
    {
        for (at, _) in text.match_indices(phrase) {
            let end = at + phrase.len();
            // 小型微利企业 is a term of its own: 对小型微利企业年应纳税所得额 still names it.
            if at < title_end
                || taken.iter().any(|(s, e)| at < *e && *s < end)
                || !subject_boundary_before(text, at)
                || classes.is_some() && !subject_boundary_after(text, end)
            {
                continue;
            }
            taken.push((at, end));
            let leaf = match classes {
                Some([one]) => cx.leaf("size_class", "eq", json!(one), phrase, at, end, 0.6),
                Some(many) => cx.leaf("size_class", "in", json!(many), phrase, at, end, 0.6),
                None => cx.leaf("small_low_profit", "eq", json!(true), phrase, at, end, 0.75),
            };
            out.push(leaf);
        }
    }
}

/// Industry names listed together (烟草制造业、住宿和餐饮业 …) are one leaf `within_any`;
/// negated when the list is introduced by 不适用 / 除 / 不属于 / 限制 / 禁止.
fn industries(cx: &Context<'_>, out: &mut Vec<LeafSuggestion>) {
    let text = cx.text;
    let found = vocabulary::industries_in(text);
    let mut groups: Vec<Vec<&(usize, usize, String)>> = Vec::new();
    for item in &found {
        let joined = groups.last().and_then(|g| g.last()).is_some_and(|last| {
            let gap = &text[last.1..item.0];
            gap.chars().count() <= 6
                && gap
                    .chars()
                    .all(|c| !('\u{4e00}'..='\u{9fff}').contains(&c) || "和及与或、等".contains(c))
        });
        if joined {
            groups.last_mut().expect("a group").push(item);
        } else {
            groups.push(vec![item]);
        }
    }
    for group in groups {
        let (start, end) = (group[0].0, group[group.len() - 1].1);
        let lead_start = text[..start]
            .char_indices()
            .rev()
            .nth(40)
            .map_or(0, |(i, _)| i);
        let lead = &text[lead_start..start];
        let negated = [
            "不适用",
            "不属于",
            "除",
            "限制类",
            "禁止类",
            "不得",
            "以外",
            "淘汰类",
        ]
        .iter()
        .any(|w| lead.contains(w))
            || negated_at(text, start);
        let mut codes: Vec<&str> = group.iter().map(|(_, _, code)| code.as_str()).collect();
        codes.dedup();
        let (op, value) = if codes.len() == 1 {
            ("within", json!(codes[0]))
        } else {
            ("within_any", json!(codes))
        };
        let mut leaf = cx.leaf("industry", op, value, "所属行业", start, end, 0.7);
        leaf.negated = negated;
        out.push(leaf);
    }
}

/// Kinds of unit named as subjects: a list of two or more (企业和社会组织; 社会团体、基金会…等六类
///市场主体参照实施, which adds them to the enterprises the text is about) or one introduced by 对
/// (对个体工商户). A lone 企业 elsewhere says nothing.
fn unit_kinds(cx: &Context<'_>, out: &mut Vec<LeafSuggestion>) {
    let text = cx.text;
    let mut found: Vec<(usize, usize, &str)> = Vec::new();
    for (word, code) in vocabulary::UNIT_KINDS {
        for (at, _) in text.match_indices(word) {
            let end = at + word.len();
            let inside = found.iter().any(|(s, e, _)| at < *e && *s < end);
            if !inside && (*word != "企业" || subject_boundary_before(text, at)) {
                found.push((at, end, code));
            }
        }
    }
    found.sort_by_key(|(start, _, _)| *start);
    let mut groups: Vec<Vec<(usize, usize, &str)>> = Vec::new();
    for item in found {
        // Joined by 、 和 及 与, or by a short qualifier of the next item (以单位形式参保的).
        let joined = groups.last().and_then(|g| g.last()).is_some_and(|last| {
            let gap = &text[last.1..item.0];
            let qualifier = gap.ends_with('的') && gap.chars().count() <= 12;
            gap.chars().count() <= 3 && gap.chars().all(|c| "、和及与以或".contains(c))
                || gap.starts_with('、') && qualifier
        });
        match groups.last_mut() {
            Some(group) if joined => group.push(item),
            _ => groups.push(vec![item]),
        }
    }
    for group in groups {
        let (start, end) = (group[0].0, group[group.len() - 1].1);
        let mut codes: Vec<&str> = Vec::new();
        for (_, _, code) in &group {
            if !codes.contains(code) {
                codes.push(code);
            }
        }
        let introduced = text[..start].ends_with('对');
        if codes.len() < 2 && !introduced {
            continue;
        }
        let (_, sentence_end) = sentence(text, end);
        let extends = [
            "参照实施",
            "参照执行",
            "参照本办法",
            "参照本通知",
            "参照本措施",
        ]
        .iter()
        .any(|w| text[end..sentence_end].contains(w));
        if extends && cx.audience.enterprise() && !codes.contains(&"enterprise") {
            codes.insert(0, "enterprise");
        }
        let leaf = match codes.as_slice() {
            [one] => cx.leaf(
                "attr.entity_type",
                "eq",
                json!(one),
                "单位类型",
                start,
                end,
                0.55,
            ),
            many => cx.leaf(
                "attr.entity_type",
                "in",
                json!(many),
                "单位类型",
                start,
                end,
                0.55,
            ),
        };
        out.push(leaf);
    }
}

/// Keeps the first (most confident) of leaves that say the same, and of leaves quoting the same
/// span for the same field.
fn dedupe(leaves: &mut Vec<LeafSuggestion>) {
    leaves.sort_by(|a, b| {
        a.span
            .start
            .cmp(&b.span.start)
            .then(b.span.end.cmp(&a.span.end))
    });
    let mut kept: Vec<LeafSuggestion> = Vec::with_capacity(leaves.len());
    for leaf in leaves.drain(..) {
        let same = kept.iter().any(|k| {
            k.field == leaf.field
                && k.op == leaf.op
                && k.value == leaf.value
                && k.negated == leaf.negated
                || k.field == leaf.field
                    && k.span.start <= leaf.span.start
                    && leaf.span.end <= k.span.end
        });
        if !same {
            kept.push(leaf);
        }
    }
    *leaves = kept;
}

static ALTERNATIVES_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:之一|任一|任意一|其中一项|其中之一)").expect("alternatives pattern")
});

/// Marks alternatives: the leaves of the items under a heading that asks for one of them
/// (符合下列条件之一), and leaves of one sentence joined by 或 / 或者.
fn group_alternatives(text: &str, structure: &Structure, leaves: &mut [LeafSuggestion]) {
    let mut group = 0;
    for (start, end) in structure::sentences(text) {
        let sentence = &text[start..end];
        if !ALTERNATIVES_HEADING.is_match(sentence) {
            continue;
        }
        // The items: the run of clauses right after the heading, down to where a clause of a
        // higher level than the first item's starts (or the last item's line ends).
        let Some(first) = structure.clauses.iter().position(|c| c.span.start >= end) else {
            continue;
        };
        let first_clause = &structure.clauses[first];
        if !text[end..first_clause.span.start].trim().is_empty() {
            continue;
        }
        let level = first_clause.level;
        let run_end = structure.clauses[first..]
            .iter()
            .find(|c| c.level < level)
            .map(|c| c.span.start);
        let items_end = run_end.unwrap_or_else(|| {
            let last = structure.clauses.last().map_or(end, |c| c.span.start);
            text[last..].find('\n').map_or(text.len(), |i| last + i)
        });
        group += 1;
        for leaf in leaves.iter_mut() {
            if leaf.span.start >= end && leaf.span.start < items_end && leaf.any_group.is_none() {
                leaf.any_group = Some(group);
            }
        }
    }
    for (start, end) in structure::sentences(text) {
        let sentence = &text[start..end];
        if !(sentence.contains("或者") || sentence.contains('或')) {
            continue;
        }
        let inside: Vec<usize> = (0..leaves.len())
            .filter(|&i| {
                leaves[i].span.start >= start
                    && leaves[i].span.end <= end
                    && leaves[i].any_group.is_none()
            })
            .collect();
        if inside.len() >= 2 {
            group += 1;
            for i in inside {
                leaves[i].any_group = Some(group);
            }
        }
    }
}

fn leaf_json(leaf: &LeafSuggestion) -> Json {
    let node = json!({"field": leaf.field, "op": leaf.op, "value": leaf.value});
    if leaf.negated {
        json!({"not": node})
    } else {
        node
    }
}

fn tree(leaves: &[LeafSuggestion]) -> Json {
    let mut nodes: Vec<Json> = Vec::new();
    let mut seen_groups: Vec<usize> = Vec::new();
    for leaf in leaves {
        match leaf.any_group {
            None => nodes.push(leaf_json(leaf)),
            Some(group) if !seen_groups.contains(&group) => {
                seen_groups.push(group);
                let members: Vec<Json> = leaves
                    .iter()
                    .filter(|l| l.any_group == Some(group))
                    .map(leaf_json)
                    .collect();
                nodes.push(if members.len() == 1 {
                    members.into_iter().next().expect("one member")
                } else {
                    json!({"any": members})
                });
            }
            Some(_) => {}
        }
    }
    match nodes.len() {
        0 => Json::Null,
        1 => nodes.pop().expect("one node"),
        _ => json!({"all": nodes}),
    }
}

static PER_PERIOD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"每(?:人|户|名)?每(月|年)|每(?:月|年)每(?:人|户)").expect("per period pattern")
});
static PER_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"每(?:新)?(?:招用|吸纳|安置|录用|聘用|招收|带动|帮扶)[0-9一]?(?:名|人)")
        .expect("per head pattern")
});
const BENEFIT_WORDS: &[&str] = &[
    "补贴", "补助", "奖励", "资助", "津贴", "返还", "发放", "给予", "贴息", "奖补", "额度", "贷款",
    "扶持", "支持", "标准",
];
/// Figures of the applicant, not of the benefit.
const APPLICANT_FIGURES: &[&str] = &[
    "收入",
    "资产",
    "所得额",
    "资本",
    "费用",
    "融资",
    "纳税额",
    "产值",
    "投资额",
    "营业额",
    "销售额",
];

/// Benefit amounts: money per person per period, per head hired, fixed sums and caps, and rates
/// of a base (按…的60%返还, 减半征收).
fn amounts(text: &str, structure: &Structure) -> Vec<AmountSuggestion> {
    let mut out = Vec::new();
    let clause = |at: usize| structure.clause_at(at).map(str::to_owned);
    for q in number::quantities(text) {
        let (seg_start, seg_end) = segment(text, q.start);
        let (s_start, s_end) = sentence(text, q.start);
        let before = &text[seg_start..q.start];
        let sentence_text = &text[s_start..s_end];
        let after = &text[q.end..seg_end];
        match q.unit {
            Unit::Money => {
                if after.starts_with("的部分") || after.starts_with("部分") {
                    continue;
                }
                if APPLICANT_FIGURES
                    .iter()
                    .any(|w| chars_before(text, q.start, 8, seg_start).contains(w))
                {
                    continue;
                }
                let capped = ["最高", "不超过", "最多", "上限", "封顶"]
                    .iter()
                    .any(|w| before.contains(w));
                let floor = before.contains("不低于") || before.contains("最低");
                let per_period = PER_PERIOD.captures(before);
                let per_head = PER_HEAD.find(before);
                let benefit = BENEFIT_WORDS.iter().any(|w| sentence_text.contains(w));
                if !benefit && per_period.is_none() && per_head.is_none() {
                    continue;
                }
                if !benefit && !capped && per_period.is_none() && per_head.is_none() {
                    continue;
                }
                let once = sentence_text.contains("一次性");
                let (kind, period, start) = if let Some(caps) = &per_period {
                    let period = if &caps[1] == "月" || caps[0].contains('月') {
                        "month"
                    } else {
                        "year"
                    };
                    (
                        AmountKind::PerPeriod,
                        Some(period),
                        seg_start + caps.get(0).expect("match").start(),
                    )
                } else if let Some(m) = per_head {
                    (
                        AmountKind::PerHead,
                        once.then_some("once"),
                        seg_start + m.start(),
                    )
                } else {
                    let start = [
                        "每人",
                        "最高",
                        "额度",
                        "总额",
                        "不超过",
                        "给予",
                        "奖励",
                        "补贴",
                        "补助",
                    ]
                    .iter()
                    .filter_map(|w| before.rfind(w).map(|i| seg_start + i))
                    .min()
                    .unwrap_or(q.start);
                    (AmountKind::Fixed, once.then_some("once"), start)
                };
                // A plain sum is an amount only with a benefit word in its own segment or a cap.
                if kind == AmountKind::Fixed
                    && !capped
                    && ![
                        "补贴", "补助", "奖励", "资助", "给予", "发放", "额度", "每人",
                    ]
                    .iter()
                    .any(|w| text[seg_start..seg_end].contains(w))
                {
                    continue;
                }
                let end = q.end;
                let (value, cap, floor) = if capped {
                    (None, Some(raw_money(&q)), None)
                } else if floor {
                    (None, None, Some(raw_money(&q)))
                } else {
                    (Some(raw_money(&q)), None, None)
                };
                out.push(AmountSuggestion {
                    kind,
                    value,
                    rate: None,
                    cap,
                    floor,
                    unit: Some(q.written_unit),
                    period,
                    span: Span::new(text, start, end),
                    clause: clause(start),
                    confidence: 0.7,
                });
            }
            Unit::Ratio => {
                // 按…的60%返还 / 按60%给予补贴: a rate of a base.
                let after_word = [
                    "返还", "补贴", "补助", "给予", "奖励", "资助", "退还", "发放",
                ]
                .iter()
                .any(|w| {
                    after.trim_start_matches(['的', ' ']).starts_with(w)
                        || after.starts_with(&format!("比例{w}"))
                });
                let with_an = before.contains('按') || before.contains("比例");
                if !(with_an && (after_word || sentence_text.contains("返还"))) {
                    continue;
                }
                if number::comparison(text, &q).is_some_and(|c| c.start < q.start)
                    && !before.contains('按')
                {
                    continue;
                }
                let start = before.rfind('按').map_or(q.start, |i| seg_start + i);
                let end = [
                    "返还", "补贴", "补助", "给予", "奖励", "资助", "退还", "发放",
                ]
                .iter()
                .filter_map(|w| after.find(w).map(|i| q.end + i + w.len()))
                .min()
                .unwrap_or(q.end);
                out.push(AmountSuggestion {
                    kind: AmountKind::Rate,
                    value: None,
                    rate: Some(round(q.value)),
                    cap: None,
                    floor: None,
                    unit: None,
                    period: None,
                    span: Span::new(text, start, end),
                    clause: clause(start),
                    confidence: 0.65,
                });
            }
            _ => {}
        }
    }
    for (at, _) in text.match_indices("减半") {
        let (_, seg_end) = segment(text, at);
        let end = text[at..seg_end]
            .find("征收")
            .map_or(at + "减半".len(), |i| {
                let tail = &text[at + i + "征收".len()..seg_end];
                at + i + "征收".len() + tail.find(['，', '。']).unwrap_or(tail.len())
            });
        out.push(AmountSuggestion {
            kind: AmountKind::Rate,
            value: None,
            rate: Some(0.5),
            cap: None,
            floor: None,
            unit: None,
            period: None,
            span: Span::new(
                text,
                at.saturating_sub(if text[..at].ends_with('再') { 3 } else { 0 }),
                end,
            ),
            clause: clause(at),
            confidence: 0.6,
        });
    }
    out.sort_by_key(|a| a.span.start);
    cap_rates(text, &mut out);
    out
}

/// 按投资额的30%给予补助，最高不超过500万元: the cap after a rate in the same sentence limits the
/// rate; it is not a benefit of its own.
fn cap_rates(text: &str, amounts: &mut Vec<AmountSuggestion>) {
    let mut index = 1;
    while index < amounts.len() {
        let (before, after) = amounts.split_at_mut(index);
        let (rate, cap) = (&mut before[index - 1], &after[0]);
        let same_sentence = sentence(text, rate.span.start) == sentence(text, cap.span.start);
        if rate.kind == AmountKind::Rate
            && rate.cap.is_none()
            && cap.kind == AmountKind::Fixed
            && cap.cap.is_some()
            && same_sentence
        {
            rate.cap = cap.cap;
            rate.unit = cap.unit;
            rate.span = Span::new(text, rate.span.start, cap.span.end);
            amounts.remove(index);
        } else {
            index += 1;
        }
    }
}

/// A sum as written: 1500元 stays 1500 (unit 元), 20万元 stays 20 (unit 万元).
fn raw_money(q: &Quantity) -> f64 {
    let factor = match q.written_unit {
        "元" => 0.0001,
        "千元" => 0.1,
        "亿元" => 10000.0,
        _ => 1.0,
    };
    round(q.value / factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(text: &str) -> Vec<(String, &'static str, Json, bool)> {
        suggest(text)
            .conditions
            .into_iter()
            .map(|l| (l.field, l.op, l.value, l.negated))
            .collect()
    }

    fn has(
        found: &[(String, &'static str, Json, bool)],
        field: &str,
        op: &str,
        value: Json,
    ) -> bool {
        found
            .iter()
            .any(|(f, o, v, n)| f == field && *o == op && *v == value && !n)
    }

    #[test]
    fn enterprise_thresholds_regions_and_certificates() {
        let text = "关于支持中小企业发展的若干措施\n第三条 申请企业应当同时符合下列条件：\n\
            （一）在海淀区依法注册登记；\n（二）从业人数不超过300人；\n（三）上年度营业收入2亿元以下；\n\
            （四）资产总额不低于5000万元；\n（五）获得高新技术企业认定；\n（六）成立满3年；\n\
            （七）具有独立法人资格，与职工签订劳动合同。";
        let found = leaves(text);
        assert!(
            has(&found, "region", "within", json!("110108")),
            "{found:?}"
        );
        assert!(has(&found, "employees", "le", json!(300)), "{found:?}");
        assert!(has(&found, "revenue", "le", json!(20000)), "{found:?}");
        assert!(has(&found, "total_assets", "ge", json!(5000)), "{found:?}");
        assert!(
            has(&found, "certifications", "has", json!("high_tech")),
            "{found:?}"
        );
        assert!(
            has(&found, "founded_on", "years_since_ge", json!(3)),
            "{found:?}"
        );
        assert!(
            has(&found, "attr.independent_legal_person", "eq", json!(true)),
            "{found:?}"
        );
        assert!(
            has(&found, "attr.labor_contract_signed", "eq", json!(true)),
            "{found:?}"
        );
        let suggestions = suggest(text);
        let employees = suggestions
            .conditions
            .iter()
            .find(|l| l.field == "employees")
            .unwrap();
        assert_eq!(employees.clause.as_deref(), Some("第三条（二）"));
        assert_eq!(employees.span.text, "从业人数不超过300人");
        assert_eq!(
            &text[employees.span.start..employees.span.end],
            "从业人数不超过300人"
        );
    }

    #[test]
    fn citizen_facts_and_exclusions() {
        let text = "一、补贴对象\n具有北京市户籍、年满18周岁、本科及以上学历的退役军人，或者纳入最低生活保障的\
            残疾人（持有残疾人证，残疾等级为一至二级）。无刑事犯罪记录。\n二、补贴标准\n每人每月500元。";
        let found = leaves(text);
        assert!(
            has(&found, "hukou_region", "within", json!("110000")),
            "{found:?}"
        );
        let excluded = leaves("年满16周岁（不含在校学生）的城乡居民");
        assert!(
            excluded
                .iter()
                .any(|(f, _, v, n)| f == "employment_status" && *v == json!("student") && *n),
            "{excluded:?}"
        );
        assert!(has(&found, "age", "ge", json!(18)), "{found:?}");
        assert!(
            has(
                &found,
                "education",
                "in",
                json!(["bachelor", "master", "doctorate"])
            ),
            "{found:?}"
        );
        assert!(has(&found, "veteran", "eq", json!(true)), "{found:?}");
        assert!(
            has(&found, "household", "has", json!("subsistence")),
            "{found:?}"
        );
        assert!(has(&found, "disability_level", "le", json!(2)), "{found:?}");
        assert!(
            found
                .iter()
                .any(|(f, _, _, negated)| f == "attr.criminal_record" && *negated)
        );
        let amounts = suggest(text).amounts;
        assert_eq!(amounts.len(), 1);
        assert_eq!(
            (amounts[0].kind, amounts[0].value, amounts[0].period),
            (AmountKind::PerPeriod, Some(500.0), Some("month"))
        );
    }

    #[test]
    fn a_rate_with_its_cap_composite_regions_and_genders_per_item() {
        let text = "注册地在北京市朝阳区的企业，按实际投资额的30%给予补助，最高不超过500万元。";
        let s = suggest(text);
        assert_eq!(s.amounts.len(), 1, "{:?}", s.amounts);
        let rate = &s.amounts[0];
        assert_eq!(
            (rate.kind, rate.rate, rate.cap, rate.unit),
            (AmountKind::Rate, Some(0.3), Some(500.0), Some("万元"))
        );
        let text2 = "对营业收入超过2000万元的企业，按照研发费用增量的10%给予补贴，单个企业每年最高不超过100万元。";
        let amounts = suggest(text2).amounts;
        assert_eq!(amounts.len(), 1, "{amounts:?}");
        assert_eq!((amounts[0].rate, amounts[0].cap), (Some(0.1), Some(100.0)));
        let found = leaves(text);
        assert!(
            has(&found, "region", "within", json!("110105")),
            "{found:?}"
        );
        let found = leaves("申请人应为男性年满60周岁、女性年满55周岁的老年人。");
        assert!(has(&found, "age", "ge", json!(60)), "{found:?}");
        assert!(has(&found, "gender", "eq", json!("male")), "{found:?}");
        assert!(has(&found, "gender", "eq", json!("female")), "{found:?}");
        assert!(has(&found, "age", "ge", json!(55)), "{found:?}");
    }

    #[test]
    fn kinds_of_unit_listed_or_introduced_by_dui() {
        let found = leaves("各类企业、农民专业合作社和个体工商户均可申请。对个体工商户给予补贴。");
        assert!(
            has(
                &found,
                "attr.entity_type",
                "in",
                json!(["enterprise", "cooperative", "individual_business"])
            ),
            "{found:?}"
        );
        assert!(
            has(
                &found,
                "attr.entity_type",
                "eq",
                json!("individual_business")
            ),
            "{found:?}"
        );
        // A lone 企业 says nothing about kinds of unit.
        assert!(
            leaves("符合条件的企业可申请。")
                .iter()
                .all(|(f, _, _, _)| f != "attr.entity_type")
        );
    }

    #[test]
    fn the_application_window_and_the_targets() {
        let text =
            "一、补贴对象\n本市户籍的失业人员。\n二、申报时间\n申报时间为2025年3月1日至3月31日。";
        let metadata = suggest(text).metadata;
        let field = |name: &str| {
            metadata
                .iter()
                .find(|m| m.field == name)
                .map(|m| (m.value.clone(), m.span.as_ref().map(|s| s.text.clone())))
        };
        assert_eq!(
            field("window_opens"),
            Some((json!("2025-03-01"), Some("2025年3月1日".to_owned())))
        );
        assert_eq!(
            field("window_closes"),
            Some((json!("2025-03-31"), Some("3月31日".to_owned())))
        );
        assert_eq!(
            field("targets"),
            Some((
                json!("本市户籍的失业人员。"),
                Some("本市户籍的失业人员。".to_owned())
            ))
        );
    }

    #[test]
    fn excluded_industries_are_negated() {
        let text = "除房地产业、金融业外，在本市注册的企业均可申请，给予最高50万元奖励。";
        let found = leaves(text);
        assert!(
            found.iter().any(|(f, o, v, n)| f == "industry"
                && *o == "within_any"
                && *v == json!(["K", "J"])
                && *n),
            "{found:?}"
        );
        let amounts = suggest(text).amounts;
        assert_eq!(
            (amounts[0].kind, amounts[0].cap, amounts[0].unit),
            (AmountKind::Fixed, Some(50.0), Some("万元"))
        );
    }

    #[test]
    fn the_suggested_tree_uses_any_for_alternatives_and_not_for_exclusions() {
        let text = "符合下列条件之一的企业：\n1.从业人数超过100人；\n2.营业收入超过5000万元。\n不属于房地产业。";
        let tree = suggest(text).condition;
        assert_eq!(
            tree,
            json!({"all": [
                {"any": [
                    {"field": "employees", "op": "gt", "value": 100},
                    {"field": "revenue", "op": "gt", "value": 5000}
                ]},
                {"not": {"field": "industry", "op": "within", "value": "K"}}
            ]})
        );
    }
}
