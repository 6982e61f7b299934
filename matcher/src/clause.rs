//! Clauses as links into a policy's text: the anchor of the article a clause cites ("第三条第二款"
//! → `art-3`, "二、" → `sec-2`), the 原文 cut into its articles with those anchors, and a reason's
//! text split around the clause it cites, so pages and e-mails can make the clause a link to
//! `/policies/{id}#art-3`. Anchors are ASCII so that an e-mail link survives every mail client.

use serde::Serialize;

/// The value of a Chinese (or Arabic) numeral: 一 → 1, 十二 → 12, 二十 → 20, 一百零五 → 105.
fn numeral(text: &str) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    if text.chars().all(|c| c.is_ascii_digit()) {
        return text.parse().ok();
    }
    let (mut total, mut digit) = (0u32, 0u32);
    for c in text.chars() {
        if let Some(value) = chinese_digit(c) {
            digit = value;
            continue;
        }
        match c {
            '十' | '百' => {
                let unit = if c == '十' { 10 } else { 100 };
                // "十二" has no digit before the unit: one ten.
                total += digit.max(1) * unit;
                digit = 0;
            }
            _ => return None,
        }
    }
    Some(total + digit)
}

/// The value of one Chinese digit (零 〇 一 二 两 … 九); units such as 十 are not digits.
pub fn chinese_digit(c: char) -> Option<u32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn is_numeral(c: char) -> bool {
    c.is_ascii_digit() || "零〇一二两三四五六七八九十百".contains(c)
}

/// The numeral that `text` starts with and what follows it.
fn leading_numeral(text: &str) -> Option<(u32, &str)> {
    let end = text
        .char_indices()
        .find(|&(_, c)| !is_numeral(c))
        .map_or(text.len(), |(at, _)| at);
    Some((numeral(&text[..end])?, &text[end..]))
}

/// The anchor of the article a clause cites: `第N条…` → `art-N`, a numbered section `N、` or
/// `N` → `sec-N`; `None` for what the text has no anchor for (a chapter, an annex).
pub fn clause_anchor(clause: &str) -> Option<String> {
    let clause = clause.trim();
    if let Some(rest) = clause.strip_prefix('第') {
        let (number, rest) = leading_numeral(rest)?;
        return rest.starts_with('条').then(|| format!("art-{number}"));
    }
    let (number, rest) = leading_numeral(clause)?;
    (rest.is_empty() || rest.starts_with('、')).then(|| format!("sec-{number}"))
}

/// One article of a policy's text: the text from its heading to the next one, with the anchor
/// of its heading (`None` for a preamble).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Article {
    pub anchor: Option<String>,
    pub text: String,
}

/// The anchor of an article heading starting at `rest`, which begins a line or follows a space
/// or a full stop: "第二条　…" (the heading ends at a space) or, at the start of a line, "二、…".
fn heading_at(rest: &str, line_start: bool) -> Option<String> {
    if let Some(after) = rest.strip_prefix('第') {
        let (number, after) = leading_numeral(after)?;
        let after = after.strip_prefix('条')?;
        // "依照第二条规定" cites an article; a heading is followed by a space or a line end.
        let ends = after.is_empty() || after.starts_with(char::is_whitespace);
        return ends.then(|| format!("art-{number}"));
    }
    if !line_start {
        return None;
    }
    let (number, after) = leading_numeral(rest)?;
    after.starts_with('、').then(|| format!("sec-{number}"))
}

/// The text cut before every article heading; the articles put together are the text again.
/// An anchor is given once, to its first heading, so that ids stay unique on the page.
pub fn articles(text: &str) -> Vec<Article> {
    let mut cuts: Vec<(usize, String)> = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let line_start = previous.is_none_or(|p| p == '\n');
        // Texts pasted without line breaks run "…制定本办法。第二条 …" on.
        let after_break = previous.is_some_and(|p| p.is_whitespace() || p == '。' || p == '；');
        if (line_start || after_break)
            && !c.is_whitespace()
            && let Some(anchor) = heading_at(&text[at..], line_start)
            && !cuts.iter().any(|(_, seen)| *seen == anchor)
        {
            cuts.push((at, anchor));
        }
        previous = Some(c);
    }
    let mut articles = Vec::with_capacity(cuts.len() + 1);
    let first = cuts.first().map_or(text.len(), |(at, _)| *at);
    if first > 0 {
        articles.push(Article {
            anchor: None,
            text: text[..first].to_owned(),
        });
    }
    for (n, (at, anchor)) in cuts.iter().enumerate() {
        let end = cuts.get(n + 1).map_or(text.len(), |(next, _)| *next);
        articles.push(Article {
            anchor: Some(anchor.clone()),
            text: text[*at..end].to_owned(),
        });
    }
    articles
}

/// A reason's text split around the clause it cites ("…属于 北京市（" · "第二条" · "）"), with the
/// anchor the clause links to; a text that cites nothing is all `before`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cited {
    pub before: String,
    pub clause: Option<String>,
    pub anchor: Option<String>,
    pub after: String,
}

impl Cited {
    /// Splits `text` at `clause` as reasons cite it: "（第二条）" in Chinese, "(clause 第二条)" in
    /// English.
    pub fn new(text: &str, clause: Option<&str>) -> Self {
        let found = clause.filter(|c| !c.is_empty()).and_then(|clause| {
            [format!("（{clause}）"), format!("(clause {clause})")]
                .iter()
                .find_map(|cited| {
                    let at = text.rfind(cited.as_str())?;
                    let start = at + cited.find(clause)?;
                    Some((clause, start))
                })
        });
        match found {
            Some((clause, start)) => Cited {
                before: text[..start].to_owned(),
                clause: Some(clause.to_owned()),
                anchor: clause_anchor(clause),
                after: text[start + clause.len()..].to_owned(),
            },
            None => Cited {
                before: text.to_owned(),
                clause: None,
                anchor: None,
                after: String::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerals_read_as_written() {
        let cases = [
            ("一", 1),
            ("十", 10),
            ("十二", 12),
            ("二十", 20),
            ("二十三", 23),
            ("一百零五", 105),
            ("两百", 200),
            ("12", 12),
        ];
        for (text, value) in cases {
            assert_eq!(numeral(text), Some(value), "{text}");
        }
        assert_eq!(numeral(""), None);
        assert_eq!(numeral("条"), None);
    }

    #[test]
    fn clauses_anchor_to_their_article() {
        assert_eq!(clause_anchor("第二条").as_deref(), Some("art-2"));
        assert_eq!(clause_anchor("第三条第二款").as_deref(), Some("art-3"));
        assert_eq!(clause_anchor("第十二条").as_deref(), Some("art-12"));
        assert_eq!(clause_anchor("第3条").as_deref(), Some("art-3"));
        assert_eq!(clause_anchor("二、").as_deref(), Some("sec-2"));
        assert_eq!(clause_anchor("四").as_deref(), Some("sec-4"));
        assert_eq!(clause_anchor("第二章"), None);
        assert_eq!(clause_anchor("附件"), None);
    }

    #[test]
    fn the_text_is_cut_at_article_headings_only() {
        let text = "为支持发展，制定本办法。\n第一条\u{3000}依照第二条规定申报。\n第二条\u{3000}补贴。\
                    第三条 按年度执行。\n一、申报对象\n二、材料";
        let articles = articles(text);
        let anchors: Vec<Option<&str>> = articles.iter().map(|a| a.anchor.as_deref()).collect();
        assert_eq!(
            anchors,
            [
                None,
                Some("art-1"),
                Some("art-2"),
                Some("art-3"),
                Some("sec-1"),
                Some("sec-2")
            ]
        );
        assert_eq!(articles[1].text, "第一条\u{3000}依照第二条规定申报。\n");
        assert_eq!(
            articles[2].text, "第二条\u{3000}补贴。",
            "a heading right after the full stop of the one before starts an article too"
        );
        let joined: String = articles.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(joined, text);
        let once = super::articles("第一条 甲\n第一条 乙");
        assert_eq!(once.len(), 1, "an anchor is given once");
        assert!(super::articles("").is_empty());
    }

    #[test]
    fn a_reason_is_split_around_its_clause() {
        let zh = Cited::new("居住地 北京市海淀区 属于 北京市（第二条）", Some("第二条"));
        assert_eq!(
            (zh.before.as_str(), zh.clause.as_deref(), zh.after.as_str()),
            ("居住地 北京市海淀区 属于 北京市（", Some("第二条"), "）")
        );
        assert_eq!(zh.anchor.as_deref(), Some("art-2"));
        let near = Cited::new(
            "差一项：若从业人员数 ≤ 50，即可符合（当前 85）（第三条第二款）。这一项可以通过您自身的调整达到",
            Some("第三条第二款"),
        );
        assert_eq!(near.after, "）。这一项可以通过您自身的调整达到");
        assert_eq!(near.anchor.as_deref(), Some("art-3"));
        let en = Cited::new(
            "employees 85 is at most 300 (clause 第三条)",
            Some("第三条"),
        );
        assert_eq!(en.before, "employees 85 is at most 300 (clause ");
        assert_eq!(en.after, ")");
        let plain = Cited::new("满足 2 项中的 2 项", None);
        assert_eq!(
            (plain.before.as_str(), plain.clause, plain.after.as_str()),
            ("满足 2 项中的 2 项", None, "")
        );
        let uncited = Cited::new("从业人员数 85", Some("第九条"));
        assert_eq!(uncited.clause, None, "a clause the text does not cite");
    }
}
