//! The profile model: the closed vocabularies (kind, audience class, ownership, contact role,
//! gender, education, employment status), the input documents callers submit, and the stored
//! [`Profile`] that validation produces. A stored citizen carries the ID number only masked and as
//! a keyed hash; the full number is never part of a `Profile`.

use crate::coded::coded_enum;
use crate::codes::{IndustryCode, RegionCode};
use crate::facts::Value;
use crate::id_number::RawIdNumber;
use crate::uscc::CreditCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

coded_enum! {
    pub enum ProfileKind {
        Enterprise => ("enterprise", "企业", "Enterprise"),
        Citizen => ("citizen", "个人", "Citizen"),
    }
}

coded_enum! {
    /// The policy audience classes of Art. 20 (政策适用对象类别).
    pub enum AudienceClass {
        HighTech => ("high_tech", "高新技术企业", "High-tech enterprise"),
        ForeignFunded => ("foreign_funded", "外资企业", "Foreign-funded enterprise"),
        Sme => ("sme", "中小企业", "Small or medium-sized enterprise"),
        Private => ("private", "民营企业", "Private enterprise"),
        StateOwned => ("state_owned", "国有企业", "State-owned enterprise"),
        PublicInstitution => ("public_institution", "事业单位", "Public institution"),
        Individual => ("individual", "市民群众", "Individual"),
    }
}

coded_enum! {
    pub enum Ownership {
        StateOwned => ("state_owned", "国有", "State-owned"),
        Private => ("private", "民营", "Private"),
        ForeignFunded => ("foreign_funded", "外商投资", "Foreign-funded"),
        HkMacaoTaiwan => ("hk_macao_taiwan", "港澳台投资", "Hong Kong, Macao or Taiwan funded"),
        Collective => ("collective", "集体", "Collective"),
        PublicInstitution => ("public_institution", "事业单位", "Public institution"),
        SocialOrganization => ("social_organization", "社会组织", "Social organisation"),
    }
}

impl Ownership {
    /// The Art. 20 class an ownership form places an organisation in; investment from Hong Kong,
    /// Macao and Taiwan is administered as foreign investment. Collectives and social
    /// organisations have no class of their own.
    pub fn audience(self) -> Option<AudienceClass> {
        match self {
            Self::StateOwned => Some(AudienceClass::StateOwned),
            Self::Private => Some(AudienceClass::Private),
            Self::ForeignFunded | Self::HkMacaoTaiwan => Some(AudienceClass::ForeignFunded),
            Self::PublicInstitution => Some(AudienceClass::PublicInstitution),
            Self::Collective | Self::SocialOrganization => None,
        }
    }
}

coded_enum! {
    pub enum ContactRole {
        LegalRepresentative => ("legal_representative", "法定代表人", "Legal representative"),
        Finance => ("finance", "财务负责人", "Finance"),
        Hr => ("hr", "人事负责人", "Human resources"),
        General => ("general", "联系人", "General contact"),
        Myself => ("self", "本人", "Self"),
    }
}

impl ContactRole {
    /// Pushes fan out by role, so a role must make sense for the kind of profile: `self` only for
    /// a citizen, the officer roles only for an organisation.
    pub fn suits(self, kind: ProfileKind) -> bool {
        match self {
            Self::General => true,
            Self::Myself => kind == ProfileKind::Citizen,
            Self::LegalRepresentative | Self::Finance | Self::Hr => kind == ProfileKind::Enterprise,
        }
    }
}

coded_enum! {
    pub enum Gender {
        Male => ("male", "男", "Male"),
        Female => ("female", "女", "Female"),
    }
}

coded_enum! {
    pub enum Education {
        None => ("none", "无学历", "No formal education"),
        Primary => ("primary", "小学", "Primary school"),
        JuniorHigh => ("junior_high", "初中", "Junior high school"),
        SeniorHigh => ("senior_high", "高中", "Senior high school"),
        Vocational => ("vocational", "中专", "Secondary vocational school"),
        Associate => ("associate", "大专", "Associate degree"),
        Bachelor => ("bachelor", "本科", "Bachelor's degree"),
        Master => ("master", "硕士研究生", "Master's degree"),
        Doctorate => ("doctorate", "博士研究生", "Doctorate"),
    }
}

coded_enum! {
    pub enum EmploymentStatus {
        Employed => ("employed", "在职", "Employed"),
        Unemployed => ("unemployed", "失业", "Unemployed"),
        SelfEmployed => ("self_employed", "自主经营", "Self-employed"),
        Retired => ("retired", "退休", "Retired"),
        Student => ("student", "在校学生", "Student"),
        Flexible => ("flexible", "灵活就业", "Flexibly employed"),
        Graduate => ("graduate", "应届毕业生", "Recent graduate"),
    }
}

/// A citizen's disability as stated: none, or a grade of the 残疾人证 from 1 (most severe) to 4.
/// Stated none differs from not stated: the matcher can then decide disability policies. In JSON
/// `"none"` or the grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disability {
    None,
    Level(u8),
}

/// The word that states "no disability", in JSON and spreadsheet cells.
pub const NO_DISABILITY: &str = "none";

impl Disability {
    pub fn label_zh(self) -> String {
        match self {
            Self::None => "无残疾".to_owned(),
            Self::Level(level) => {
                let grade = match level {
                    1 => "一",
                    2 => "二",
                    3 => "三",
                    4 => "四",
                    other => return format!("{other}级残疾"),
                };
                format!("{grade}级残疾")
            }
        }
    }

    pub fn label_en(self) -> String {
        match self {
            Self::None => "no disability".to_owned(),
            Self::Level(level) => format!("disability grade {level}"),
        }
    }
}

/// A disability as submitted: a grade, or a word (only [`NO_DISABILITY`] is valid); checked by
/// validation so that a bad value is reported against `disability_level`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum DisabilityInput {
    Level(i64),
    Word(String),
}

impl Serialize for Disability {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::None => serializer.serialize_str(NO_DISABILITY),
            Self::Level(level) => serializer.serialize_u8(*level),
        }
    }
}

impl<'de> Deserialize<'de> for Disability {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match DisabilityInput::deserialize(deserializer)? {
            DisabilityInput::Word(word) if word == NO_DISABILITY => Ok(Self::None),
            DisabilityInput::Level(level) => u8::try_from(level)
                .ok()
                .filter(|level| (1..=4).contains(level))
                .map(Self::Level)
                .ok_or_else(|| serde::de::Error::custom("a disability grade is 1 to 4")),
            DisabilityInput::Word(word) => Err(serde::de::Error::custom(format!(
                "“{word}” is neither a disability grade nor “{NO_DISABILITY}”"
            ))),
        }
    }
}

/// Labels of the household circumstances the demo data and the taxonomy use; other well-formed
/// codes are valid flags too.
const KNOWN_HOUSEHOLD_FLAGS: &[(&str, &str, &str)] = &[
    ("low_income", "低收入家庭", "Low-income household"),
    (
        "subsistence",
        "最低生活保障家庭（低保）",
        "Subsistence allowance household",
    ),
    (
        "veteran_family",
        "军人军属、退役军人家庭",
        "Military or veteran family",
    ),
    ("single_parent", "单亲家庭", "Single-parent household"),
    (
        "elderly_living_alone",
        "独居老人",
        "Elderly person living alone",
    ),
    (
        "multi_child",
        "多子女家庭",
        "Household with several children",
    ),
];

/// The household flags the service knows by name, in the order forms list them.
pub fn known_household_flags() -> impl Iterator<Item = &'static str> {
    KNOWN_HOUSEHOLD_FLAGS.iter().map(|&(code, _, _)| code)
}

/// The Chinese and English names of a known household flag.
pub fn household_flag_name(flag: &str) -> Option<(&'static str, &'static str)> {
    KNOWN_HOUSEHOLD_FLAGS
        .iter()
        .find(|(code, _, _)| *code == flag)
        .map(|&(_, zh, en)| (zh, en))
}

/// The certification kind that makes an enterprise a 高新技术企业 audience member.
pub const HIGH_TECH: &str = "high_tech";

/// Labels of the certification kinds the taxonomy seeds; other kinds are valid codes too.
const KNOWN_CERTIFICATIONS: &[(&str, &str, &str)] = &[
    (HIGH_TECH, "高新技术企业", "High-tech enterprise"),
    ("tech_sme", "科技型中小企业", "Technology-based SME"),
    (
        "specialized_new",
        "专精特新中小企业",
        "Specialised and innovative SME",
    ),
    (
        "little_giant",
        "专精特新“小巨人”企业",
        "“Little giant” enterprise",
    ),
    ("innovative_sme", "创新型中小企业", "Innovative SME"),
];

/// The Chinese and English names of a seeded certification kind.
/// The certification kinds the service knows by name, in the order forms list them.
pub fn known_certifications() -> impl Iterator<Item = &'static str> {
    KNOWN_CERTIFICATIONS.iter().map(|&(code, _, _)| code)
}

pub fn certification_name(kind: &str) -> Option<(&'static str, &'static str)> {
    KNOWN_CERTIFICATIONS
        .iter()
        .find(|(code, _, _)| *code == kind)
        .map(|&(_, zh, en)| (zh, en))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    pub email: String,
    pub role: ContactRole,
}

/// A qualification an enterprise holds (高新技术企业认定 and the like).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certification {
    pub kind: String,
    pub obtained_on: NaiveDate,
    pub expires_on: Option<NaiveDate>,
}

impl Certification {
    /// In force on `day`, both ends inclusive; no expiry date means it does not lapse.
    pub fn is_valid_on(&self, day: NaiveDate) -> bool {
        self.obtained_on <= day && self.expires_on.is_none_or(|expires| day <= expires)
    }
}

/// A profile as submitted, before validation. Required fields are `Option` so that a missing one
/// is reported together with every other failure instead of stopping deserialisation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProfileInput {
    Enterprise(EnterpriseInput),
    Citizen(CitizenInput),
}

/// Enterprise fields; required: `name`, `credit_code`, `region`, `industry`. Money in 万元.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseInput {
    pub name: Option<String>,
    pub credit_code: Option<String>,
    pub region: Option<String>,
    pub industry: Option<String>,
    pub ownership: Option<Ownership>,
    pub founded_on: Option<NaiveDate>,
    pub registered_capital: Option<f64>,
    pub employees: Option<i64>,
    pub revenue: Option<f64>,
    pub total_assets: Option<f64>,
    pub taxable_income: Option<f64>,
    /// `None`: not stated (facts absent); `Some(vec![])`: stated to hold none.
    pub certifications: Option<Vec<Certification>>,
    pub interests: Option<Vec<String>>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// Values keyed without the `attr.` prefix.
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// Citizen fields; required: `name`, `residence_region`, and `id_number` when creating (on update
/// it may be left out, keeping the stored identity).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitizenInput {
    pub name: Option<String>,
    pub id_number: Option<RawIdNumber>,
    pub gender: Option<Gender>,
    pub birth_date: Option<NaiveDate>,
    pub hukou_region: Option<String>,
    pub residence_region: Option<String>,
    pub education: Option<Education>,
    pub employment_status: Option<EmploymentStatus>,
    /// The year of graduation (毕业年份), for 应届毕业生 and other graduates.
    pub graduation_year: Option<i64>,
    /// A grade 1–4, or `"none"`: stated to have no disability.
    pub disability_level: Option<DisabilityInput>,
    /// Whether the citizen is a 退役军人 (a veteran), stated either way.
    pub veteran: Option<bool>,
    /// `None`: not stated (facts absent); `Some(vec![])`: stated to have no such circumstances.
    pub household: Option<Vec<String>>,
    pub interests: Option<Vec<String>>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// A validated profile, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Profile {
    Enterprise(EnterpriseProfile),
    Citizen(CitizenProfile),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnterpriseProfile {
    pub name: String,
    pub credit_code: CreditCode,
    pub region: RegionCode,
    pub industry: IndustryCode,
    pub ownership: Option<Ownership>,
    pub founded_on: Option<NaiveDate>,
    pub registered_capital: Option<f64>,
    pub employees: Option<u32>,
    pub revenue: Option<f64>,
    pub total_assets: Option<f64>,
    pub taxable_income: Option<f64>,
    pub certifications: Option<Vec<Certification>>,
    pub interests: Option<BTreeSet<String>>,
    pub contacts: Vec<Contact>,
    /// Typed by the attribute schema at validation, keyed without the `attr.` prefix.
    pub attributes: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CitizenProfile {
    pub name: String,
    /// The ID number's region (first six) and check character, asterisks between.
    pub id_masked: String,
    /// Hex HMAC-SHA256 of the upper-cased ID number under the deployment's [`crate::IdHashKey`].
    pub id_hash: String,
    pub birth_date: NaiveDate,
    pub gender: Gender,
    pub hukou_region: Option<RegionCode>,
    pub residence_region: RegionCode,
    pub education: Option<Education>,
    pub employment_status: Option<EmploymentStatus>,
    #[serde(default)]
    pub graduation_year: Option<i32>,
    /// `None`: not stated.
    pub disability_level: Option<Disability>,
    #[serde(default)]
    pub veteran: Option<bool>,
    pub household: Option<BTreeSet<String>>,
    pub interests: Option<BTreeSet<String>>,
    pub contacts: Vec<Contact>,
    pub attributes: BTreeMap<String, Value>,
}

/// Accessors for the columns the storage layer indexes; codes come back in their canonical text.
impl Profile {
    pub fn kind(&self) -> ProfileKind {
        match self {
            Self::Enterprise(_) => ProfileKind::Enterprise,
            Self::Citizen(_) => ProfileKind::Citizen,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Enterprise(enterprise) => &enterprise.name,
            Self::Citizen(citizen) => &citizen.name,
        }
    }

    /// Where the profile is served: an enterprise's registered region, a citizen's residence.
    pub fn region(&self) -> &str {
        match self {
            Self::Enterprise(enterprise) => enterprise.region.as_str(),
            Self::Citizen(citizen) => citizen.residence_region.as_str(),
        }
    }

    pub fn credit_code(&self) -> Option<&str> {
        match self {
            Self::Enterprise(enterprise) => Some(enterprise.credit_code.as_str()),
            Self::Citizen(_) => None,
        }
    }

    pub fn id_hash(&self) -> Option<&str> {
        match self {
            Self::Enterprise(_) => None,
            Self::Citizen(citizen) => Some(&citizen.id_hash),
        }
    }

    pub fn industry(&self) -> Option<&str> {
        match self {
            Self::Enterprise(enterprise) => Some(enterprise.industry.as_str()),
            Self::Citizen(_) => None,
        }
    }

    pub fn contacts(&self) -> &[Contact] {
        match self {
            Self::Enterprise(enterprise) => &enterprise.contacts,
            Self::Citizen(citizen) => &citizen.contacts,
        }
    }

    /// `None` when the profile never stated its interests.
    pub fn interests(&self) -> Option<&BTreeSet<String>> {
        match self {
            Self::Enterprise(enterprise) => enterprise.interests.as_ref(),
            Self::Citizen(citizen) => citizen.interests.as_ref(),
        }
    }

    /// Replaces each interest that `current` maps (a topic merged or renamed since) by the code
    /// it now has; whether any changed.
    pub fn retarget_interests(&mut self, current: &BTreeMap<String, String>) -> bool {
        let interests = match self {
            Self::Enterprise(enterprise) => enterprise.interests.as_mut(),
            Self::Citizen(citizen) => citizen.interests.as_mut(),
        };
        let Some(interests) = interests else {
            return false;
        };
        if !interests.iter().any(|code| current.contains_key(code)) {
            return false;
        }
        *interests = std::mem::take(interests)
            .into_iter()
            .map(|code| current.get(&code).cloned().unwrap_or(code))
            .collect();
        true
    }

    pub fn attributes(&self) -> &BTreeMap<String, Value> {
        match self {
            Self::Enterprise(enterprise) => &enterprise.attributes,
            Self::Citizen(citizen) => &citizen.attributes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coded::Coded;
    use crate::test_support::{
        citizen_id, citizen_json, day, enterprise_json, input, profile, with,
    };
    use serde_json::json;

    #[test]
    fn interests_move_to_the_code_their_topic_has_now() {
        let mut enterprise = profile(with(
            enterprise_json(),
            json!({"interests": ["rnd_old", "rnd", "tax"]}),
        ));
        let moves = BTreeMap::from([("rnd_old".to_owned(), "rnd".to_owned())]);
        assert!(enterprise.retarget_interests(&moves));
        let interests: Vec<&str> = enterprise
            .interests()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(interests, ["rnd", "tax"]);
        assert!(
            !enterprise.retarget_interests(&moves),
            "nothing left to move"
        );
        let mut silent = profile(with(enterprise_json(), json!({"interests": null})));
        assert!(!silent.retarget_interests(&moves));
        assert_eq!(silent.interests(), None, "no interests stated stays so");
    }

    #[test]
    fn the_kind_tag_selects_the_input_type() {
        assert!(matches!(
            input(enterprise_json()),
            ProfileInput::Enterprise(_)
        ));
        let ProfileInput::Citizen(citizen) = input(citizen_json()) else {
            panic!("citizen expected")
        };
        assert_eq!(citizen.id_number.unwrap().expose(), citizen_id());
        assert_eq!(citizen.gender, Some(Gender::Female));
        assert!(
            serde_json::from_value::<ProfileInput>(with(
                enterprise_json(),
                json!({"kind": "robot"})
            ))
            .is_err()
        );
        let mut untagged = enterprise_json();
        untagged.as_object_mut().unwrap().remove("kind");
        assert!(serde_json::from_value::<ProfileInput>(untagged).is_err());
    }

    #[test]
    fn unknown_fields_are_rejected_in_both_kinds() {
        let error =
            serde_json::from_value::<ProfileInput>(with(enterprise_json(), json!({"revenu": 10})))
                .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `revenu`"),
            "{error}"
        );
        let smuggled = with(citizen_json(), json!({"id_hash": "00"}));
        let error = serde_json::from_value::<ProfileInput>(smuggled).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `id_hash`"),
            "{error}"
        );
        let nested = with(
            enterprise_json(),
            json!({"contacts": [{"name": "王敏", "email": "a@b.cn", "role": "hr", "phone": "1"}]}),
        );
        assert!(serde_json::from_value::<ProfileInput>(nested).is_err());
        let citizen_field_on_enterprise = with(enterprise_json(), json!({"gender": "male"}));
        assert!(serde_json::from_value::<ProfileInput>(citizen_field_on_enterprise).is_err());
    }

    #[test]
    fn the_full_id_number_is_unreachable_from_a_stored_profile() {
        let id = citizen_id();
        let stored = profile(citizen_json());
        let serialised = serde_json::to_string(&stored).unwrap();
        let debug = format!("{stored:?}");
        let pretty_debug = format!("{stored:#?}");
        for output in [&serialised, &debug, &pretty_debug] {
            assert!(!output.contains(&id), "{output}");
            assert!(!output.contains(&id[..14]), "{output}");
            assert!(!output.contains(&id[6..14]), "{output}");
        }
        assert!(serialised.contains(&format!("110105***********{}", &id[17..])));
        assert!(
            !format!("{:?}", input(citizen_json())).contains(&id),
            "inputs may be logged too"
        );
    }

    #[test]
    fn stored_profiles_round_trip_through_json() {
        for stored in [profile(enterprise_json()), profile(citizen_json())] {
            let json = serde_json::to_value(&stored).unwrap();
            assert_eq!(json["kind"], json!(stored.kind().code()));
            assert_eq!(serde_json::from_value::<Profile>(json).unwrap(), stored);
        }
    }

    #[test]
    fn accessors_expose_the_indexed_columns() {
        let enterprise = profile(enterprise_json());
        assert_eq!(enterprise.kind(), ProfileKind::Enterprise);
        assert_eq!(enterprise.name(), "北京智芯科技有限公司");
        assert_eq!(enterprise.region(), "110108");
        assert_eq!(
            enterprise.credit_code(),
            enterprise_json()["credit_code"].as_str()
        );
        assert_eq!(enterprise.industry(), Some("I6513"));
        assert_eq!(enterprise.id_hash(), None);
        assert_eq!(enterprise.contacts()[0].email, "wangmin@example.com");
        assert_eq!(enterprise.interests().unwrap().len(), 2);
        assert_eq!(enterprise.attributes().len(), 1);

        let citizen = profile(citizen_json());
        assert_eq!(citizen.kind(), ProfileKind::Citizen);
        assert_eq!(citizen.region(), "110105");
        assert_eq!((citizen.credit_code(), citizen.industry()), (None, None));
        assert_eq!(citizen.id_hash().map(str::len), Some(64));
        assert_eq!(citizen.contacts()[0].role, ContactRole::Myself);
    }

    #[test]
    fn certifications_are_valid_between_their_dates_inclusive() {
        let certification = Certification {
            kind: HIGH_TECH.into(),
            obtained_on: day(2023, 11, 30),
            expires_on: Some(day(2026, 11, 29)),
        };
        assert!(!certification.is_valid_on(day(2023, 11, 29)));
        assert!(certification.is_valid_on(day(2023, 11, 30)));
        assert!(certification.is_valid_on(day(2026, 11, 29)));
        assert!(!certification.is_valid_on(day(2026, 11, 30)));
        let open_ended = Certification {
            expires_on: None,
            ..certification
        };
        assert!(open_ended.is_valid_on(day(2099, 1, 1)));
    }

    #[test]
    fn ownership_maps_to_article_20_classes() {
        assert_eq!(
            Ownership::HkMacaoTaiwan.audience(),
            Some(AudienceClass::ForeignFunded)
        );
        assert_eq!(
            Ownership::ForeignFunded.audience(),
            Some(AudienceClass::ForeignFunded)
        );
        assert_eq!(Ownership::Private.audience(), Some(AudienceClass::Private));
        assert_eq!(
            Ownership::StateOwned.audience(),
            Some(AudienceClass::StateOwned)
        );
        assert_eq!(
            Ownership::PublicInstitution.audience(),
            Some(AudienceClass::PublicInstitution)
        );
        assert_eq!(Ownership::Collective.audience(), None);
        assert_eq!(Ownership::SocialOrganization.audience(), None);
    }

    #[test]
    fn vocabularies_use_the_data_model_codes() {
        assert_eq!(
            AudienceClass::codes(),
            [
                "high_tech",
                "foreign_funded",
                "sme",
                "private",
                "state_owned",
                "public_institution",
                "individual"
            ]
        );
        assert_eq!(
            ContactRole::codes(),
            ["legal_representative", "finance", "hr", "general", "self"]
        );
        assert_eq!(
            serde_json::to_value(ContactRole::Myself).unwrap(),
            json!("self")
        );
        assert!(
            ContactRole::Myself.suits(ProfileKind::Citizen)
                && !ContactRole::Myself.suits(ProfileKind::Enterprise)
        );
        assert!(
            ContactRole::Hr.suits(ProfileKind::Enterprise)
                && !ContactRole::Hr.suits(ProfileKind::Citizen)
        );
        assert!(
            ContactRole::General.suits(ProfileKind::Enterprise)
                && ContactRole::General.suits(ProfileKind::Citizen)
        );
        assert_eq!(
            certification_name("little_giant").map(|(zh, _)| zh),
            Some("专精特新“小巨人”企业")
        );
        assert_eq!(certification_name("iso9001"), None);
        assert_eq!(
            household_flag_name("subsistence").map(|(zh, _)| zh),
            Some("最低生活保障家庭（低保）")
        );
        assert_eq!(household_flag_name("pets"), None);
        assert_eq!(Disability::None.label_zh(), "无残疾");
        assert_eq!(Disability::Level(2).label_zh(), "二级残疾");
        assert_eq!(
            serde_json::to_value([Disability::None, Disability::Level(2)]).unwrap(),
            json!(["none", 2])
        );
        assert_eq!(
            serde_json::from_value::<Vec<Disability>>(json!(["none", 2])).unwrap(),
            [Disability::None, Disability::Level(2)]
        );
        assert!(serde_json::from_value::<Disability>(json!(5)).is_err());
    }
}
