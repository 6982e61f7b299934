//! What the matcher knows about a fact key: its kind (from the attribute schema), how a fact value
//! of that kind is read, code hierarchies (GB/T 2260 regions, GB/T 4754-2017 industries), calendar
//! arithmetic relative to the evaluation day, and the human labels used in reasons. Forward and
//! reverse paths both read facts through [`classify`], so a value one path ignores the other does too.

use std::collections::BTreeSet;

use chrono::{Datelike, Months, NaiveDate};

use profiles::{AttributeSchema, FieldType, Value};

/// The evaluation-relevant type of a field; enum fields keep their allowed values for validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    Bool,
    Number,
    Date,
    Text,
    Enum,
    Region,
    Industry,
    Set,
}

impl FieldKind {
    pub(crate) fn of(field_type: &FieldType) -> Self {
        match field_type {
            FieldType::Bool => Self::Bool,
            FieldType::Number => Self::Number,
            FieldType::Text => Self::Text,
            FieldType::Enum { .. } => Self::Enum,
            FieldType::Set => Self::Set,
            FieldType::Date => Self::Date,
            FieldType::Region => Self::Region,
            FieldType::Industry => Self::Industry,
        }
    }

    pub(crate) fn lookup(schema: &AttributeSchema, key: &str) -> Option<Self> {
        schema.get(key).map(|def| Self::of(&def.field_type))
    }

    pub(crate) fn is_textual(self) -> bool {
        matches!(
            self,
            Self::Text | Self::Enum | Self::Region | Self::Industry
        )
    }

    pub(crate) fn is_ordered(self) -> bool {
        matches!(self, Self::Number | Self::Date)
    }

    pub(crate) fn name_en(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::Number => "number",
            Self::Date => "date",
            Self::Text => "text",
            Self::Enum => "enum",
            Self::Region => "region",
            Self::Industry => "industry",
            Self::Set => "set",
        }
    }

    pub(crate) fn name_zh(self) -> &'static str {
        match self {
            Self::Bool => "布尔",
            Self::Number => "数值",
            Self::Date => "日期",
            Self::Text => "文本",
            Self::Enum => "枚举",
            Self::Region => "行政区划",
            Self::Industry => "行业",
            Self::Set => "集合",
        }
    }
}

/// A fact value read as its field's kind. Dates become day numbers so that number and date
/// comparisons share one code path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Typed<'a> {
    Bool(bool),
    Num(f64),
    Text(&'a str),
    Set(&'a BTreeSet<String>),
}

/// Reads a fact as the field's kind. A value of the wrong type (or a non-finite number) reads as
/// absent: a corrupt fact must make a leaf undetermined, never silently true or false.
pub(crate) fn classify(kind: FieldKind, value: &Value) -> Option<Typed<'_>> {
    match (kind, value) {
        (FieldKind::Bool, Value::Bool(b)) => Some(Typed::Bool(*b)),
        (FieldKind::Number, Value::Number(n)) if n.is_finite() => Some(Typed::Num(*n)),
        (FieldKind::Date, Value::Date(d)) => Some(Typed::Num(day_number(*d))),
        (k, Value::Text(t)) if k.is_textual() => Some(Typed::Text(t)),
        (FieldKind::Set, Value::Set(s)) => Some(Typed::Set(s)),
        _ => None,
    }
}

pub(crate) fn day_number(date: NaiveDate) -> f64 {
    f64::from(date.num_days_from_ce())
}

pub(crate) fn date_of_day_number(day: f64) -> Option<NaiveDate> {
    // Day numbers only ever come from `day_number`, so they are whole and within i32.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "day numbers are whole i32 values"
    )]
    NaiveDate::from_num_days_from_ce_opt(day as i32)
}

/// The hierarchy prefix of a GB/T 2260 code: trailing `00` pairs stripped (`110100` → `1101`).
/// `None` unless the code is six digits and not all zeros.
pub(crate) fn region_prefix(code: &str) -> Option<&str> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut prefix = code;
    while prefix.len() > 2 && prefix.ends_with("00") {
        prefix = &prefix[..prefix.len() - 2];
    }
    (prefix != "00").then_some(prefix)
}

/// Whether `code` is a canonical GB/T 4754-2017 code: a section letter and up to four digits whose
/// division (the first two digits) belongs to that section.
pub(crate) fn industry_code_valid(code: &str) -> bool {
    let bytes = code.as_bytes();
    let Some((&section, digits)) = bytes.split_first() else {
        return false;
    };
    if !(b'A'..=b'T').contains(&section)
        || digits.len() > 4
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    if digits.len() < 2 {
        return digits.is_empty();
    }
    let division = (digits[0] - b'0') * 10 + (digits[1] - b'0');
    section_of_division(division) == Some(section)
}

fn section_of_division(division: u8) -> Option<u8> {
    const UPPER_BOUNDS: [(u8, u8); 20] = [
        (5, b'A'),
        (12, b'B'),
        (43, b'C'),
        (46, b'D'),
        (50, b'E'),
        (52, b'F'),
        (60, b'G'),
        (62, b'H'),
        (65, b'I'),
        (69, b'J'),
        (70, b'K'),
        (72, b'L'),
        (75, b'M'),
        (79, b'N'),
        (82, b'O'),
        (83, b'P'),
        (85, b'Q'),
        (90, b'R'),
        (96, b'S'),
        (97, b'T'),
    ];
    if division == 0 {
        return None;
    }
    UPPER_BOUNDS
        .iter()
        .find(|(upper, _)| division <= *upper)
        .map(|(_, section)| *section)
}

/// The prefix a `within` test compares against, per code system; `None` for a malformed code.
pub(crate) fn hierarchy_prefix(kind: FieldKind, code: &str) -> Option<&str> {
    match kind {
        FieldKind::Region => region_prefix(code),
        FieldKind::Industry => industry_code_valid(code).then_some(code),
        _ => None,
    }
}

/// The prefix lengths at which a code system groups other codes — GB/T 2260 provinces and cities,
/// GB/T 4754 sections, divisions and groups — i.e. the lengths [`hierarchy_prefix`] gives for codes
/// that are not leaves. The audience index keeps a bitmap per prefix of these lengths, so a `within`
/// test at a grouping level reads one bitmap instead of merging one per code under it.
pub(crate) fn hierarchy_levels(kind: FieldKind) -> &'static [usize] {
    match kind {
        FieldKind::Region => &[2, 4],
        FieldKind::Industry => &[1, 3, 4],
        _ => &[],
    }
}

/// The one `within` test both paths use: a fact code lies within a code when it starts with that
/// code's hierarchy prefix.
pub(crate) fn code_within(fact_code: &str, prefix: &str) -> bool {
    fact_code.starts_with(prefix)
}

/// `date` plus whole months, clamped to the month's last day when the day does not exist there:
/// 民法典 第二百零三条 — a period counted in months ends on the corresponding day of the final
/// month, or on its last day when it has no corresponding day. (Years are counted like ages
/// instead, see [`years_at_least`].)
fn add_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(months))
}

/// The day-number range of dates `d` with at least `years` whole years between `d` and `as_of`,
/// counted like a person's age (`profiles::labels::whole_years`), so that `age ge 18` and
/// `birth_date years_since_at_least 18` agree: the years are complete when `as_of`'s month and day
/// reach `d`'s, which for 29 February falls on 1 March in common years.
pub(crate) fn years_at_least(as_of: NaiveDate, years: u32) -> (f64, f64) {
    // (year − n, month, day) clamped to the month's end is the latest qualifying date: a date
    // after it has its anniversary after `as_of`.
    match as_of.checked_sub_months(Months::new(years * 12)) {
        Some(latest) => (f64::NEG_INFINITY, day_number(latest)),
        None => EMPTY_RANGE,
    }
}

/// The day-number range of dates `d` with at most `years` years elapsed by `as_of`: the `years`th
/// anniversary (counted as in [`years_at_least`]) is today or still ahead, i.e. fewer than
/// `years` whole years had elapsed yesterday.
pub(crate) fn years_at_most(as_of: NaiveDate, years: u32) -> (f64, f64) {
    let Some(yesterday) = as_of.pred_opt() else {
        return (f64::NEG_INFINITY, f64::INFINITY);
    };
    let (_, latest_complete) = years_at_least(yesterday, years);
    (latest_complete + 1.0, f64::INFINITY)
}

/// The day-number range of dates `d` with `d + months >= as_of`: "at most `months` have elapsed"
/// (the day the period ends still counts as within), months counted by 民法典 第二百零三条.
pub(crate) fn elapsed_at_most(as_of: NaiveDate, months: u32) -> (f64, f64) {
    let Some(mut earliest) = as_of.checked_sub_months(Months::new(months)) else {
        return (f64::NEG_INFINITY, f64::INFINITY);
    };
    while add_months(earliest, months).is_some_and(|end| end < as_of) {
        match earliest.succ_opt() {
            Some(next) => earliest = next,
            None => return EMPTY_RANGE,
        }
    }
    while let Some(prev) = earliest
        .pred_opt()
        .filter(|d| add_months(*d, months).is_some_and(|end| end >= as_of))
    {
        earliest = prev;
    }
    (day_number(earliest), f64::INFINITY)
}

pub(crate) const EMPTY_RANGE: (f64, f64) = (f64::INFINITY, f64::NEG_INFINITY);

/// Chinese and English labels of a fact key for reasons, the key itself when there is no built-in
/// one. `region` reads as the registered region of an enterprise and the residence of a citizen,
/// the two things the profile kinds put there.
pub(crate) fn label(key: &str, citizen: bool) -> (String, String) {
    builtin_label(key, citizen).unwrap_or_else(|| (key.to_string(), key.to_string()))
}

/// Labels of the built-in keys, worded for reasons (with units); `None` for `cert.<kind>` and
/// `attr.<key>` fields, whose labels come from the attribute schema.
pub(crate) fn builtin_label(key: &str, citizen: bool) -> Option<(String, String)> {
    let known = |zh: &str, en: &str| Some((zh.to_string(), en.to_string()));
    match key {
        "kind" => known("主体类型", "profile kind"),
        "audience" => known("适用对象类别", "audience class"),
        "region" if citizen => known("居住地", "residence region"),
        "region" => known("注册地", "registered region"),
        "interests" => known("关注领域", "interests"),
        "industry" => known("所属行业", "industry"),
        "ownership" => known("登记注册类型", "ownership"),
        "founded_on" => known("成立日期", "founding date"),
        "years_since_founding" => known("成立年限", "years since founding"),
        "registered_capital" => known("注册资本（万元）", "registered capital (10k yuan)"),
        "employees" => known("从业人员数", "employees"),
        "revenue" => known("营业收入（万元）", "revenue (10k yuan)"),
        "total_assets" => known("资产总额（万元）", "total assets (10k yuan)"),
        "taxable_income" => known("应纳税所得额（万元）", "taxable income (10k yuan)"),
        "certifications" => known("有效资质", "valid certifications"),
        "size_class" => known("企业规模", "size class"),
        "small_low_profit" => known("小型微利企业", "small low-profit enterprise"),
        "birth_date" => known("出生日期", "birth date"),
        "age" => known("年龄", "age"),
        "age_band" => known("年龄段", "age band"),
        "gender" => known("性别", "gender"),
        "education" => known("学历", "education"),
        "employment_status" => known("就业状态", "employment status"),
        "hukou_region" => known("户籍地", "hukou region"),
        "residence_region" => known("居住地", "residence region"),
        "disability_level" => known("残疾等级", "disability level"),
        "household" => known("家庭情况", "household"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn region_prefixes_strip_trailing_zero_pairs() {
        assert_eq!(region_prefix("110000"), Some("11"));
        assert_eq!(region_prefix("110100"), Some("1101"));
        assert_eq!(region_prefix("110108"), Some("110108"));
        assert_eq!(region_prefix("000000"), None);
        assert_eq!(region_prefix("11010"), None);
        assert_eq!(region_prefix("11010x"), None);
    }

    #[test]
    fn grouping_codes_have_prefixes_at_hierarchy_levels() {
        for (kind, code) in [
            (FieldKind::Region, "110000"),
            (FieldKind::Region, "220100"),
            (FieldKind::Industry, "I"),
            (FieldKind::Industry, "I65"),
            (FieldKind::Industry, "I651"),
        ] {
            let prefix = hierarchy_prefix(kind, code).unwrap();
            assert!(hierarchy_levels(kind).contains(&prefix.len()), "{code}");
        }
        for (kind, leaf) in [
            (FieldKind::Region, "110108"),
            (FieldKind::Industry, "I6513"),
        ] {
            let prefix = hierarchy_prefix(kind, leaf).unwrap();
            assert!(!hierarchy_levels(kind).contains(&prefix.len()), "{leaf}");
        }
    }

    #[test]
    fn industry_codes_must_agree_with_their_section() {
        for good in ["I", "I65", "I651", "I6513", "C13", "C43", "R90", "A01"] {
            assert!(industry_code_valid(good), "{good}");
        }
        for bad in ["", "i65", "U", "I6", "C44", "I12345", "A00", "R9a"] {
            assert!(!industry_code_valid(bad), "{bad}");
        }
    }

    #[test]
    fn elapsed_month_ranges_follow_month_end_rule() {
        let at_most = |as_of: &str, months| elapsed_at_most(date(as_of), months).0;
        // Within one month of a day are the dates whose month-later day is on or after it:
        // 2024-02-29 plus a month is 2024-03-29, so on 30 and 31 March it is more than a month ago.
        assert_eq!(at_most("2024-03-31", 1), day_number(date("2024-03-01")));
        assert_eq!(at_most("2024-03-30", 1), day_number(date("2024-03-01")));
        assert_eq!(at_most("2024-03-29", 1), day_number(date("2024-02-29")));
        assert_eq!(at_most("2024-03-28", 1), day_number(date("2024-02-28")));
        // 2024-01-31 plus one month is 2024-02-29 (no 31 February).
        assert_eq!(at_most("2024-02-29", 1), day_number(date("2024-01-29")));
    }

    #[test]
    fn elapsed_ranges_agree_with_month_addition_and_whole_years() {
        let start = date("2019-12-01");
        for offset in 0..500 {
            let as_of = start + chrono::Days::new(offset);
            for months in [1, 6, 12, 13, 24, 36] {
                let (earliest, _) = elapsed_at_most(as_of, months);
                for back in 0..(months * 31 + 40) {
                    let d = as_of - chrono::Days::new(u64::from(back));
                    let end = add_months(d, months).unwrap();
                    assert_eq!(
                        day_number(d) >= earliest,
                        end >= as_of,
                        "{d} +{months} vs {as_of}"
                    );
                }
            }
            for years in [0, 1, 2, 3] {
                let (_, latest) = years_at_least(as_of, years);
                let (earliest, _) = years_at_most(as_of, years);
                for back in 0..(years * 366 + 400) {
                    let d = as_of - chrono::Days::new(u64::from(back));
                    // A date after `on` has had −1 whole years: not even zero have passed.
                    let whole = |on| profiles::labels::whole_years(d, on).map_or(-1, i64::from);
                    assert_eq!(
                        day_number(d) <= latest,
                        whole(as_of) >= i64::from(years),
                        "{d} {years}y by {as_of}"
                    );
                    let yesterday = as_of.pred_opt().unwrap();
                    assert_eq!(
                        day_number(d) >= earliest,
                        whole(yesterday) < i64::from(years),
                        "{d} {years}y by {as_of}"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod agreement_with_profiles {
    use super::*;
    use crate::eval::Prefix;

    /// The matcher's compiled `within` tests must mean what the profiles crate's code functions mean.
    #[test]
    fn within_agrees_with_profiles_codes() {
        let regions = [
            "110000", "110100", "110108", "110105", "220000", "220100", "220104", "120000",
            "110118",
        ];
        for code in regions {
            for ancestor in regions {
                let prefix = region_prefix(ancestor).unwrap();
                let expected = profiles::region_within(code, ancestor);
                assert_eq!(
                    code_within(code, prefix),
                    expected,
                    "{code} within {ancestor}"
                );
                assert_eq!(
                    Prefix::new(prefix).contains(code),
                    expected,
                    "{code} within {ancestor}"
                );
            }
        }
        let industries = [
            "I", "I65", "I651", "I6513", "I6420", "C", "C39", "R", "R90", "R9011", "R8610",
        ];
        for code in industries {
            for ancestor in industries {
                let expected = profiles::industry_within(code, ancestor);
                assert_eq!(
                    code_within(code, ancestor),
                    expected,
                    "{code} within {ancestor}"
                );
                assert_eq!(
                    Prefix::new(ancestor).contains(code),
                    expected,
                    "{code} within {ancestor}"
                );
            }
        }
    }
}
