//! Names for the codes that facts and conditions hold — regions (GB/T 2260), industries
//! (GB/T 4754), the closed vocabularies, audience classes, certification kinds, household flags and
//! taxonomy topics — so that explanations show "海淀区" and "女", never `110108` or `female`.
//! Codes of open vocabularies the service knows better (the taxonomy's topics and
//! qualifications) come in through [`CodeNames`].

use std::collections::HashMap;
use std::sync::OnceLock;

use profiles::coded::Coded;
use profiles::codes::{IndustryDivision, industry_divisions, industry_section, known_region};
use profiles::model::certification_name;
use profiles::{
    AgeBand, AudienceClass, Education, EmploymentStatus, Gender, Ownership, ProfileKind, SizeClass,
};

/// Names of open-vocabulary codes by taxonomy dimension (`topic`, `qualification`), supplied by
/// the service from its taxonomy; a code it lacks falls back to the built-in tables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CodeNames {
    names: HashMap<(String, String), (String, String)>,
}

impl CodeNames {
    pub fn insert(&mut self, dimension: &str, code: &str, name_zh: &str, name_en: &str) {
        self.names.insert(
            (dimension.to_owned(), code.to_owned()),
            (name_zh.to_owned(), name_en.to_owned()),
        );
    }

    fn get(&self, dimension: &str, code: &str) -> Option<(String, String)> {
        self.names
            .get(&(dimension.to_owned(), code.to_owned()))
            .cloned()
    }
}

/// The household circumstances DATA_MODEL.md lists; other flags are shown as written.
const HOUSEHOLD: &[(&str, &str, &str)] = &[
    ("low_income", "低收入家庭", "low-income household"),
    (
        "subsistence",
        "最低生活保障家庭",
        "subsistence allowance household",
    ),
    ("veteran_family", "军人军属家庭", "military family"),
    ("single_parent", "单亲家庭", "single-parent household"),
    (
        "elderly_living_alone",
        "独居老人",
        "elderly person living alone",
    ),
    (
        "multi_child",
        "多子女家庭",
        "household with several children",
    ),
];

/// Which code system a field's values belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeSystem {
    Region,
    Industry,
    Kind,
    Ownership,
    SizeClass,
    AgeBand,
    Gender,
    Education,
    EmploymentStatus,
    Audience,
    Certification,
    Household,
    Topic,
}

impl CodeSystem {
    /// The code system of a fact key's values; `None` for free text, numbers and dates.
    pub(crate) fn of_field(field: &str, region_or_industry: Option<bool>) -> Option<Self> {
        Some(match field {
            "region" | "hukou_region" | "residence_region" => Self::Region,
            "industry" => Self::Industry,
            "kind" => Self::Kind,
            "ownership" => Self::Ownership,
            "size_class" => Self::SizeClass,
            "age_band" => Self::AgeBand,
            "gender" => Self::Gender,
            "education" => Self::Education,
            "employment_status" => Self::EmploymentStatus,
            "audience" => Self::Audience,
            "certifications" => Self::Certification,
            "household" => Self::Household,
            "interests" => Self::Topic,
            // Administrator-defined fields typed as regions or industries.
            _ => match region_or_industry {
                Some(true) => Self::Region,
                Some(false) => Self::Industry,
                None => return None,
            },
        })
    }
}

fn coded<T: Coded>(code: &str) -> Option<(String, String)> {
    T::from_code(code).map(|value| (value.label_zh().to_owned(), value.label_en().to_owned()))
}

fn divisions() -> &'static [IndustryDivision] {
    static DIVISIONS: OnceLock<Vec<IndustryDivision>> = OnceLock::new();
    DIVISIONS.get_or_init(industry_divisions)
}

/// A region by name, below the provinces with the name of the area it lies in, since district
/// names repeat (北京市朝阳区, 长春市朝阳区); a code finer than the built-in table (provinces and the
/// demo districts) as an area of its nearest named ancestor. Never the code: people read these
/// texts, and a six-digit code means nothing to them.
fn region_name(code: &str) -> (String, String) {
    let ancestor = |code: &str| {
        let mut at = code.to_owned();
        while let Some(parent) = profiles::codes::region_parent(&at) {
            match known_region(&parent) {
                // "北京市市辖区" only groups the districts; the municipality names them.
                Some(region) if !region.name_zh.ends_with("市辖区") => return Some(region),
                _ => at = parent,
            }
        }
        None
    };
    match (known_region(code), ancestor(code)) {
        (Some(region), Some(within)) => (
            format!("{}{}", within.name_zh, region.name_zh),
            format!("{}, {}", region.name_en, within.name_en),
        ),
        (Some(region), None) => (region.name_zh.to_owned(), region.name_en.to_owned()),
        (None, Some(within)) => (
            format!("{}下辖地区", within.name_zh),
            format!("an area of {}", within.name_en),
        ),
        (None, None) => ("其他地区".to_owned(), "another region".to_owned()),
    }
}

/// An industry by its section or division name; a group or class, which the built-in table does
/// not name, as a class of its division.
fn industry_name(code: &str) -> (String, String) {
    if let Some(section) = industry_section(code) {
        return (section.name_zh.to_owned(), section.name_en.to_owned());
    }
    let division = code
        .get(..3)
        .and_then(|prefix| divisions().iter().find(|division| division.code == prefix));
    match division {
        Some(division) if division.code == code => {
            (division.name_zh.to_owned(), division.name_en.to_owned())
        }
        Some(division) => (
            format!("{}中的细分行业", division.name_zh),
            format!("a class of {}", division.name_en),
        ),
        None => ("其他行业".to_owned(), "another industry".to_owned()),
    }
}

/// The name of one code of `system`; a code no table knows is shown as written.
pub(crate) fn code_name(system: CodeSystem, code: &str, names: &CodeNames) -> (String, String) {
    let named = match system {
        CodeSystem::Region => return region_name(code),
        CodeSystem::Industry => return industry_name(code),
        CodeSystem::Kind => coded::<ProfileKind>(code),
        CodeSystem::Ownership => coded::<Ownership>(code),
        CodeSystem::SizeClass => coded::<SizeClass>(code),
        CodeSystem::AgeBand => coded::<AgeBand>(code),
        CodeSystem::Gender => coded::<Gender>(code),
        CodeSystem::Education => coded::<Education>(code),
        CodeSystem::EmploymentStatus => coded::<EmploymentStatus>(code),
        CodeSystem::Audience => coded::<AudienceClass>(code),
        CodeSystem::Certification => certification_name(code)
            .map(|(zh, en)| (zh.to_owned(), en.to_owned()))
            .or_else(|| names.get("qualification", code)),
        CodeSystem::Household => HOUSEHOLD
            .iter()
            .find(|(known, _, _)| *known == code)
            .map(|&(_, zh, en)| (zh.to_owned(), en.to_owned())),
        CodeSystem::Topic => names.get("topic", code),
    };
    named.unwrap_or_else(|| (code.to_owned(), code.to_owned()))
}

/// The name of a value of fact `field` — a region, an industry, a vocabulary code, a topic of
/// `interests` — for pages that list such values outside an explanation; a value of a field
/// without a code system is shown as written.
pub fn value_name(field: &str, code: &str, names: &CodeNames) -> (String, String) {
    match CodeSystem::of_field(field, None) {
        Some(system) => code_name(system, code, names),
        None => (code.to_owned(), code.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_named_by_their_field() {
        let mut names = CodeNames::default();
        names.insert("topic", "rnd", "研发创新", "R&D");
        assert_eq!(
            value_name("region", "110108", &names),
            ("北京市海淀区".into(), "Haidian District, Beijing".into())
        );
        assert_eq!(value_name("interests", "rnd", &names).0, "研发创新");
        assert_eq!(value_name("audience", "sme", &names).0, "中小企业");
        assert_eq!(value_name("employees", "80", &names).0, "80");
    }

    #[test]
    fn codes_are_named_in_both_languages() {
        let names = CodeNames::default();
        let name = |system, code| code_name(system, code, &names);
        assert_eq!(
            name(CodeSystem::Region, "110108"),
            ("北京市海淀区".into(), "Haidian District, Beijing".into())
        );
        assert_eq!(name(CodeSystem::Region, "220104").0, "长春市朝阳区");
        assert_eq!(name(CodeSystem::Region, "220100").0, "吉林省长春市");
        assert_eq!(name(CodeSystem::Region, "110000").0, "北京市");
        assert_eq!(name(CodeSystem::Region, "110199").0, "北京市下辖地区");
        assert_eq!(name(CodeSystem::Region, "990000").0, "其他地区");
        assert_eq!(
            name(CodeSystem::Industry, "I").0,
            "信息传输、软件和信息技术服务业"
        );
        assert_eq!(name(CodeSystem::Industry, "I65").0, "软件和信息技术服务业");
        assert_eq!(
            name(CodeSystem::Industry, "I6513").0,
            "软件和信息技术服务业中的细分行业"
        );
        assert_eq!(name(CodeSystem::Industry, "Z99").0, "其他行业");
        assert_eq!(
            name(CodeSystem::Gender, "female"),
            ("女".into(), "Female".into())
        );
        assert_eq!(name(CodeSystem::Audience, "sme").0, "中小企业");
        assert_eq!(
            name(CodeSystem::Certification, "high_tech").0,
            "高新技术企业"
        );
        assert_eq!(name(CodeSystem::Household, "low_income").0, "低收入家庭");
        assert_eq!(name(CodeSystem::Topic, "rnd").0, "rnd", "no taxonomy given");
        let mut taxonomy = CodeNames::default();
        taxonomy.insert("topic", "rnd", "研发创新", "R&D");
        assert_eq!(code_name(CodeSystem::Topic, "rnd", &taxonomy).0, "研发创新");
    }
}
