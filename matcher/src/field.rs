//! What the matcher knows about a fact key: its kind (from the attribute schema), how a fact value
//! of that kind is read, code hierarchies (GB/T 2260 regions, GB/T 4754-2017 industries), calendar
//! arithmetic relative to the evaluation day, and the human labels used in reasons. Forward and
//! reverse paths both read facts through [`classify`], so a value one path ignores the other does too.

use std::collections::BTreeSet;

use chrono::{Datelike, Months, NaiveDate};

use crate::condition::{Relation, Relative, Unit};

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

impl Unit {
    /// The day on which `count` whole units have passed since `start`. Months follow 民法典
    /// 第二百零三条: the corresponding day of the final month, or its last day when it has none
    /// (31 January + 1 month = 29 February 2024). Years are counted like a person's age
    /// (`profiles::labels::whole_years`), so that `age ge 18` and `birth_date years_since_ge 18`
    /// agree: a 29 February date completes its years on 1 March in common years. `None` past
    /// the calendar's end.
    pub(crate) fn after(self, start: NaiveDate, count: u32) -> Option<NaiveDate> {
        match self {
            Unit::Months => start.checked_add_months(Months::new(count)),
            Unit::Years => {
                let year = start.year().checked_add(i32::try_from(count).ok()?)?;
                start.with_year(year).or_else(|| {
                    // Only 29 February lacks its day in the target year.
                    NaiveDate::from_ymd_opt(year, 3, 1)
                })
            }
        }
    }

    /// The latest start date with `count` whole units passed by `by`. `Unit::after` never
    /// decreases as its start advances, so the qualifying starts are every day up to this one.
    fn latest_start(self, count: u32, by: NaiveDate) -> Option<NaiveDate> {
        let months = match self {
            Unit::Months => count,
            Unit::Years => count.checked_mul(12)?,
        };
        // Counting back clamps to a month end, which lands within a few days of the answer.
        let mut start = by.checked_sub_months(Months::new(months))?;
        while self.after(start, count).is_none_or(|end| end > by) {
            start = start.pred_opt()?;
        }
        while let Some(next) = start
            .succ_opt()
            .filter(|next| self.after(*next, count).is_some_and(|end| end <= by))
        {
            start = next;
        }
        Some(start)
    }
}

/// The day-number range of the dates a relative-date test accepts on `as_of`, both ends
/// inclusive. Dates after `as_of` pass no `Since*` test and dates before it no `Until*` test.
pub(crate) fn relative_range(test: Relative, as_of: NaiveDate) -> (f64, f64) {
    let Relative {
        relation,
        unit,
        count,
    } = test;
    let today = day_number(as_of);
    // Dates on or before this one have had `count` whole units by `by`; −∞ when none have.
    let complete_by = |by: Option<NaiveDate>| {
        by.and_then(|by| unit.latest_start(count, by))
            .map_or(f64::NEG_INFINITY, day_number)
    };
    // The first date `count` whole units after `as_of`; +∞ past the calendar's end.
    let first_ahead = || unit.after(as_of, count).map_or(f64::INFINITY, day_number);
    match relation {
        Relation::SinceGe => (f64::NEG_INFINITY, complete_by(Some(as_of))),
        Relation::SinceLt => (complete_by(Some(as_of)) + 1.0, today),
        Relation::SinceAtMost => (complete_by(as_of.pred_opt()) + 1.0, today),
        Relation::UntilGe => (first_ahead(), f64::INFINITY),
        Relation::UntilLt => (today, first_ahead() - 1.0),
    }
}

/// The day-number ranges of the dates whose whole years up to `as_of`, counted like an age, lie
/// in one of `intervals` (inclusive; `None`: no upper end). The audience index answers `age`,
/// `age_band` and `years_since_founding` this way, on any day, from the date they count from.
pub(crate) fn years_since_ranges(
    intervals: &[(u32, Option<u32>)],
    as_of: NaiveDate,
) -> Vec<(f64, f64)> {
    let latest = |years: u32| Unit::Years.latest_start(years, as_of).map(day_number);
    intervals
        .iter()
        .filter_map(|&(fewest, most)| {
            let high = latest(fewest)?;
            let low = most
                .and_then(|most| most.checked_add(1))
                .and_then(latest)
                .map_or(f64::NEG_INFINITY, |day| day + 1.0);
            (low <= high).then_some((low, high))
        })
        .collect()
}

/// Chinese and English labels of a fact key for reasons, the key itself when there is no built-in
/// one. `region` reads as the registered region of an enterprise and the residence of a citizen,
/// the two things the profile kinds put there.
pub fn label(key: &str, citizen: bool) -> (String, String) {
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
        "graduation_year" => known("毕业年份", "graduation year"),
        "disability_level" => known("残疾等级", "disability level"),
        "has_disability" => known("持有残疾人证", "has a disability"),
        "veteran" => known("退役军人", "veteran"),
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

    /// Whole `unit`s from `from` to `to` by the definition: the most `n` whose
    /// [`Unit::after`] is not after `to`; `None` when `to` is before `from`.
    fn whole(unit: Unit, from: NaiveDate, to: NaiveDate) -> Option<u32> {
        (from <= to).then(|| {
            (0..)
                .take_while(|n| unit.after(from, *n).is_some_and(|end| end <= to))
                .last()
                .expect("zero units always fit")
        })
    }

    fn accepts(relation: Relation, unit: Unit, count: u32, d: NaiveDate, as_of: NaiveDate) -> bool {
        let (low, high) = relative_range(
            Relative {
                relation,
                unit,
                count,
            },
            as_of,
        );
        (low..=high).contains(&day_number(d))
    }

    #[test]
    fn years_count_like_ages_and_months_clamp_to_the_month_end() {
        let years = |from, to| whole(Unit::Years, date(from), date(to));
        let months = |from, to| whole(Unit::Months, date(from), date(to));
        for (from, to) in [("1990-03-07", "2025-06-01"), ("2020-02-29", "2023-03-01")] {
            assert_eq!(
                years(from, to),
                profiles::labels::whole_years(date(from), date(to)),
                "{from} → {to}"
            );
        }
        assert_eq!(years("2020-02-29", "2021-02-28"), Some(0));
        assert_eq!(years("2020-02-29", "2021-03-01"), Some(1));
        assert_eq!(years("2020-02-29", "2024-02-29"), Some(4));
        assert_eq!(months("2024-01-31", "2024-02-28"), Some(0));
        assert_eq!(months("2024-01-31", "2024-02-29"), Some(1));
        assert_eq!(months("2024-01-31", "2024-03-30"), Some(1));
        assert_eq!(months("2024-01-31", "2024-03-31"), Some(2));
        assert_eq!(months("2020-02-29", "2021-02-28"), Some(12));
        assert_eq!(months("2024-05-01", "2024-04-30"), None);
    }

    /// Every relative test over 700 evaluation days (a leap day, every month end) and the dates
    /// around them, against the definition counted day by day.
    #[test]
    fn relative_ranges_agree_with_whole_units_counted_by_definition() {
        const TESTS: [Relation; 5] = [
            Relation::SinceGe,
            Relation::SinceLt,
            Relation::SinceAtMost,
            Relation::UntilGe,
            Relation::UntilLt,
        ];
        let start = date("2023-01-20");
        for offset in 0..700 {
            let as_of = start + chrono::Days::new(offset);
            for (unit, counts, reach) in [
                (Unit::Months, &[0, 1, 2, 6, 13][..], 14 * 31),
                (Unit::Years, &[0, 1, 3][..], 3 * 366 + 10),
            ] {
                let ranges: Vec<Vec<(f64, f64)>> = counts
                    .iter()
                    .map(|&count| {
                        TESTS
                            .iter()
                            .map(|&since| {
                                relative_range(
                                    Relative {
                                        relation: since,
                                        unit,
                                        count,
                                    },
                                    as_of,
                                )
                            })
                            .collect()
                    })
                    .collect();
                for shift in -reach..=reach {
                    let d = as_of + chrono::TimeDelta::days(shift);
                    let since = whole(unit, d, as_of);
                    let until = whole(unit, as_of, d);
                    for (&count, ranges) in counts.iter().zip(&ranges) {
                        let expected = [
                            since.is_some_and(|n| n >= count),
                            since.is_some_and(|n| n < count),
                            since.is_some_and(|n| n < count || unit.after(d, count) == Some(as_of)),
                            until.is_some_and(|n| n >= count),
                            until.is_some_and(|n| n < count),
                        ];
                        for ((test, (low, high)), expected) in
                            TESTS.iter().zip(ranges).zip(expected)
                        {
                            assert_eq!(
                                (*low..=*high).contains(&day_number(d)),
                                expected,
                                "{test:?} {count} {unit:?}: {d} on {as_of}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The boundary table of DATA_MODEL.md "Relative dates".
    #[test]
    fn boundary_examples_of_the_data_model() {
        use Relation::{SinceAtMost as AtMost, SinceGe as Ge, SinceLt as Lt, UntilGe, UntilLt};
        use Unit::{Months as M, Years as Y};
        let cases: &[(&str, Relation, Unit, u32, &str, bool)] = &[
            ("2023-06-30", Lt, Y, 3, "2026-06-29", true),
            ("2023-06-30", Lt, Y, 3, "2026-06-30", false),
            ("2023-06-30", Ge, Y, 3, "2026-06-30", true),
            ("2023-06-30", Ge, Y, 3, "2026-06-29", false),
            ("2023-06-30", AtMost, Y, 3, "2026-06-30", true),
            ("2023-06-30", AtMost, Y, 3, "2026-07-01", false),
            ("2020-02-29", Ge, Y, 1, "2021-02-28", false),
            ("2020-02-29", Ge, Y, 1, "2021-03-01", true),
            ("2020-02-29", Lt, Y, 4, "2024-02-28", true),
            ("2020-02-29", Lt, Y, 4, "2024-02-29", false),
            ("2024-01-31", Ge, M, 1, "2024-02-28", false),
            ("2024-01-31", Ge, M, 1, "2024-02-29", true),
            ("2024-01-31", Lt, M, 2, "2024-03-30", true),
            ("2024-01-31", Lt, M, 2, "2024-03-31", false),
            ("2023-11-30", Lt, M, 36, "2026-11-29", true),
            ("2023-11-30", Lt, M, 36, "2026-11-30", false),
            ("2026-12-01", Lt, Y, 3, "2026-11-30", false),
            ("2026-12-01", Ge, Y, 0, "2026-11-30", false),
            ("2026-12-01", AtMost, M, 6, "2026-11-30", false),
            ("2027-05-30", UntilGe, M, 6, "2026-11-30", true),
            ("2027-05-29", UntilGe, M, 6, "2026-11-30", false),
            ("2027-05-29", UntilLt, M, 6, "2026-11-30", true),
            ("2027-02-28", UntilGe, M, 6, "2026-08-31", true),
            ("2027-02-27", UntilGe, M, 6, "2026-08-31", false),
            ("2026-11-30", UntilLt, M, 1, "2026-11-30", true),
            ("2026-11-29", UntilLt, M, 1, "2026-11-30", false),
            ("2026-11-29", UntilGe, M, 0, "2026-11-30", false),
            ("2028-03-01", UntilGe, Y, 4, "2024-02-29", true),
            ("2028-02-28", UntilGe, Y, 4, "2024-02-29", false),
        ];
        for &(d, since, unit, count, as_of, expected) in cases {
            assert_eq!(
                accepts(since, unit, count, date(d), date(as_of)),
                expected,
                "{d} {since:?} {count} {unit:?} on {as_of}"
            );
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
