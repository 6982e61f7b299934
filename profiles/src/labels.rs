//! 智能画像: labels derived from a profile by official rules, each with the reason it holds —
//! the enterprise size class of 《中小企业划型标准规定》(工信部联企业〔2011〕300号), 小型微利企业,
//! years since founding, a citizen's age and age band, and the Art. 20 audience classes.
//!
//! A label whose rule needs a figure the profile lacks is absent rather than guessed. A rule is
//! still decided when the known figures settle it on their own: an industrial firm with 12
//! employees is micro whatever its revenue, because the standard makes it micro below 20
//! employees *or* below 3 million yuan.

use crate::coded::{Coded, coded_enum};
use crate::codes::IndustryCode;
use crate::facts::Value;
use crate::model::{AudienceClass, EnterpriseProfile, HIGH_TECH, Ownership, Profile};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::collections::BTreeSet;

coded_enum! {
    pub enum SizeClass {
        Large => ("large", "大型企业", "large enterprise"),
        Medium => ("medium", "中型企业", "medium-sized enterprise"),
        Small => ("small", "小型企业", "small enterprise"),
        Micro => ("micro", "微型企业", "micro enterprise"),
    }
}

coded_enum! {
    pub enum AgeBand {
        Child => ("child", "未成年人（18 周岁以下）", "child (under 18)"),
        Youth => ("youth", "青年（18–34 周岁）", "youth (18–34)"),
        Adult => ("adult", "中年（35–59 周岁）", "adult (35–59)"),
        Senior => ("senior", "老年人（60–79 周岁）", "senior (60–79)"),
        Elderly => ("elderly", "高龄老人（80 周岁及以上）", "elderly (80 and over)"),
    }
}

impl AgeBand {
    /// The ages of the band in whole years: from the first, up to but not including the second
    /// (`None`: no upper end).
    pub fn ages(self) -> (u32, Option<u32>) {
        match self {
            Self::Child => (0, Some(18)),
            Self::Youth => (18, Some(35)),
            Self::Adult => (35, Some(60)),
            Self::Senior => (60, Some(80)),
            Self::Elderly => (80, None),
        }
    }

    pub fn for_age(age: u32) -> Self {
        match age {
            0..18 => Self::Child,
            18..35 => Self::Youth,
            35..60 => Self::Adult,
            60..80 => Self::Senior,
            80.. => Self::Elderly,
        }
    }
}

coded_enum! {
    /// The sectors of Art. 4 of the 2011 size standard.
    pub enum SmeSector {
        Agriculture => ("agriculture", "农、林、牧、渔业", "agriculture, forestry, animal husbandry and fishery"),
        Industry => ("industry", "工业", "industry"),
        Construction => ("construction", "建筑业", "construction"),
        Wholesale => ("wholesale", "批发业", "wholesale"),
        Retail => ("retail", "零售业", "retail"),
        Transport => ("transport", "交通运输业", "transport"),
        Warehousing => ("warehousing", "仓储业", "warehousing"),
        Postal => ("postal", "邮政业", "postal services"),
        Accommodation => ("accommodation", "住宿业", "accommodation"),
        Catering => ("catering", "餐饮业", "catering"),
        InformationTransmission => ("information_transmission", "信息传输业", "information transmission"),
        SoftwareIt => ("software_it", "软件和信息技术服务业", "software and IT services"),
        RealEstateDevelopment => ("real_estate_development", "房地产开发经营", "real estate development"),
        PropertyManagement => ("property_management", "物业管理", "property management"),
        LeasingBusinessServices => ("leasing_business_services", "租赁和商务服务业", "leasing and business services"),
        Other => ("other", "其他未列明行业", "other industries"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Measure {
    Employees,
    Revenue,
    TotalAssets,
}

impl Measure {
    fn of(self, figures: &SizeFigures) -> Option<f64> {
        match self {
            Self::Employees => figures.employees.map(f64::from),
            Self::Revenue => figures.revenue,
            Self::TotalAssets => figures.total_assets,
        }
    }

    fn describe_zh(self, amount: f64, relation: &str) -> String {
        match self {
            Self::Employees => format!("从业人员{relation} {amount} 人"),
            Self::Revenue => format!("营业收入{relation} {amount} 万元"),
            Self::TotalAssets => format!("资产总额{relation} {amount} 万元"),
        }
    }

    fn describe_en(self, amount: f64, relation: &str) -> String {
        match self {
            Self::Employees => format!("employees{relation} {amount}"),
            Self::Revenue => format!("revenue{relation} {amount} (10k CNY)"),
            Self::TotalAssets => format!("total assets{relation} {amount} (10k CNY)"),
        }
    }
}

/// The minima a tier requires, all of which must be met ("…及以上，且…及以上").
type Tier = &'static [(Measure, f64)];

/// The large, medium and small tiers of one sector; below the small tier is micro. Large is the
/// complement of the standard's "…以下或…以下的为中小微型企业", so it too needs every minimum.
struct SizeRule {
    large: Tier,
    medium: Tier,
    small: Tier,
}

impl SizeRule {
    /// The tiers from the largest down, each with the class it confers.
    fn tiers(&self) -> [(SizeClass, Tier); 3] {
        [
            (SizeClass::Large, self.large),
            (SizeClass::Medium, self.medium),
            (SizeClass::Small, self.small),
        ]
    }

    /// The minima of a class; micro has none, being whatever falls below small.
    fn minima(&self, class: SizeClass) -> Option<Tier> {
        self.tiers()
            .into_iter()
            .find(|(tiered, _)| *tiered == class)
            .map(|(_, tier)| tier)
    }
}

impl SmeSector {
    /// The sector of a GB/T 4754-2017 code, or `None` when the code is too coarse to decide
    /// (sections F, G, H, I and K span several sectors; G59 spans transport's 591 and
    /// warehousing's 592–599; K70 spans development, property management and others) or the
    /// standard does not cover it: railway transport (G53, "交通运输业（不含铁路运输业）"), finance
    /// (J, which has its own 2015 standard), and the non-enterprise sections S and T.
    pub fn for_industry(industry: &IndustryCode) -> Option<Self> {
        Some(
            match (
                industry.section().code,
                industry.division(),
                industry.group(),
            ) {
                ("A", ..) => Self::Agriculture,
                ("B" | "C" | "D", ..) => Self::Industry,
                ("E", ..) => Self::Construction,
                ("F", Some(51), _) => Self::Wholesale,
                ("F", Some(52), _) => Self::Retail,
                ("G", Some(54..=58), _) | ("G", _, Some(591)) => Self::Transport,
                ("G", _, Some(592..=599)) => Self::Warehousing,
                ("G", Some(60), _) => Self::Postal,
                ("H", Some(61), _) => Self::Accommodation,
                ("H", Some(62), _) => Self::Catering,
                ("I", Some(63 | 64), _) => Self::InformationTransmission,
                ("I", Some(65), _) => Self::SoftwareIt,
                ("K", _, Some(701)) => Self::RealEstateDevelopment,
                ("K", _, Some(702)) => Self::PropertyManagement,
                ("K", _, Some(_)) | ("M" | "N" | "O" | "P" | "Q" | "R", ..) => Self::Other,
                ("L", ..) => Self::LeasingBusinessServices,
                _ => return None,
            },
        )
    }

    /// Art. 4 of the standard, in 人 and 万元.
    fn rule(self) -> SizeRule {
        use Measure::{Employees as E, Revenue as R, TotalAssets as A};
        let (large, medium, small): (Tier, Tier, Tier) = match self {
            Self::Agriculture => (&[(R, 20000.0)], &[(R, 500.0)], &[(R, 50.0)]),
            Self::Industry => (
                &[(E, 1000.0), (R, 40000.0)],
                &[(E, 300.0), (R, 2000.0)],
                &[(E, 20.0), (R, 300.0)],
            ),
            Self::Construction => (
                &[(R, 80000.0), (A, 80000.0)],
                &[(R, 6000.0), (A, 5000.0)],
                &[(R, 300.0), (A, 300.0)],
            ),
            Self::Wholesale => (
                &[(E, 200.0), (R, 40000.0)],
                &[(E, 20.0), (R, 5000.0)],
                &[(E, 5.0), (R, 1000.0)],
            ),
            Self::Retail => (
                &[(E, 300.0), (R, 20000.0)],
                &[(E, 50.0), (R, 500.0)],
                &[(E, 10.0), (R, 100.0)],
            ),
            Self::Transport => (
                &[(E, 1000.0), (R, 30000.0)],
                &[(E, 300.0), (R, 3000.0)],
                &[(E, 20.0), (R, 200.0)],
            ),
            Self::Warehousing => (
                &[(E, 200.0), (R, 30000.0)],
                &[(E, 100.0), (R, 1000.0)],
                &[(E, 20.0), (R, 100.0)],
            ),
            Self::Postal => (
                &[(E, 1000.0), (R, 30000.0)],
                &[(E, 300.0), (R, 2000.0)],
                &[(E, 20.0), (R, 100.0)],
            ),
            Self::Accommodation | Self::Catering => (
                &[(E, 300.0), (R, 10000.0)],
                &[(E, 100.0), (R, 2000.0)],
                &[(E, 10.0), (R, 100.0)],
            ),
            Self::InformationTransmission => (
                &[(E, 2000.0), (R, 100000.0)],
                &[(E, 100.0), (R, 1000.0)],
                &[(E, 10.0), (R, 100.0)],
            ),
            Self::SoftwareIt => (
                &[(E, 300.0), (R, 10000.0)],
                &[(E, 100.0), (R, 1000.0)],
                &[(E, 10.0), (R, 50.0)],
            ),
            Self::RealEstateDevelopment => (
                &[(R, 200000.0), (A, 10000.0)],
                &[(R, 1000.0), (A, 5000.0)],
                &[(R, 100.0), (A, 2000.0)],
            ),
            Self::PropertyManagement => (
                &[(E, 1000.0), (R, 5000.0)],
                &[(E, 300.0), (R, 1000.0)],
                &[(E, 100.0), (R, 500.0)],
            ),
            Self::LeasingBusinessServices => (
                &[(E, 300.0), (A, 120000.0)],
                &[(E, 100.0), (A, 8000.0)],
                &[(E, 10.0), (A, 100.0)],
            ),
            Self::Other => (&[(E, 300.0)], &[(E, 100.0)], &[(E, 10.0)]),
        };
        SizeRule {
            large,
            medium,
            small,
        }
    }
}

/// The figures the size rules read: 从业人员 (persons), 营业收入 and 资产总额 (万元).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SizeFigures {
    pub employees: Option<u32>,
    pub revenue: Option<f64>,
    pub total_assets: Option<f64>,
}

impl SizeFigures {
    fn of(enterprise: &EnterpriseProfile) -> Self {
        Self {
            employees: enterprise.employees,
            revenue: enterprise.revenue,
            total_assets: enterprise.total_assets,
        }
    }
}

/// Kleene conjunction: false if any test is false, unknown if any is unknown, else true.
fn all_of(tests: impl IntoIterator<Item = Option<bool>>) -> Option<bool> {
    let mut unknown = false;
    for test in tests {
        match test {
            Some(false) => return Some(false),
            Some(true) => {}
            None => unknown = true,
        }
    }
    (!unknown).then_some(true)
}

fn meets(tier: Tier, figures: &SizeFigures) -> Option<bool> {
    all_of(
        tier.iter()
            .map(|&(measure, minimum)| measure.of(figures).map(|value| value >= minimum)),
    )
}

/// The size class of an enterprise in `sector`, or `None` when missing figures leave it open.
pub fn size_class(sector: SmeSector, figures: &SizeFigures) -> Option<SizeClass> {
    for (class, tier) in sector.rule().tiers() {
        if meets(tier, figures)? {
            return Some(class);
        }
    }
    Some(SizeClass::Micro)
}

const SMALL_LOW_PROFIT_MAX_TAXABLE_INCOME: f64 = 300.0;
const SMALL_LOW_PROFIT_MAX_EMPLOYEES: u32 = 300;
const SMALL_LOW_PROFIT_MAX_TOTAL_ASSETS: f64 = 5000.0;

/// 小型微利企业: annual taxable income, employees and total assets each at most 300 万元, 300
/// persons and 5000 万元; `None` when missing figures leave it open.
pub fn small_low_profit(taxable_income: Option<f64>, figures: &SizeFigures) -> Option<bool> {
    all_of([
        taxable_income.map(|income| income <= SMALL_LOW_PROFIT_MAX_TAXABLE_INCOME),
        figures
            .employees
            .map(|employees| employees <= SMALL_LOW_PROFIT_MAX_EMPLOYEES),
        figures
            .total_assets
            .map(|assets| assets <= SMALL_LOW_PROFIT_MAX_TOTAL_ASSETS),
    ])
}

/// Whole years from `from` to `on`: the count goes up on the anniversary. Someone born on 29
/// February gains a year on 1 March in common years, the first day the anniversary has passed.
/// `None` when `on` is before `from`.
pub fn whole_years(from: NaiveDate, on: NaiveDate) -> Option<u32> {
    if on < from {
        return None;
    }
    let mut years = on.year() - from.year();
    if (on.month(), on.day()) < (from.month(), from.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SizeAssessment {
    pub(crate) sector: SmeSector,
    pub(crate) class: SizeClass,
}

/// Why a profile belongs to an Art. 20 audience class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum AudienceGround {
    /// A high-tech certification obtained on this day and valid on the evaluation day.
    HighTech(NaiveDate),
    /// Classified medium, small or micro.
    Sme(SizeClass),
    Ownership(Ownership, AudienceClass),
    Citizen,
}

impl AudienceGround {
    pub(crate) fn class(self) -> AudienceClass {
        match self {
            Self::HighTech(_) => AudienceClass::HighTech,
            Self::Sme(_) => AudienceClass::Sme,
            Self::Ownership(_, class) => class,
            Self::Citizen => AudienceClass::Individual,
        }
    }

    fn reason(self, as_of: NaiveDate) -> (String, String) {
        match self {
            Self::HighTech(obtained) => (
                format!("{obtained} 取得的高新技术企业认定在 {as_of} 有效"),
                format!("high-tech certification obtained on {obtained} is valid on {as_of}"),
            ),
            Self::Sme(class) => (
                format!("划型为{}", class.label_zh()),
                format!("classified as a {}", class.label_en()),
            ),
            Self::Ownership(ownership, _) => (
                format!("所有制为{}", ownership.label_zh()),
                format!("ownership: {}", ownership.label_en()),
            ),
            Self::Citizen => ("个人用户".to_owned(), "a citizen profile".to_owned()),
        }
    }
}

/// The derived values alone, cheap enough to compute for every profile when facts are built;
/// [`Profile::derived_labels`] adds the reasons.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Derivation {
    pub(crate) years_since_founding: Option<u32>,
    pub(crate) size: Option<SizeAssessment>,
    pub(crate) small_low_profit: Option<bool>,
    pub(crate) age: Option<u32>,
    pub(crate) audience: Vec<AudienceGround>,
}

impl Derivation {
    pub(crate) fn of(profile: &Profile, as_of: NaiveDate) -> Self {
        match profile {
            Profile::Enterprise(enterprise) => Self::of_enterprise(enterprise, as_of),
            Profile::Citizen(citizen) => Self {
                years_since_founding: None,
                size: None,
                small_low_profit: None,
                age: whole_years(citizen.birth_date, as_of),
                audience: vec![AudienceGround::Citizen],
            },
        }
    }

    fn of_enterprise(enterprise: &EnterpriseProfile, as_of: NaiveDate) -> Self {
        let figures = SizeFigures::of(enterprise);
        let size = SmeSector::for_industry(&enterprise.industry).and_then(|sector| {
            Some(SizeAssessment {
                sector,
                class: size_class(sector, &figures)?,
            })
        });
        let high_tech = enterprise
            .certifications
            .iter()
            .flatten()
            .find(|certification| {
                certification.kind == HIGH_TECH && certification.is_valid_on(as_of)
            })
            .map(|certification| AudienceGround::HighTech(certification.obtained_on));
        let sme = size
            .filter(|size| size.class != SizeClass::Large)
            .map(|size| AudienceGround::Sme(size.class));
        let ownership = enterprise.ownership.and_then(|ownership| {
            Some(AudienceGround::Ownership(ownership, ownership.audience()?))
        });
        Self {
            years_since_founding: enterprise
                .founded_on
                .and_then(|founded| whole_years(founded, as_of)),
            size,
            small_low_profit: small_low_profit(enterprise.taxable_income, &figures),
            age: None,
            audience: [high_tech, sme, ownership].into_iter().flatten().collect(),
        }
    }

    pub(crate) fn audience_codes(&self) -> BTreeSet<String> {
        self.audience
            .iter()
            .map(|ground| ground.class().code().to_owned())
            .collect()
    }
}

/// A derived label with the reason it holds, for display (智能画像) and for "why did I get this?".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DerivedLabel {
    pub key: &'static str,
    pub value: Value,
    pub reason_zh: String,
    pub reason_en: String,
}

impl DerivedLabel {
    fn new(
        key: &'static str,
        value: impl Into<Value>,
        reason_zh: String,
        reason_en: String,
    ) -> Self {
        Self {
            key,
            value: value.into(),
            reason_zh,
            reason_en,
        }
    }
}

impl Profile {
    /// The derived labels on `as_of` with their reasons; the same values [`Profile::facts`] holds
    /// under the same keys.
    pub fn derived_labels(&self, as_of: NaiveDate) -> Vec<DerivedLabel> {
        let derivation = Derivation::of(self, as_of);
        let mut labels = match self {
            Self::Enterprise(enterprise) => enterprise_labels(enterprise, &derivation, as_of),
            Self::Citizen(_) => citizen_labels(&derivation, as_of),
        };
        labels.push(audience_label(&derivation, as_of));
        labels
    }
}

fn enterprise_labels(
    enterprise: &EnterpriseProfile,
    derivation: &Derivation,
    as_of: NaiveDate,
) -> Vec<DerivedLabel> {
    let mut labels = Vec::new();
    if let (Some(founded), Some(years)) = (enterprise.founded_on, derivation.years_since_founding) {
        labels.push(DerivedLabel::new(
            "years_since_founding",
            years,
            format!("成立于 {founded}，至 {as_of} 已满 {years} 年"),
            format!("founded on {founded}: {years} full years on {as_of}"),
        ));
    }
    if let Some(size) = derivation.size {
        let (reason_zh, reason_en) = size_reason(size, &SizeFigures::of(enterprise));
        labels.push(DerivedLabel::new(
            "size_class",
            size.class.code(),
            reason_zh,
            reason_en,
        ));
    }
    if let Some(qualifies) = derivation.small_low_profit {
        let (reason_zh, reason_en) = small_low_profit_reason(qualifies, enterprise);
        labels.push(DerivedLabel::new(
            "small_low_profit",
            qualifies,
            reason_zh,
            reason_en,
        ));
    }
    labels
}

fn size_reason(size: SizeAssessment, figures: &SizeFigures) -> (String, String) {
    let rule = size.sector.rule();
    let known = |describe: fn(Measure, f64, &str) -> String| {
        rule.small
            .iter()
            .filter_map(|&(measure, _)| Some(describe(measure, measure.of(figures)?, "")))
            .collect::<Vec<_>>()
    };
    let tier = |tier: Tier, describe: fn(Measure, f64, &str) -> String, joiner: &str| {
        tier.iter()
            .map(|&(measure, minimum)| describe(measure, minimum, " ≥"))
            .collect::<Vec<_>>()
            .join(joiner)
    };
    let (verdict_zh, verdict_en) = match rule.minima(size.class) {
        Some(met) => (
            format!(
                "达到{}标准（{}）",
                size.class.label_zh(),
                tier(met, Measure::describe_zh, "且")
            ),
            format!(
                "meets the {} threshold ({})",
                size.class.label_en(),
                tier(met, Measure::describe_en, " and ")
            ),
        ),
        None => (
            format!(
                "未达到小型企业标准（{}）",
                tier(rule.small, Measure::describe_zh, "且")
            ),
            format!(
                "below the small-enterprise threshold ({})",
                tier(rule.small, Measure::describe_en, " and ")
            ),
        ),
    };
    (
        format!(
            "依据《中小企业划型标准规定》（工信部联企业〔2011〕300号），{}：{}；{}，为{}",
            size.sector.label_zh(),
            known(Measure::describe_zh).join("，"),
            verdict_zh,
            size.class.label_zh()
        ),
        format!(
            "Under the 2011 SME classification standard, {}: {}; {}: {}",
            size.sector.label_en(),
            known(Measure::describe_en).join(", "),
            verdict_en,
            size.class.label_en()
        ),
    )
}

fn small_low_profit_reason(qualifies: bool, enterprise: &EnterpriseProfile) -> (String, String) {
    let mut zh = Vec::new();
    let mut en = Vec::new();
    if let Some(income) = enterprise.taxable_income {
        zh.push(format!(
            "应纳税所得额 {income} 万元（上限 {SMALL_LOW_PROFIT_MAX_TAXABLE_INCOME}）"
        ));
        en.push(format!(
            "taxable income {income} (cap {SMALL_LOW_PROFIT_MAX_TAXABLE_INCOME}, 10k CNY)"
        ));
    }
    if let Some(employees) = enterprise.employees {
        zh.push(format!(
            "从业人数 {employees} 人（上限 {SMALL_LOW_PROFIT_MAX_EMPLOYEES}）"
        ));
        en.push(format!(
            "{employees} employees (cap {SMALL_LOW_PROFIT_MAX_EMPLOYEES})"
        ));
    }
    if let Some(assets) = enterprise.total_assets {
        zh.push(format!(
            "资产总额 {assets} 万元（上限 {SMALL_LOW_PROFIT_MAX_TOTAL_ASSETS}）"
        ));
        en.push(format!(
            "total assets {assets} (cap {SMALL_LOW_PROFIT_MAX_TOTAL_ASSETS}, 10k CNY)"
        ));
    }
    let (verdict_zh, verdict_en) = if qualifies {
        ("符合小型微利企业条件", "a small low-profit enterprise")
    } else {
        (
            "超过小型微利企业上限",
            "over a small low-profit enterprise cap",
        )
    };
    (
        format!("{}：{verdict_zh}", zh.join("，")),
        format!("{}: {verdict_en}", en.join(", ")),
    )
}

fn citizen_labels(derivation: &Derivation, as_of: NaiveDate) -> Vec<DerivedLabel> {
    let Some(age) = derivation.age else {
        return Vec::new();
    };
    // The reason leaves the birth date out: whoever reads the label may not read the date.
    let band = AgeBand::for_age(age);
    vec![
        DerivedLabel::new(
            "age",
            age,
            format!("至 {as_of} 年满 {age} 周岁"),
            format!("{age} full years on {as_of}"),
        ),
        DerivedLabel::new(
            "age_band",
            band.code(),
            format!("{age} 周岁，属于{}", band.label_zh()),
            format!("aged {age}: {}", band.label_en()),
        ),
    ]
}

fn audience_label(derivation: &Derivation, as_of: NaiveDate) -> DerivedLabel {
    let reasons: Vec<_> = derivation
        .audience
        .iter()
        .map(|ground| {
            let class = ground.class();
            let (why_zh, why_en) = ground.reason(as_of);
            (
                format!("{}：{why_zh}", class.label_zh()),
                format!("{}: {why_en}", class.label_en()),
            )
        })
        .collect();
    let (reason_zh, reason_en) = if reasons.is_empty() {
        (
            "现有信息不足以确定任何对象类别".to_owned(),
            "no audience class follows from the information given".to_owned(),
        )
    } else {
        let (zh, en): (Vec<_>, Vec<_>) = reasons.into_iter().unzip();
        (zh.join("；"), en.join("; "))
    };
    DerivedLabel::new(
        "audience",
        derivation.audience_codes(),
        reason_zh,
        reason_en,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{citizen_json, day, enterprise_json, profile, with};
    use SizeClass::{Large, Medium, Micro, Small};
    use serde_json::json;

    fn figures(
        employees: Option<u32>,
        revenue: Option<f64>,
        total_assets: Option<f64>,
    ) -> SizeFigures {
        SizeFigures {
            employees,
            revenue,
            total_assets,
        }
    }

    /// Employees and revenue, the measures of most sectors.
    fn staffed(employees: u32, revenue: f64) -> SizeFigures {
        figures(Some(employees), Some(revenue), None)
    }

    fn assert_classes(sector: SmeSector, cases: &[(SizeFigures, SizeClass)]) {
        for (figures, expected) in cases {
            assert_eq!(
                size_class(sector, figures),
                Some(*expected),
                "{sector} {figures:?}"
            );
        }
    }

    #[test]
    fn industry_thresholds_at_their_boundaries() {
        assert_classes(
            SmeSector::Industry,
            &[
                (staffed(1000, 40000.0), Large),
                (staffed(999, 40000.0), Medium),
                (staffed(1000, 39999.99), Medium),
                (staffed(300, 2000.0), Medium),
                (staffed(299, 2000.0), Small),
                (staffed(300, 1999.99), Small),
                (staffed(20, 300.0), Small),
                (staffed(19, 300.0), Micro),
                (staffed(20, 299.99), Micro),
                (staffed(5000, 100.0), Micro),
                (staffed(0, 0.0), Micro),
            ],
        );
    }

    #[test]
    fn retail_thresholds_at_their_boundaries() {
        assert_classes(
            SmeSector::Retail,
            &[
                (staffed(300, 20000.0), Large),
                (staffed(299, 20000.0), Medium),
                (staffed(50, 500.0), Medium),
                (staffed(49, 500.0), Small),
                (staffed(50, 499.0), Small),
                (staffed(10, 100.0), Small),
                (staffed(9, 100.0), Micro),
                (staffed(10, 99.9), Micro),
            ],
        );
    }

    #[test]
    fn software_and_it_services_thresholds_at_their_boundaries() {
        assert_classes(
            SmeSector::SoftwareIt,
            &[
                (staffed(300, 10000.0), Large),
                (staffed(300, 9999.0), Medium),
                (staffed(100, 1000.0), Medium),
                (staffed(99, 1000.0), Small),
                (staffed(100, 999.0), Small),
                (staffed(10, 50.0), Small),
                (staffed(9, 50.0), Micro),
                (staffed(10, 49.99), Micro),
            ],
        );
    }

    #[test]
    fn wholesale_thresholds_at_their_boundaries() {
        assert_classes(
            SmeSector::Wholesale,
            &[
                (staffed(200, 40000.0), Large),
                (staffed(199, 40000.0), Medium),
                (staffed(20, 5000.0), Medium),
                (staffed(19, 5000.0), Small),
                (staffed(20, 4999.0), Small),
                (staffed(5, 1000.0), Small),
                (staffed(4, 1000.0), Micro),
                (staffed(5, 999.0), Micro),
            ],
        );
    }

    #[test]
    fn construction_uses_revenue_and_total_assets() {
        let built = |revenue, assets| figures(None, Some(revenue), Some(assets));
        assert_classes(
            SmeSector::Construction,
            &[
                (built(80000.0, 80000.0), Large),
                (built(80000.0, 79999.0), Medium),
                (built(6000.0, 5000.0), Medium),
                (built(6000.0, 4999.0), Small),
                (built(5999.0, 5000.0), Small),
                (built(300.0, 300.0), Small),
                (built(300.0, 299.0), Micro),
                (built(299.0, 300.0), Micro),
            ],
        );
    }

    #[test]
    fn leasing_and_business_services_use_employees_and_total_assets() {
        let leased = |employees, assets| figures(Some(employees), None, Some(assets));
        assert_classes(
            SmeSector::LeasingBusinessServices,
            &[
                (leased(300, 120000.0), Large),
                (leased(299, 120000.0), Medium),
                (leased(100, 8000.0), Medium),
                (leased(100, 7999.0), Small),
                (leased(10, 100.0), Small),
                (leased(10, 99.0), Micro),
                (leased(9, 100.0), Micro),
            ],
        );
    }

    #[test]
    fn real_estate_development_uses_revenue_and_total_assets() {
        let developed = |revenue, assets| figures(None, Some(revenue), Some(assets));
        assert_classes(
            SmeSector::RealEstateDevelopment,
            &[
                (developed(200000.0, 10000.0), Large),
                (developed(200000.0, 9999.0), Medium),
                (developed(1000.0, 5000.0), Medium),
                (developed(999.0, 5000.0), Small),
                (developed(100.0, 2000.0), Small),
                (developed(100.0, 1999.0), Micro),
            ],
        );
    }

    #[test]
    fn single_measure_sectors() {
        let earned = |revenue| figures(None, Some(revenue), None);
        assert_classes(
            SmeSector::Agriculture,
            &[
                (earned(20000.0), Large),
                (earned(19999.0), Medium),
                (earned(500.0), Medium),
                (earned(499.99), Small),
                (earned(50.0), Small),
                (earned(49.99), Micro),
            ],
        );
        let staff = |employees| figures(Some(employees), None, None);
        assert_classes(
            SmeSector::Other,
            &[
                (staff(300), Large),
                (staff(299), Medium),
                (staff(100), Medium),
                (staff(99), Small),
                (staff(10), Small),
                (staff(9), Micro),
            ],
        );
    }

    #[test]
    fn the_remaining_sectors_follow_article_four() {
        for (sector, large, medium, small) in [
            (
                SmeSector::Transport,
                staffed(1000, 30000.0),
                staffed(300, 3000.0),
                staffed(20, 200.0),
            ),
            (
                SmeSector::Warehousing,
                staffed(200, 30000.0),
                staffed(100, 1000.0),
                staffed(20, 100.0),
            ),
            (
                SmeSector::Postal,
                staffed(1000, 30000.0),
                staffed(300, 2000.0),
                staffed(20, 100.0),
            ),
            (
                SmeSector::Accommodation,
                staffed(300, 10000.0),
                staffed(100, 2000.0),
                staffed(10, 100.0),
            ),
            (
                SmeSector::Catering,
                staffed(300, 10000.0),
                staffed(100, 2000.0),
                staffed(10, 100.0),
            ),
            (
                SmeSector::InformationTransmission,
                staffed(2000, 100000.0),
                staffed(100, 1000.0),
                staffed(10, 100.0),
            ),
            (
                SmeSector::PropertyManagement,
                staffed(1000, 5000.0),
                staffed(300, 1000.0),
                staffed(100, 500.0),
            ),
        ] {
            let below = |f: SizeFigures| staffed(f.employees.unwrap() - 1, f.revenue.unwrap());
            assert_classes(
                sector,
                &[
                    (large, Large),
                    (below(large), Medium),
                    (medium, Medium),
                    (below(medium), Small),
                    (small, Small),
                    (below(small), Micro),
                ],
            );
        }
    }

    #[test]
    fn a_missing_figure_leaves_the_class_open_unless_the_known_ones_decide_it() {
        let industry = SmeSector::Industry;
        assert_eq!(size_class(industry, &figures(None, None, None)), None);
        assert_eq!(size_class(industry, &figures(Some(500), None, None)), None);
        assert_eq!(size_class(industry, &figures(Some(2000), None, None)), None);
        assert_eq!(
            size_class(industry, &figures(None, Some(50000.0), None)),
            None
        );
        assert_eq!(
            size_class(industry, &figures(Some(12), None, None)),
            Some(Micro),
            "below 20 employees is micro whatever the revenue"
        );
        assert_eq!(
            size_class(industry, &figures(None, Some(100.0), None)),
            Some(Micro)
        );
        assert_eq!(
            size_class(industry, &figures(Some(50), Some(500.0), Some(1.0))),
            Some(Small),
            "assets are not an industrial measure"
        );
        assert_eq!(
            size_class(
                SmeSector::Construction,
                &figures(Some(50), Some(10000.0), None)
            ),
            None,
            "employees do not stand in for assets"
        );
        assert_eq!(
            size_class(SmeSector::Construction, &figures(None, Some(100.0), None)),
            Some(Micro)
        );
    }

    #[test]
    fn industry_codes_map_to_sectors() {
        for (code, sector) in [
            ("A01", Some(SmeSector::Agriculture)),
            ("A", Some(SmeSector::Agriculture)),
            ("B06", Some(SmeSector::Industry)),
            ("C3911", Some(SmeSector::Industry)),
            ("D4411", Some(SmeSector::Industry)),
            ("E47", Some(SmeSector::Construction)),
            ("F51", Some(SmeSector::Wholesale)),
            ("F5211", Some(SmeSector::Retail)),
            ("F", None),
            ("G53", None),
            ("G54", Some(SmeSector::Transport)),
            ("G5810", Some(SmeSector::Transport)),
            ("G591", Some(SmeSector::Transport)),
            ("G5920", Some(SmeSector::Warehousing)),
            ("G599", Some(SmeSector::Warehousing)),
            ("G59", None),
            ("G60", Some(SmeSector::Postal)),
            ("H61", Some(SmeSector::Accommodation)),
            ("H6210", Some(SmeSector::Catering)),
            ("H", None),
            ("I63", Some(SmeSector::InformationTransmission)),
            ("I64", Some(SmeSector::InformationTransmission)),
            ("I6513", Some(SmeSector::SoftwareIt)),
            ("I", None),
            ("J66", None),
            ("K701", Some(SmeSector::RealEstateDevelopment)),
            ("K7020", Some(SmeSector::PropertyManagement)),
            ("K703", Some(SmeSector::Other)),
            ("K70", None),
            ("L7212", Some(SmeSector::LeasingBusinessServices)),
            ("L", Some(SmeSector::LeasingBusinessServices)),
            ("M73", Some(SmeSector::Other)),
            ("R86", Some(SmeSector::Other)),
            ("S91", None),
            ("T97", None),
        ] {
            assert_eq!(
                SmeSector::for_industry(&IndustryCode::parse(code).unwrap()),
                sector,
                "{code}"
            );
        }
    }

    #[test]
    fn small_low_profit_caps_are_inclusive() {
        let figures = |employees, assets| figures(employees, None, assets);
        assert_eq!(
            small_low_profit(Some(300.0), &figures(Some(300), Some(5000.0))),
            Some(true)
        );
        assert_eq!(
            small_low_profit(Some(0.0), &figures(Some(1), Some(0.0))),
            Some(true)
        );
        assert_eq!(
            small_low_profit(Some(300.01), &figures(Some(300), Some(5000.0))),
            Some(false)
        );
        assert_eq!(
            small_low_profit(Some(300.0), &figures(Some(301), Some(5000.0))),
            Some(false)
        );
        assert_eq!(
            small_low_profit(Some(300.0), &figures(Some(300), Some(5000.01))),
            Some(false)
        );
        assert_eq!(
            small_low_profit(None, &figures(Some(300), Some(5000.0))),
            None
        );
        assert_eq!(
            small_low_profit(Some(300.0), &figures(None, Some(5000.0))),
            None
        );
        assert_eq!(
            small_low_profit(Some(300.0), &figures(Some(300), None)),
            None
        );
        assert_eq!(
            small_low_profit(None, &figures(Some(301), None)),
            Some(false),
            "one figure over its cap decides"
        );
    }

    #[test]
    fn whole_years_turn_on_the_anniversary() {
        let born = day(1990, 3, 7);
        assert_eq!(whole_years(born, day(2008, 3, 6)), Some(17));
        assert_eq!(whole_years(born, day(2008, 3, 7)), Some(18));
        assert_eq!(whole_years(born, day(2008, 12, 31)), Some(18));
        assert_eq!(whole_years(born, born), Some(0));
        assert_eq!(whole_years(born, day(1990, 3, 6)), None);
    }

    #[test]
    fn a_leap_day_birthday_turns_on_the_first_of_march_in_common_years() {
        let born = day(2000, 2, 29);
        assert_eq!(whole_years(born, day(2018, 2, 28)), Some(17));
        assert_eq!(whole_years(born, day(2018, 3, 1)), Some(18));
        assert_eq!(whole_years(born, day(2020, 2, 28)), Some(19));
        assert_eq!(whole_years(born, day(2020, 2, 29)), Some(20));
    }

    #[test]
    fn age_bands_at_their_boundaries() {
        for (age, band) in [
            (0, AgeBand::Child),
            (17, AgeBand::Child),
            (18, AgeBand::Youth),
            (34, AgeBand::Youth),
            (35, AgeBand::Adult),
            (59, AgeBand::Adult),
            (60, AgeBand::Senior),
            (79, AgeBand::Senior),
            (80, AgeBand::Elderly),
            (120, AgeBand::Elderly),
        ] {
            assert_eq!(AgeBand::for_age(age), band, "{age}");
        }
    }

    fn label<'a>(labels: &'a [DerivedLabel], key: &str) -> Option<&'a DerivedLabel> {
        labels.iter().find(|label| label.key == key)
    }

    fn audience(document: serde_json::Value, as_of: NaiveDate) -> Vec<String> {
        let labels = profile(document).derived_labels(as_of);
        label(&labels, "audience")
            .unwrap()
            .value
            .as_set()
            .unwrap()
            .iter()
            .cloned()
            .collect()
    }

    #[test]
    fn the_enterprise_example_is_labelled_with_reasons() {
        let labels = profile(enterprise_json()).derived_labels(day(2025, 6, 1));
        let keys: Vec<&str> = labels.iter().map(|label| label.key).collect();
        assert_eq!(
            keys,
            [
                "years_since_founding",
                "size_class",
                "small_low_profit",
                "audience"
            ]
        );

        let years = label(&labels, "years_since_founding").unwrap();
        assert_eq!(years.value, Value::Number(6.0));
        assert!(
            years.reason_zh.contains("2019-04-12"),
            "{}",
            years.reason_zh
        );

        let size = label(&labels, "size_class").unwrap();
        assert_eq!(size.value, Value::Text("small".into()));
        assert!(
            size.reason_zh.contains("软件和信息技术服务业"),
            "{}",
            size.reason_zh
        );
        assert!(
            size.reason_zh.contains("从业人员 85 人"),
            "{}",
            size.reason_zh
        );
        assert!(
            size.reason_zh.contains("营业收入 4200 万元"),
            "{}",
            size.reason_zh
        );
        assert!(
            size.reason_zh
                .contains("从业人员 ≥ 10 人且营业收入 ≥ 50 万元"),
            "{}",
            size.reason_zh
        );
        assert!(
            size.reason_en.contains("software and IT services"),
            "{}",
            size.reason_en
        );

        let small_low_profit = label(&labels, "small_low_profit").unwrap();
        assert_eq!(small_low_profit.value, Value::Bool(true));
        assert!(
            small_low_profit.reason_zh.contains("应纳税所得额 180 万元"),
            "{}",
            small_low_profit.reason_zh
        );

        let audience = label(&labels, "audience").unwrap();
        assert_eq!(
            audience.value,
            Value::Set(["high_tech", "private", "sme"].map(String::from).into())
        );
        assert!(
            audience.reason_zh.contains("2023-11-30"),
            "{}",
            audience.reason_zh
        );
        assert!(
            audience
                .reason_en
                .contains("classified as a small enterprise"),
            "{}",
            audience.reason_en
        );
    }

    #[test]
    fn a_micro_verdict_names_the_small_threshold_it_misses() {
        let labels = profile(with(enterprise_json(), json!({"employees": 5})))
            .derived_labels(day(2025, 6, 1));
        let size = label(&labels, "size_class").unwrap();
        assert_eq!(size.value, Value::Text("micro".into()));
        assert!(
            size.reason_zh.contains("未达到小型企业标准"),
            "{}",
            size.reason_zh
        );
    }

    #[test]
    fn high_tech_membership_follows_the_certificates_validity_inclusive() {
        assert!(audience(enterprise_json(), day(2026, 11, 29)).contains(&"high_tech".to_owned()));
        assert!(!audience(enterprise_json(), day(2026, 11, 30)).contains(&"high_tech".to_owned()));
        assert!(!audience(enterprise_json(), day(2023, 11, 29)).contains(&"high_tech".to_owned()));
        let other_cert = with(
            enterprise_json(),
            json!({"certifications": [{"kind": "tech_sme", "obtained_on": "2023-01-01"}]}),
        );
        assert!(!audience(other_cert, day(2025, 6, 1)).contains(&"high_tech".to_owned()));
    }

    #[test]
    fn ownership_and_size_place_enterprises_in_audience_classes() {
        let as_of = day(2025, 6, 1);
        let plain = with(enterprise_json(), json!({"certifications": []}));
        assert_eq!(
            audience(
                with(plain.clone(), json!({"ownership": "hk_macao_taiwan"})),
                as_of
            ),
            ["foreign_funded", "sme"]
        );
        assert_eq!(
            audience(
                with(plain.clone(), json!({"ownership": "foreign_funded"})),
                as_of
            ),
            ["foreign_funded", "sme"]
        );
        assert_eq!(
            audience(
                with(plain.clone(), json!({"ownership": "state_owned"})),
                as_of
            ),
            ["sme", "state_owned"]
        );
        assert_eq!(
            audience(
                with(plain.clone(), json!({"ownership": "public_institution"})),
                as_of
            ),
            ["public_institution", "sme"]
        );
        assert_eq!(
            audience(
                with(plain.clone(), json!({"ownership": "collective"})),
                as_of
            ),
            ["sme"]
        );
        let large = with(plain.clone(), json!({"employees": 300, "revenue": 10000}));
        assert_eq!(audience(large, as_of), ["private"]);
        let unknown_size = with(plain, json!({"ownership": null, "employees": null}));
        let labels = profile(unknown_size).derived_labels(as_of);
        let audience = label(&labels, "audience").unwrap();
        assert_eq!(audience.value, Value::Set(BTreeSet::new()));
        assert!(
            audience.reason_en.contains("no audience class"),
            "{}",
            audience.reason_en
        );
    }

    #[test]
    fn labels_needing_missing_figures_are_absent() {
        let bare = json!({"kind": "enterprise", "name": "某公司", "credit_code": enterprise_json()["credit_code"],
            "region": "110108", "industry": "C3911"});
        let labels = profile(bare).derived_labels(day(2025, 6, 1));
        let keys: Vec<&str> = labels.iter().map(|label| label.key).collect();
        assert_eq!(keys, ["audience"]);
    }

    #[test]
    fn citizens_are_labelled_with_age_band_and_individual() {
        let labels = profile(citizen_json()).derived_labels(day(2025, 3, 6));
        assert_eq!(label(&labels, "age").unwrap().value, Value::Number(34.0));
        assert_eq!(
            label(&labels, "age_band").unwrap().value,
            Value::Text("youth".into())
        );
        let age = label(&labels, "age").unwrap();
        assert!(age.reason_zh.contains("34 周岁"), "{}", age.reason_zh);
        for reason in [&age.reason_zh, &age.reason_en] {
            assert!(
                !reason.contains("1990"),
                "the birth date stays out: {reason}"
            );
        }
        assert_eq!(
            label(&labels, "audience").unwrap().value,
            Value::Set(BTreeSet::from(["individual".to_owned()]))
        );
        let on_birthday = profile(citizen_json()).derived_labels(day(2025, 3, 7));
        assert_eq!(
            label(&on_birthday, "age_band").unwrap().value,
            Value::Text("adult".into())
        );
    }
}
