//! The 原文's structure: title, 文号, 发文机关, 成文日期, 施行 / 有效期 sentences, and the clause
//! markers (第X章, 第X条, 一、 (一) 1. (1)) so that any byte offset can be cited by its clause path
//! (二、(一)1.). Pure: text in, structure out.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use regex::Regex;
use serde::Serialize;

use crate::span::Span;

/// One clause marker and the text it opens, up to the next marker of the same or a higher level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clause {
    /// The marker as written (第三条, 一、, (一), 1., (1)).
    pub marker: String,
    /// The marker with its parents' markers, the citation of the clause (二、(一)1.).
    pub path: String,
    /// 0 章, 1 条, 2 一、, 3 (一), 4 1., 5 (1).
    pub level: u8,
    pub span: Span,
}

/// A value read from the text with the span that states it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found<T> {
    pub value: T,
    pub span: Span,
}

/// The structure of a document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Structure {
    pub title: Option<Found<String>>,
    /// The 文号 of the document whose rules the text states: its own (on a line of its own), or
    /// the first one it cites as 根据 / 依据.
    pub doc_number: Option<Found<String>>,
    pub issuers: Vec<Found<String>>,
    pub written_on: Option<Found<NaiveDate>>,
    pub valid_from: Option<Found<NaiveDate>>,
    pub valid_until: Option<Found<NaiveDate>>,
    /// Sentences about 施行 / 执行 / 有效期, whether or not a date was read from them.
    pub validity_sentences: Vec<Span>,
    pub clauses: Vec<Clause>,
}

impl Structure {
    /// The clause path citing byte offset `at`, if a clause marker precedes it.
    pub fn clause_at(&self, at: usize) -> Option<&str> {
        self.clauses
            .iter()
            .rev()
            .find(|clause| clause.span.start <= at && at < clause.span.end)
            .map(|clause| clause.path.as_str())
    }
}

static CLAUSE_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?m)^[ \t\u{3000}]*(?:",
        r"(?P<chapter>第[一二三四五六七八九十百零〇0-9]+章)",
        r"|(?P<article>第[一二三四五六七八九十百零〇0-9]+条)",
        r"|(?P<cn>[一二三四五六七八九十]+、)",
        r"|(?P<cnp>[(（][一二三四五六七八九十]+[)）])",
        r"|(?P<num>[0-9]{1,2}(?:[.．、](?:[^0-9]|$)))",
        r"|(?P<nump>[(（][0-9]{1,2}[)）]|[①②③④⑤⑥⑦⑧⑨⑩])",
        r")"
    ))
    .expect("clause marker pattern")
});

fn clauses(text: &str) -> Vec<Clause> {
    let mut markers: Vec<(usize, u8, String)> = Vec::new();
    for caps in CLAUSE_MARKER.captures_iter(text) {
        let (level, m) = [
            ("chapter", 0u8),
            ("article", 1),
            ("cn", 2),
            ("cnp", 3),
            ("num", 4),
            ("nump", 5),
        ]
        .into_iter()
        .find_map(|(name, level)| caps.name(name).map(|m| (level, m)))
        .expect("one alternative matched");
        let mut marker = m.as_str().to_owned();
        if level == 4 {
            // The pattern took one character after 1. to tell it from 1.5; keep the marker only.
            let keep = marker
                .char_indices()
                .find(|(_, c)| matches!(c, '.' | '．' | '、'))
                .map_or(marker.len(), |(i, c)| i + c.len_utf8());
            marker.truncate(keep);
        }
        markers.push((m.start(), level, marker));
    }
    let mut out: Vec<Clause> = Vec::with_capacity(markers.len());
    let mut stack: Vec<(u8, String)> = Vec::new();
    for (index, (start, level, marker)) in markers.iter().enumerate() {
        while stack.last().is_some_and(|(l, _)| l >= level) {
            stack.pop();
        }
        stack.push((*level, marker.clone()));
        let end = markers[index + 1..]
            .iter()
            .find(|(_, l, _)| l <= level)
            .map_or(text.len(), |(s, _, _)| *s);
        let path = stack
            .iter()
            .filter(|(l, _)| *l > 0 || stack.len() == 1)
            .map(|(_, m)| m.as_str())
            .collect::<String>();
        out.push(Clause {
            marker: marker.clone(),
            path,
            level: *level,
            span: Span::new(text, *start, end),
        });
    }
    out
}

static BRACKET_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"([\u{4e00}-\u{9fff}]{1,16})[〔\[【（(]([12][0-9]{3})[〕\]】）)]\s*(?:第)?([0-9]{1,5})号",
    )
    .expect("文号 pattern")
});
static NOTICE_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([\u{4e00}-\u{9fff}][\u{4e00}-\u{9fff} ]{0,30}?)公告\s*([12][0-9]{3})\s*年\s*第\s*([0-9]{1,4})\s*号")
        .expect("公告文号 pattern")
});
static CITING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:根据|依据|按照|依照|贯彻落实?)").expect("citing pattern"));

fn doc_number(text: &str) -> Option<Found<String>> {
    let mut candidates: Vec<(usize, usize)> = BRACKET_NUMBER
        .find_iter(text)
        .chain(NOTICE_NUMBER.find_iter(text))
        .map(|m| (m.start(), m.end()))
        .collect();
    candidates.sort_unstable();
    // Its own number stands on a line of its own (under the title).
    let own = candidates.iter().find(|(start, end)| {
        let line_start = text[..*start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[*end..].find('\n').map_or(text.len(), |i| end + i);
        text[line_start..*start].trim().is_empty() && text[*end..line_end].trim().is_empty()
    });
    let chosen = own.or_else(|| {
        candidates.iter().find(|(start, _)| {
            let sentence_start = text[..*start]
                .rfind(['。', '\n', '；'])
                .map_or(0, |i| i + 1);
            CITING.is_match(&text[sentence_start..*start])
        })
    })?;
    let (start, end) = *chosen;
    let value = text[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Some(Found {
        value,
        span: Span::new(text, start, end),
    })
}

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<y>[12][0-9]{3})\s*(?:年\s*(?P<m>[0-9]{1,2})\s*月\s*(?:(?P<d>[0-9]{1,2})\s*日|(?P<end>底|末))?",
        r"|[-/.](?P<m2>[0-9]{1,2})[-/.](?P<d2>[0-9]{1,2}))"
    ))
    .expect("date pattern")
});

/// A date found in the text; a month without a day (2025年12月, 12月底) is its last day when
/// `month_end`, else its first.
fn dates(text: &str, month_end: bool) -> Vec<(usize, usize, NaiveDate)> {
    DATE.captures_iter(text)
        .filter_map(|caps| {
            let whole = caps.get(0)?;
            let year: i32 = caps["y"].parse().ok()?;
            let month: u32 = caps.name("m").or(caps.name("m2"))?.as_str().parse().ok()?;
            let day = caps.name("d").or(caps.name("d2"));
            let date = match day {
                Some(day) => NaiveDate::from_ymd_opt(year, month, day.as_str().parse().ok()?)?,
                None if month_end || caps.name("end").is_some() => last_day(year, month)?,
                None => NaiveDate::from_ymd_opt(year, month, 1)?,
            };
            Some((whole.start(), whole.end(), date))
        })
        .collect()
}

fn last_day(year: i32, month: u32) -> Option<NaiveDate> {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    next.pred_opt().filter(|d| d.month() == month)
}

const VALIDITY_WORDS: &[&str] = &["施行", "执行", "实施", "有效期", "有效"];
const UNTIL_WORDS: &[&str] = &["至", "到", "截至", "截止", "止"];

/// Sentences (ended by 。；or a line break) with their byte spans.
pub fn sentences(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if matches!(c, '。' | '；' | ';' | '\n' | '！' | '？') {
            let end = i + c.len_utf8();
            if !text[start..i].trim().is_empty() {
                out.push((start, end));
            }
            start = end;
        }
    }
    if !text[start..].trim().is_empty() {
        out.push((start, text.len()));
    }
    out
}

type DateFound = Option<Found<NaiveDate>>;

fn validity(text: &str) -> (DateFound, DateFound, Vec<Span>) {
    let (mut from, mut until, mut spans) = (None, None, Vec::new());
    for (start, end) in sentences(text) {
        let sentence = &text[start..end];
        if !VALIDITY_WORDS.iter().any(|w| sentence.contains(w)) {
            continue;
        }
        spans.push(Span::new(text, start, end));
        let found = dates(sentence, true);
        let at = |s: usize, e: usize, d: NaiveDate| Found {
            value: d,
            span: Span::new(text, start + s, start + e),
        };
        match found.as_slice() {
            [(s1, e1, d1), (s2, e2, d2), ..]
                if UNTIL_WORDS.iter().any(|w| sentence[*e1..*s2].contains(w)) =>
            {
                from.get_or_insert(at(*s1, *e1, *d1));
                until.get_or_insert(at(*s2, *e2, *d2));
            }
            [(s, e, d)] | [(s, e, d), ..] => {
                let before = &sentence[..*s];
                let after = &sentence[*e..];
                if UNTIL_WORDS.iter().any(|w| before.ends_with(w)) {
                    until.get_or_insert(at(*s, *e, *d));
                } else if after.starts_with('起')
                    || VALIDITY_WORDS
                        .iter()
                        .any(|w| after.trim_start_matches('起').starts_with(w))
                {
                    from.get_or_insert(at(*s, *e, *d));
                }
            }
            [] => {}
        }
    }
    (from, until, spans)
}

/// Endings of the names of issuing organs.
const ORGAN_ENDINGS: &[&str] = &[
    "人民政府",
    "政府",
    "办公厅",
    "办公室",
    "委员会",
    "总局",
    "管理局",
    "局",
    "厅",
    "部",
    "委",
    "署",
    "银行",
    "中心",
    "院",
    "会",
    "总队",
    "支队",
];

/// Common short forms of organ names and their full forms.
const ORGAN_SHORT_FORMS: &[(&str, &str)] = &[
    ("人社局", "人力资源和社会保障局"),
    ("人社厅", "人力资源和社会保障厅"),
    ("人社部", "人力资源和社会保障部"),
    ("发改委", "发展和改革委员会"),
    ("工信局", "工业和信息化局"),
    ("工信厅", "工业和信息化厅"),
    ("工信部", "工业和信息化部"),
    ("经信局", "经济和信息化局"),
    ("经信委", "经济和信息化委员会"),
    ("市监局", "市场监督管理局"),
    ("住建局", "住房和城乡建设局"),
    ("住建厅", "住房和城乡建设厅"),
    ("科技厅", "科学技术厅"),
    ("科技局", "科学技术局"),
];

fn is_organ(name: &str) -> bool {
    let chars = name.chars().count();
    (2..=30).contains(&chars)
        && name.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
        && ORGAN_ENDINGS.iter().any(|e| name.ends_with(e))
}

/// The full official form of an organ's name: short forms expanded, 税务总局 as 国家税务总局, and a
/// bare city name given its 市 (三门峡人社局 → 三门峡市人力资源和社会保障局).
pub fn full_organ_name(name: &str) -> String {
    if name == "税务总局" {
        return "国家税务总局".to_owned();
    }
    for (short, full) in ORGAN_SHORT_FORMS {
        if let Some(place) = name.strip_suffix(short) {
            let place_chars = place.chars().count();
            let needs_city = (2..=4).contains(&place_chars)
                && !place.ends_with(['省', '市', '区', '县', '州', '盟', '旗'])
                && crate::vocabulary::province_by_short_name(place).is_none();
            let place = if needs_city {
                format!("{place}市")
            } else {
                match crate::vocabulary::province_by_short_name(place) {
                    Some(full_place) if !full.ends_with('部') => full_place.to_owned(),
                    _ => place.to_owned(),
                }
            };
            return format!("{place}{full}");
        }
    }
    name.to_owned()
}

static SOURCE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:文章来源|信息来源|来源|发布机构|发文机关|发文单位|发布单位)\s*[:：]\s*([\u{4e00}-\u{9fff}]{2,30})")
        .expect("source pattern")
});

fn issuers(text: &str, lines: &[(usize, &str)]) -> Vec<Found<String>> {
    let mut out: Vec<Found<String>> = Vec::new();
    let mut add = |name: &str, start: usize, text: &str| {
        if !is_organ(name) || name.starts_with(['区', '市', '县', '省']) {
            return;
        }
        let value = full_organ_name(name);
        if !out.iter().any(|f| f.value == value) {
            out.push(Found {
                value,
                span: Span::new(text, start, start + name.len()),
            });
        }
    };
    // The signature: organ names on the line just above a date line at the foot.
    let tail: Vec<&(usize, &str)> = lines.iter().rev().take(4).collect();
    for pair in tail.windows(2) {
        let (date_line, sign_line) = (pair[0], pair[1]);
        let is_date_line = dates(date_line.1, false)
            .first()
            .is_some_and(|(s, e, _)| *s == 0 && *e == date_line.1.len());
        if !is_date_line {
            continue;
        }
        let names: Vec<&str> = sign_line
            .1
            .split([' ', '\u{3000}', '、'])
            .filter(|n| !n.is_empty())
            .collect();
        if !names.is_empty() && names.iter().all(|n| is_organ(n)) {
            let mut offset = sign_line.0;
            for name in names {
                let at = text[offset..].find(name).map_or(offset, |i| offset + i);
                add(name, at, text);
                offset = at + name.len();
            }
        }
    }
    // The title: "A B关于…的通知".
    if let Some((line_start, line)) = lines.first()
        && let Some(about) = line.find("关于")
    {
        let mut offset = *line_start;
        for name in line[..about]
            .split([' ', '\u{3000}', '、'])
            .filter(|n| !n.is_empty())
        {
            let at = text[offset..].find(name).map_or(offset, |i| offset + i);
            add(name, at, text);
            offset = at + name.len();
        }
    }
    for caps in SOURCE_LINE.captures_iter(text) {
        let m = caps.get(1).expect("group 1");
        add(m.as_str(), m.start(), text);
    }
    out
}

static SIGNED_ON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"成文日期\s*[:：]\s*").expect("成文日期 pattern"));

fn written_on(text: &str, lines: &[(usize, &str)]) -> Option<Found<NaiveDate>> {
    if let Some(m) = SIGNED_ON.find(text)
        && let Some((s, e, d)) = dates(&text[m.end()..], false).first()
        && *s == 0
    {
        return Some(Found {
            value: *d,
            span: Span::new(text, m.end() + s, m.end() + e),
        });
    }
    // A line holding only a date among the last lines: the date under the signature.
    lines.iter().rev().take(3).find_map(|(start, line)| {
        let (s, e, d) = *dates(line, false).first()?;
        (s == 0 && e == line.len()).then(|| Found {
            value: d,
            span: Span::new(text, start + s, start + e),
        })
    })
}

/// Lines that describe the page rather than the document.
fn is_page_furniture(line: &str) -> bool {
    [
        "发布时间",
        "发布日期",
        "时间:",
        "时间：",
        "来源",
        "【",
        "字号",
        "浏览",
    ]
    .iter()
    .any(|w| line.starts_with(w))
}

/// Reads the structure of `text`.
pub fn structure(text: &str) -> Structure {
    let mut lines = Vec::new();
    let mut offset = 0;
    for line in text.split('\n') {
        if !line.trim().is_empty() {
            lines.push((offset, line));
        }
        offset += line.len() + 1;
    }
    let title = lines
        .iter()
        .find(|(_, line)| !is_page_furniture(line))
        .filter(|(_, line)| line.chars().count() <= 80 && !CLAUSE_MARKER.is_match(line))
        .map(|(start, line)| Found {
            value: line.trim().to_owned(),
            span: Span::new(text, *start, start + line.len()),
        });
    let (valid_from, valid_until, validity_sentences) = validity(text);
    Structure {
        title,
        doc_number: doc_number(text),
        issuers: issuers(text, &lines),
        written_on: written_on(text, &lines),
        valid_from,
        valid_until,
        validity_sentences,
        clauses: clauses(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn own_number_issuers_dates_and_validity() {
        let text = "财政部 税务总局关于实施小微企业所得税优惠政策的公告\n财政部 税务总局公告2021年第12号\n\
            一、对小型微利企业,在《通知》(财税〔2019〕13号)基础上减半征收。\n\
            二、本公告执行期限为2021年1月1日至2022年12月31日。\n特此公告。\n财政部 税务总局\n2021年4月2日";
        let s = structure(text);
        assert_eq!(
            s.doc_number.unwrap().value,
            "财政部 税务总局公告2021年第12号"
        );
        let issuers: Vec<_> = s.issuers.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(issuers, ["财政部", "国家税务总局"]);
        assert_eq!(s.written_on.unwrap().value, date("2021-04-02"));
        assert_eq!(s.valid_from.unwrap().value, date("2021-01-01"));
        assert_eq!(s.valid_until.unwrap().value, date("2022-12-31"));
        assert_eq!(
            s.title.unwrap().value,
            "财政部 税务总局关于实施小微企业所得税优惠政策的公告"
        );
    }

    #[test]
    fn cited_number_and_month_end() {
        let text = "根据《北京市人民政府办公厅关于印发的通知》(京政办发〔2025〕8号)规定,现通知如下。\n\
            本办法自2025年3月1日起施行,执行期限截至2027年2月底。\n文章来源:三门峡人社局";
        let s = structure(text);
        assert_eq!(s.doc_number.unwrap().value, "京政办发〔2025〕8号");
        assert_eq!(s.valid_from.unwrap().value, date("2025-03-01"));
        assert_eq!(s.valid_until.unwrap().value, date("2027-02-28"));
        assert_eq!(s.issuers[0].value, "三门峡市人力资源和社会保障局");
        assert!(s.written_on.is_none());
    }

    #[test]
    fn a_number_named_in_passing_is_not_the_documents() {
        let s = structure("在《通知》(财税〔2019〕13号)第二条规定的基础上,再减半征收。");
        assert!(s.doc_number.is_none());
    }

    #[test]
    fn clauses_are_cited_by_their_path() {
        let text = "第一章 总则\n第三条 支持对象\n一、企业\n(一)从业人数不超过300人\n1.资产总额\n(1)营业收入\n二、个人";
        let s = structure(text);
        let at = text.find("营业收入").unwrap();
        assert_eq!(s.clause_at(at), Some("第三条一、(一)1.(1)"));
        let at = text.find("个人").unwrap();
        assert_eq!(s.clause_at(at), Some("第三条二、"));
        let at = text.find("从业").unwrap();
        assert_eq!(s.clause_at(at), Some("第三条一、(一)"));
    }
}
