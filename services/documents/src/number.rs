//! Numbers with their units as policy text writes them (300万元, 三百人, 年满60周岁, 百分之五点五,
//! 5.5%, 12个月) and the legal comparison words around them (不超过 ≤, 超过 >, 以上 ≥, 不满 <, 满 ≥,
//! (含) / (不含)). Values are normalised to the labels' convention: money in 万元, ratios as
//! fractions, ages and periods in whole years or months, counts as counted.

use matcher::clause::chinese_digit;
use serde::Serialize;

/// What a number counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Money, normalised to 万元 (元 ÷ 10000, 亿元 × 10000).
    Money,
    /// Money in a foreign currency (万美元): kept as written.
    ForeignMoney,
    Persons,
    /// Age in years (周岁, 岁).
    Age,
    Months,
    Years,
    Days,
    /// A ratio, normalised to a fraction (5.5% → 0.055).
    Ratio,
    Points,
    Households,
    /// Units, items, enterprises (个, 项, 家).
    Items,
    Times,
}

/// A number found in the text with its unit: `start..end` are byte offsets of the number and
/// its unit (百分之 included).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity {
    pub value: f64,
    pub unit: Unit,
    pub start: usize,
    pub end: usize,
    /// The unit as written (元, 万元, 人 …).
    pub written_unit: &'static str,
}

/// A comparison stated by legal wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    pub fn name(self) -> &'static str {
        match self {
            Comparison::Lt => "lt",
            Comparison::Le => "le",
            Comparison::Gt => "gt",
            Comparison::Ge => "ge",
        }
    }

    fn inclusive(self) -> Self {
        match self {
            Comparison::Lt => Comparison::Le,
            Comparison::Gt => Comparison::Ge,
            same => same,
        }
    }

    fn exclusive(self) -> Self {
        match self {
            Comparison::Le => Comparison::Lt,
            Comparison::Ge => Comparison::Gt,
            same => same,
        }
    }
}

/// A comparison found around a quantity: the operator and the byte span of the wording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Compared {
    pub op: Comparison,
    pub start: usize,
    pub end: usize,
}

/// Words before a number, longest first so that 不超过 wins over 超过 and 年满 over 满.
const PREFIX_WORDS: &[(&str, Comparison)] = &[
    ("不超过", Comparison::Le),
    ("未超过", Comparison::Le),
    ("不高于", Comparison::Le),
    ("不多于", Comparison::Le),
    ("不大于", Comparison::Le),
    ("不低于", Comparison::Ge),
    ("不少于", Comparison::Ge),
    ("不小于", Comparison::Ge),
    ("最多", Comparison::Le),
    ("至多", Comparison::Le),
    ("最长", Comparison::Le),
    ("至少", Comparison::Ge),
    ("超过", Comparison::Gt),
    ("高于", Comparison::Gt),
    ("多于", Comparison::Gt),
    ("大于", Comparison::Gt),
    ("不满", Comparison::Lt),
    ("不足", Comparison::Lt),
    ("未满", Comparison::Lt),
    ("未达", Comparison::Lt),
    ("低于", Comparison::Lt),
    ("小于", Comparison::Lt),
    ("少于", Comparison::Lt),
    ("年满", Comparison::Ge),
    ("达到", Comparison::Ge),
    ("满", Comparison::Ge),
];

/// Words after a number (after any (含) / (不含)).
const SUFFIX_WORDS: &[(&str, Comparison)] = &[
    ("及以上", Comparison::Ge),
    ("及以下", Comparison::Le),
    ("以上", Comparison::Ge),
    ("以下", Comparison::Le),
    ("以内", Comparison::Le),
    ("之内", Comparison::Le),
];

const INCLUSIVE_MARKS: &[&str] = &["(含)", "（含）", "(含本数)", "（含本数）"];
const EXCLUSIVE_MARKS: &[&str] = &["(不含)", "（不含）", "(不含本数)", "（不含本数）"];

/// Characters that end the stretch a prefix word may govern (punctuation between clauses).
fn is_clause_break(c: char) -> bool {
    matches!(
        c,
        '，' | ',' | '。' | '；' | ';' | '：' | ':' | '\n' | '、' | '？' | '！'
    )
}

/// The comparison that governs the quantity at `q`: a prefix word right before it (or within a
/// short stretch without numbers or punctuation, as in 不高于上年度全国城镇调查失业率控制目标5.5%),
/// a suffix word after it, and (含) / (不含) on either side of the suffix.
pub fn comparison(text: &str, q: &Quantity) -> Option<Compared> {
    let mut after = q.end;
    let mut strictness: Option<bool> = None;
    let mark = |at: usize, strictness: &mut Option<bool>| -> usize {
        let rest = &text[at..];
        let rest = rest.trim_start_matches(' ');
        let skipped = text[at..].len() - rest.len();
        for m in INCLUSIVE_MARKS {
            if rest.starts_with(m) {
                *strictness = Some(false);
                return at + skipped + m.len();
            }
        }
        for m in EXCLUSIVE_MARKS {
            if rest.starts_with(m) {
                *strictness = Some(true);
                return at + skipped + m.len();
            }
        }
        at
    };
    after = mark(after, &mut strictness);
    let rest = text[after..].trim_start_matches(' ');
    let rest_at = text.len() - rest.len();
    let mut suffix = None;
    for (word, op) in SUFFIX_WORDS {
        if rest.starts_with(word) {
            suffix = Some((*op, rest_at + word.len()));
            break;
        }
    }
    let end = match suffix {
        Some((_, end)) => mark(end, &mut strictness),
        None => after,
    };
    let prefix = prefix_word(text, q.start);
    let (op, start) = match (prefix, suffix) {
        (Some((op, start)), _) => (op, start),
        (None, Some((op, _))) => (op, q.start),
        (None, None) => {
            let op = match strictness? {
                // 100万元(含) without another word: the number itself is the bound stated;
                // (含) alone reads as "up to and including".
                false => Comparison::Le,
                true => Comparison::Lt,
            };
            (op, q.start)
        }
    };
    let op = match strictness {
        Some(false) => op.inclusive(),
        Some(true) => op.exclusive(),
        None => op,
    };
    Some(Compared { op, start, end })
}

/// The prefix word before `at` and its start: directly before the number (after 在 / 为), or up
/// to 24 characters earlier when nothing in between is a digit or a clause break.
fn prefix_word(text: &str, at: usize) -> Option<(Comparison, usize)> {
    let before = &text[..at];
    let mut window_start = at;
    for (count, (index, c)) in before.char_indices().rev().enumerate() {
        if count >= 24 || is_clause_break(c) || c.is_ascii_digit() {
            break;
        }
        window_start = index;
    }
    let window = &text[window_start..at];
    // The nearest word wins; of words ending at the same place the longest (不超过 over 超过).
    let mut best: Option<(Comparison, usize, usize)> = None;
    for (word, op) in PREFIX_WORDS {
        if let Some(pos) = window.rfind(word) {
            let start = window_start + pos;
            let end = start + word.len();
            let better = best.is_none_or(|(_, best_start, best_end)| {
                end > best_end || end == best_end && start < best_start
            });
            if better {
                best = Some((*op, start, end));
            }
        }
    }
    let (op, start, _) = best?;
    // 满 as part of 满足 is not a comparison.
    if text[start..].starts_with("满足") {
        return None;
    }
    Some((op, start))
}

/// Every quantity in `text`, in order.
pub fn quantities(text: &str) -> Vec<Quantity> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        match quantity_at(text, at) {
            Some(q) => {
                at = q.end;
                found.push(q);
            }
            None => {
                at += text[at..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    found
}

/// A number at byte `at` (arabic, Chinese or 百分之…) followed by a known unit.
pub fn quantity_at(text: &str, at: usize) -> Option<Quantity> {
    let rest = &text[at..];
    if let Some(after) = rest.strip_prefix("百分之") {
        let (value, len) = number_prefix(after)?;
        return Some(Quantity {
            value: value / 100.0,
            unit: Unit::Ratio,
            start: at,
            end: at + "百分之".len() + len,
            written_unit: "%",
        });
    }
    // Only at the start of a number: not inside 12 of 312 or 三 of 十三.
    if let Some(prev) = text[..at].chars().next_back()
        && (prev.is_ascii_digit()
            || prev == '.'
            || chinese_digit(prev).is_some()
            || matches!(prev, '十' | '百' | '千'))
    {
        return None;
    }
    let (value, len) = number_prefix(rest)?;
    let after = &rest[len..];
    let trimmed = after.trim_start_matches(' ');
    let gap = after.len() - trimmed.len();
    let (unit, written, factor, unit_len) = unit_prefix(trimmed)?;
    // Dates are not quantities: 2021年4月, 2025年12月底, 2019年.
    if unit == Unit::Years {
        let tail = &trimmed[unit_len..];
        if (1900.0..=2200.0).contains(&value) || starts_with_month(tail) {
            return None;
        }
    }
    Some(Quantity {
        value: value * factor,
        unit,
        start: at,
        end: at + len + gap + unit_len,
        written_unit: written,
    })
}

fn starts_with_month(s: &str) -> bool {
    let digits = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || chinese_digit(*c).is_some() || *c == '十')
        .map(char::len_utf8)
        .sum::<usize>();
    digits > 0 && s[digits..].starts_with('月')
}

/// The unit at the start of `s`: kind, unit as written, factor to the normalised value, length.
fn unit_prefix(s: &str) -> Option<(Unit, &'static str, f64, usize)> {
    const UNITS: &[(&str, Unit, f64)] = &[
        ("万美元", Unit::ForeignMoney, 1.0),
        ("亿美元", Unit::ForeignMoney, 10000.0),
        ("万元", Unit::Money, 1.0),
        ("亿元", Unit::Money, 10000.0),
        ("千元", Unit::Money, 0.1),
        ("元", Unit::Money, 0.0001),
        ("万人", Unit::Persons, 10000.0),
        ("周岁", Unit::Age, 1.0),
        ("岁", Unit::Age, 1.0),
        ("个月", Unit::Months, 1.0),
        ("个工作日", Unit::Days, 1.0),
        ("个自然年", Unit::Years, 1.0),
        ("个年度", Unit::Years, 1.0),
        ("年度", Unit::Years, 1.0),
        ("年", Unit::Years, 1.0),
        ("天", Unit::Days, 1.0),
        ("日", Unit::Days, 1.0),
        ("％", Unit::Ratio, 0.01),
        ("%", Unit::Ratio, 0.01),
        ("人次", Unit::Persons, 1.0),
        ("人", Unit::Persons, 1.0),
        ("名", Unit::Persons, 1.0),
        ("分", Unit::Points, 1.0),
        ("户", Unit::Households, 1.0),
        ("个", Unit::Items, 1.0),
        ("项", Unit::Items, 1.0),
        ("家", Unit::Items, 1.0),
        ("倍", Unit::Times, 1.0),
        // A bare 万 after a sum (合伙经营总额不超过100万) is read as 万元.
        ("万", Unit::Money, 1.0),
    ];
    for (word, unit, factor) in UNITS {
        if s.starts_with(word) {
            // 日 after a number is a date unless it counts days (10个工作日 is matched above).
            if *word == "日" {
                return None;
            }
            return Some((*unit, word, *factor, word.len()));
        }
    }
    None
}

/// The number at the start of `s` and its byte length: arabic (1,000 / 5.5) or Chinese
/// (三百, 一千五百, 十二, 五点五).
pub fn number_prefix(s: &str) -> Option<(f64, usize)> {
    let first = s.chars().next()?;
    if first.is_ascii_digit() {
        let mut end = 0;
        let mut seen_dot = false;
        let bytes = s.as_bytes();
        while end < bytes.len() {
            let b = bytes[end];
            // A thousands comma is followed by exactly three digits (5,000 but not 3,45).
            let thousands = b == b','
                && bytes.len() >= end + 4
                && bytes[end + 1..end + 4].iter().all(u8::is_ascii_digit)
                && bytes.get(end + 4).is_none_or(|b| !b.is_ascii_digit());
            let decimal =
                b == b'.' && !seen_dot && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
            if !(b.is_ascii_digit() || thousands || decimal) {
                break;
            }
            seen_dot |= decimal;
            end += 1;
        }
        let value: f64 = s[..end].replace(',', "").parse().ok()?;
        return Some((value, end));
    }
    chinese_number(s)
}

fn chinese_number(s: &str) -> Option<(f64, usize)> {
    let mut total = 0u64;
    let mut section = 0u64;
    let mut digit: Option<u64> = None;
    let mut len = 0;
    let mut chars = s.char_indices().peekable();
    let mut fraction = None;
    while let Some(&(index, c)) = chars.peek() {
        if let Some(d) = chinese_digit(c) {
            digit = Some(digit.unwrap_or(0) * 10 + u64::from(d));
        } else {
            let scale = match c {
                '十' => 10,
                '百' => 100,
                '千' => 1000,
                '点' if digit.is_some() || section > 0 || total > 0 => {
                    let rest = &s[index + c.len_utf8()..];
                    let mut frac = String::from("0.");
                    let mut frac_len = 0;
                    for fc in rest.chars() {
                        match chinese_digit(fc) {
                            Some(d) => {
                                frac.push(char::from_digit(d, 10).unwrap_or('0'));
                                frac_len += fc.len_utf8();
                            }
                            None => break,
                        }
                    }
                    if frac_len == 0 {
                        break;
                    }
                    fraction = frac.parse::<f64>().ok();
                    section += digit.take().unwrap_or(0);
                    len = index + c.len_utf8() + frac_len;
                    break;
                }
                _ => break,
            };
            // 十二 starts with an implied 一.
            section += digit.take().unwrap_or(1) * scale;
        }
        len = index + c.len_utf8();
        chars.next();
    }
    if len == 0 {
        return None;
    }
    if fraction.is_none() {
        section += digit.unwrap_or(0);
    }
    total += section;
    Some((total as f64 + fraction.unwrap_or(0.0), len))
}

/// Ranges such as 80至89周岁, 16—24岁, 80岁至89岁: the lower bound, its byte offset and the upper
/// bound as a quantity, whose unit applies to both.
pub fn ranges(text: &str) -> Vec<(f64, usize, Quantity)> {
    const JOINERS: &[&str] = &["至", "到", "—", "–", "-", "－", "~", "～", "——"];
    let mut found = Vec::new();
    for (at, c) in text.char_indices() {
        if !(c.is_ascii_digit() || chinese_digit(c).is_some()) {
            continue;
        }
        if let Some(prev) = text[..at].chars().next_back()
            && (prev.is_ascii_digit()
                || prev == '.'
                || chinese_digit(prev).is_some()
                || prev == '十')
        {
            continue;
        }
        let Some((low, len)) = number_prefix(&text[at..]) else {
            continue;
        };
        // 80岁至89岁 writes the unit twice; 80至89岁 once.
        let mut rest_at = at + len;
        if let Some((_, _, _, unit_len)) = unit_prefix(&text[rest_at..]) {
            rest_at += unit_len;
        }
        let rest = &text[rest_at..];
        for joiner in JOINERS {
            if rest.starts_with(joiner) {
                if let Some(high) = quantity_at(text, rest_at + joiner.len())
                    && high.value >= low
                {
                    found.push((low, at, high));
                }
                break;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(text: &str) -> Quantity {
        quantities(text)[0]
    }

    fn op(text: &str) -> Option<Comparison> {
        let q = first(text);
        comparison(text, &q).map(|c| c.op)
    }

    #[test]
    fn money_is_normalised_to_wan_yuan() {
        assert_eq!(first("不超过300万元").value, 300.0);
        assert_eq!(first("2亿元").value, 20000.0);
        assert_eq!(first("3000元").value, 0.3);
        assert_eq!(first("5,000元").value, 0.5);
        assert_eq!(first("合伙经营总额不超过100万").value, 100.0);
        assert_eq!(first("6000 万元以上").value, 6000.0);
        assert_eq!(first("50万美元").unit, Unit::ForeignMoney);
        assert_eq!(first("300万元").unit, Unit::Money);
    }

    #[test]
    fn chinese_numerals_are_read() {
        assert_eq!(first("三百人").value, 300.0);
        assert_eq!(first("三百人").unit, Unit::Persons);
        assert_eq!(first("经营三个月以上").value, 3.0);
        assert_eq!(first("十二个月").value, 12.0);
        assert_eq!(first("二十五周岁").value, 25.0);
        assert_eq!(first("一千五百元").value, 0.15);
        assert_eq!(first("两年").value, 2.0);
        assert_eq!(first("百分之五十").value, 0.5);
        assert_eq!(first("百分之五点五").value, 0.055);
    }

    #[test]
    fn units_are_told_apart() {
        assert_eq!(first("年满60周岁").unit, Unit::Age);
        assert_eq!(first("18岁").unit, Unit::Age);
        assert_eq!(first("12个月").unit, Unit::Months);
        assert_eq!(first("3年").unit, Unit::Years);
        assert_eq!(first("5.5%").unit, Unit::Ratio);
        assert_eq!(first("5.5%").value, 0.055);
        assert_eq!(first("60分").unit, Unit::Points);
        assert_eq!(first("20人").unit, Unit::Persons);
    }

    #[test]
    fn dates_are_not_quantities() {
        assert!(quantities("2021年1月1日至2022年12月31日").is_empty());
        assert!(quantities("执行期限截至2025年12月底").is_empty());
        assert!(quantities("上年度12月31日").is_empty());
    }

    #[test]
    fn each_legal_comparison_word() {
        assert_eq!(op("不超过300人"), Some(Comparison::Le));
        assert_eq!(op("300人以下"), Some(Comparison::Le));
        assert_eq!(op("超过300人"), Some(Comparison::Gt));
        assert_eq!(op("300人以上"), Some(Comparison::Ge));
        assert_eq!(op("不满3年"), Some(Comparison::Lt));
        assert_eq!(op("低于60分"), Some(Comparison::Lt));
        assert_eq!(op("满7年"), Some(Comparison::Ge));
        assert_eq!(op("年满60周岁"), Some(Comparison::Ge));
        assert_eq!(op("不低于100万元"), Some(Comparison::Ge));
        assert_eq!(op("不少于10人"), Some(Comparison::Ge));
        assert_eq!(op("不足1年"), Some(Comparison::Lt));
        assert_eq!(op("小于100万元"), Some(Comparison::Lt));
        assert_eq!(op("3年以内"), Some(Comparison::Le));
        assert_eq!(op("7年及以上"), Some(Comparison::Ge));
        assert_eq!(op("达到2000万元以上"), Some(Comparison::Ge));
        assert_eq!(
            op("不高于上年度全国城镇调查失业率控制目标5.5%"),
            Some(Comparison::Le)
        );
        assert_eq!(op("300万元"), None);
    }

    #[test]
    fn inclusion_marks_override_the_word() {
        assert_eq!(op("男60周岁(不含)以下"), Some(Comparison::Lt));
        assert_eq!(op("50%(不含)以上"), Some(Comparison::Gt));
        assert_eq!(op("30人(含)以下"), Some(Comparison::Le));
        assert_eq!(op("小于100万元(含)"), Some(Comparison::Le));
        assert_eq!(op("100万元以上(不含)"), Some(Comparison::Gt));
        assert_eq!(op("60周岁（不含）以上"), Some(Comparison::Gt));
    }

    #[test]
    fn the_comparison_span_covers_the_wording() {
        let text = "年龄不超过35周岁的青年";
        let q = first(text);
        let c = comparison(text, &q).unwrap();
        assert_eq!(&text[c.start..c.end.max(q.end)], "不超过35周岁");
        let text = "男60周岁(不含)以下";
        let q = first(text);
        let c = comparison(text, &q).unwrap();
        assert_eq!(&text[q.start..c.end], "60周岁(不含)以下");
    }

    #[test]
    fn ranges_take_the_unit_of_their_upper_bound() {
        let found = ranges("80至89周岁老年人,16—24岁登记失业青年");
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].0, found[0].2.value, found[0].2.unit),
            (80.0, 89.0, Unit::Age)
        );
        assert_eq!((found[1].0, found[1].2.value), (16.0, 24.0));
    }
}
