//! Turning a submitted [`ProfileInput`] into a stored [`Profile`]: every rule is checked and every
//! failure reported in one pass, each with the JSON path of the offending value. Codes are
//! normalised (trimmed, upper-cased, canonical), the citizen ID number is reduced to its masked
//! form and keyed hash, and the attribute bag is typed by the attribute schema.

use crate::coded::{Coded, is_code};
use crate::codes::{IndustryCode, RegionCode};
use crate::error::{Checks, Rule, ValidationErrors};
use crate::facts::Value;
use crate::id_number::{IdHashKey, IdNumber, RawIdNumber};
use crate::model::{
    Certification, CitizenInput, CitizenProfile, Contact, Disability, DisabilityInput,
    EnterpriseInput, EnterpriseProfile, Gender, NO_DISABILITY, Profile, ProfileInput, ProfileKind,
};
use crate::schema::{ATTRIBUTE_PREFIX, AttributeSchema, FieldType};
use crate::uscc::CreditCode;
use chrono::{Datelike, NaiveDate};
use std::collections::{BTreeMap, BTreeSet};

const MAX_NAME_CHARS: usize = 200;
/// Largest amount (万元) a profile may state, either way.
const MAX_AMOUNT: f64 = 1e12;
const MAX_EMAIL_CHARS: usize = 254;
const MAX_EMAIL_LOCAL_CHARS: usize = 64;
const MAX_DOMAIN_LABEL_CHARS: usize = 63;

impl ProfileInput {
    /// The contacts as submitted.
    pub fn contacts(&self) -> &[Contact] {
        match self {
            Self::Enterprise(input) => &input.contacts,
            Self::Citizen(input) => &input.contacts,
        }
    }

    /// Refuses more than `max` contacts before any of them is checked: every contact is an
    /// address packs go to, so a long list is the shape of abuse rather than of an organisation.
    pub fn check_contact_count(&self, max: usize) -> Result<(), ValidationErrors> {
        let count = self.contacts().len();
        if count <= max {
            return Ok(());
        }
        let mut checks = Checks::default();
        checks.fail(
            "contacts",
            Rule::TooManyContacts,
            format!("联系人最多 {max} 个（当前 {count} 个）"),
            format!("at most {max} contacts are allowed, not {count}"),
        );
        Err(checks.into_errors())
    }

    /// Refuses interests that are not topics of the taxonomy (`topics`, every code it holds,
    /// merged ones included): an interest nothing can carry would never match.
    pub fn check_interests(&self, topics: &BTreeSet<String>) -> Result<(), ValidationErrors> {
        let interests = match self {
            Self::Enterprise(input) => input.interests.as_deref(),
            Self::Citizen(input) => input.interests.as_deref(),
        };
        let mut checks = Checks::default();
        for (index, code) in interests.unwrap_or_default().iter().enumerate() {
            let code = code.trim();
            // Malformed codes are validation's to name.
            if is_code(code) && !topics.contains(code) {
                checks.fail(
                    format!("interests[{index}]"),
                    Rule::UnknownTopic,
                    format!("“{code}”不是政策主题标签"),
                    format!("“{code}” is not a topic of the taxonomy"),
                );
            }
        }
        checks.into_result()
    }

    /// Validates the input into a storable profile. `existing` is the stored profile when this is
    /// an update: a citizen update may then omit `id_number` and keep the stored identity.
    /// `today` (in China) bounds birth and founding dates: nothing is born or founded after it.
    pub fn validate(
        self,
        key: &IdHashKey,
        schema: &AttributeSchema,
        existing: Option<&Profile>,
        today: NaiveDate,
    ) -> Result<Profile, ValidationErrors> {
        match self {
            Self::Enterprise(input) => {
                validate_enterprise(input, schema, today).map(Profile::Enterprise)
            }
            Self::Citizen(input) => {
                let existing = match existing {
                    Some(Profile::Citizen(citizen)) => Some(citizen),
                    _ => None,
                };
                validate_citizen(input, key, schema, existing, today).map(Profile::Citizen)
            }
        }
    }
}

fn validate_enterprise(
    input: EnterpriseInput,
    schema: &AttributeSchema,
    today: NaiveDate,
) -> Result<EnterpriseProfile, ValidationErrors> {
    let mut checks = Checks::default();
    let name = checks.name("name", input.name.as_deref());
    let credit_code = checks.required_code(
        "credit_code",
        input.credit_code.as_deref(),
        CreditCode::parse,
    );
    let region = checks.required_code("region", input.region.as_deref(), RegionCode::parse);
    let industry = checks.required_code("industry", input.industry.as_deref(), IndustryCode::parse);
    checks.date("founded_on", input.founded_on);
    if input.founded_on.is_some_and(|founded| founded > today) {
        checks.fail(
            "founded_on",
            Rule::FoundedInFuture,
            "成立日期晚于今天",
            "the founding date is after today",
        );
    }
    let registered_capital = checks.amount("registered_capital", input.registered_capital);
    let employees = checks.count("employees", input.employees);
    let revenue = checks.amount("revenue", input.revenue);
    let total_assets = checks.amount("total_assets", input.total_assets);
    let taxable_income = checks.signed_amount("taxable_income", input.taxable_income);
    let certifications = input
        .certifications
        .map(|certifications| checks.certifications(certifications, input.founded_on));
    let interests = input
        .interests
        .map(|codes| checks.code_set("interests", codes));
    let contacts = checks.contacts(input.contacts, ProfileKind::Enterprise);
    let attributes = checks.attributes(schema, ProfileKind::Enterprise, input.attributes);

    let (Some(name), Some(credit_code), Some(region), Some(industry)) =
        (name, credit_code, region, industry)
    else {
        return Err(checks.into_errors());
    };
    checks.into_result()?;
    Ok(EnterpriseProfile {
        name,
        credit_code,
        region,
        industry,
        ownership: input.ownership,
        founded_on: input.founded_on,
        registered_capital,
        employees,
        revenue,
        total_assets,
        taxable_income,
        certifications,
        interests,
        contacts,
        attributes,
    })
}

/// What a citizen's ID number leaves behind once validated.
struct Identity {
    masked: String,
    hash: String,
    birth_date: NaiveDate,
    gender: Gender,
}

fn validate_citizen(
    input: CitizenInput,
    key: &IdHashKey,
    schema: &AttributeSchema,
    existing: Option<&CitizenProfile>,
    today: NaiveDate,
) -> Result<CitizenProfile, ValidationErrors> {
    let mut checks = Checks::default();
    let name = checks.name("name", input.name.as_deref());
    checks.date("birth_date", input.birth_date);
    let identity = checks.identity(input.id_number.as_ref(), key, existing);
    if let Some(identity) = &identity {
        checks.agrees_with_identity(identity, input.birth_date, input.gender);
        if identity.birth_date > today {
            // The date comes from the ID number unless it was also given on its own.
            let field = if input.birth_date.is_some() {
                "birth_date"
            } else {
                "id_number"
            };
            checks.fail(
                field,
                Rule::BirthDateInFuture,
                "出生日期晚于今天",
                "the birth date is after today",
            );
        }
    }
    let hukou_region = checks.optional_code(
        "hukou_region",
        input.hukou_region.as_deref(),
        RegionCode::parse,
    );
    let residence_region = checks.required_code(
        "residence_region",
        input.residence_region.as_deref(),
        RegionCode::parse,
    );
    let disability_level = checks.disability_level(input.disability_level);
    let graduation_year = checks.graduation_year(input.graduation_year);
    let household = input
        .household
        .map(|codes| checks.code_set("household", codes));
    let interests = input
        .interests
        .map(|codes| checks.code_set("interests", codes));
    let contacts = checks.contacts(input.contacts, ProfileKind::Citizen);
    let attributes = checks.attributes(schema, ProfileKind::Citizen, input.attributes);

    let (Some(name), Some(identity), Some(residence_region)) = (name, identity, residence_region)
    else {
        return Err(checks.into_errors());
    };
    checks.into_result()?;
    Ok(CitizenProfile {
        name,
        id_masked: identity.masked,
        id_hash: identity.hash,
        birth_date: identity.birth_date,
        gender: identity.gender,
        hukou_region,
        residence_region,
        education: input.education,
        employment_status: input.employment_status,
        graduation_year,
        disability_level,
        veteran: input.veteran,
        household,
        interests,
        contacts,
        attributes,
    })
}

impl Checks {
    /// A given date must lie in the service's accepted range.
    fn date(&mut self, field: &str, date: Option<NaiveDate>) {
        if let Some((zh, en)) = date.and_then(crate::dates::out_of_range) {
            self.fail(field, Rule::OutOfRange, zh, en);
        }
    }

    fn name(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let name = self.required(field, value)?;
        let length = name.chars().count();
        if length > MAX_NAME_CHARS {
            self.fail(
                field,
                Rule::TooLong,
                format!("名称不能超过 {MAX_NAME_CHARS} 个字符（当前 {length} 个）"),
                format!("must be at most {MAX_NAME_CHARS} characters, not {length}"),
            );
            return None;
        }
        Some(name.to_owned())
    }

    fn required_code<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: fn(&str) -> Result<T, ValidationErrors>,
    ) -> Option<T> {
        let text = self.required(field, value)?;
        self.take(field, parse(text))
    }

    /// A blank optional code counts as not given: forms submit empty strings for unset fields.
    fn optional_code<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: fn(&str) -> Result<T, ValidationErrors>,
    ) -> Option<T> {
        let text = value.map(str::trim).filter(|text| !text.is_empty())?;
        self.take(field, parse(text))
    }

    /// A figure that may be negative, such as taxable income after a loss.
    /// An amount in 万元, which may be a loss. Beyond [`MAX_AMOUNT`] it is a mistake, not a
    /// company: a trillion 万元 is more than any economy's output.
    fn signed_amount(&mut self, field: &str, value: Option<f64>) -> Option<f64> {
        let value = value?;
        if !value.is_finite() {
            self.fail(
                field,
                Rule::NotFinite,
                "应为有限数值",
                "must be a finite number",
            );
            None
        } else if value.abs() > MAX_AMOUNT {
            self.fail(
                field,
                Rule::OutOfRange,
                "数值过大（绝对值不能超过一万亿万元）",
                "is too large (at most 10^12 in units of 10,000 yuan either way)",
            );
            None
        } else {
            Some(value)
        }
    }

    fn amount(&mut self, field: &str, value: Option<f64>) -> Option<f64> {
        let value = self.signed_amount(field, value)?;
        if value < 0.0 {
            self.fail(
                field,
                Rule::Negative,
                format!("不能为负数（{value}）"),
                format!("must not be negative ({value})"),
            );
            None
        } else {
            Some(value)
        }
    }

    fn count(&mut self, field: &str, value: Option<i64>) -> Option<u32> {
        let value = value?;
        if value < 0 {
            self.fail(
                field,
                Rule::Negative,
                format!("不能为负数（{value}）"),
                format!("must not be negative ({value})"),
            );
            return None;
        }
        let count = u32::try_from(value).ok();
        if count.is_none() {
            self.fail(
                field,
                Rule::OutOfRange,
                format!("数值过大（{value}）"),
                format!("is too large ({value})"),
            );
        }
        count
    }

    fn disability_level(&mut self, level: Option<DisabilityInput>) -> Option<Disability> {
        let (shown, disability) = match level? {
            DisabilityInput::Word(word) => {
                let none = (word == NO_DISABILITY).then_some(Disability::None);
                (format!("“{word}”"), none)
            }
            DisabilityInput::Level(level) => (
                level.to_string(),
                u8::try_from(level)
                    .ok()
                    .filter(|level| (1..=4).contains(level))
                    .map(Disability::Level),
            ),
        };
        if disability.is_none() {
            self.fail(
                "disability_level",
                Rule::DisabilityLevel,
                format!(
                    "残疾等级应为 1–4 级（1 级最重），无残疾填 “{NO_DISABILITY}”，不能为 {shown}"
                ),
                format!(
                    "disability level must be 1 to 4 (1 most severe), or “{NO_DISABILITY}” for no disability, not {shown}"
                ),
            );
        }
        disability
    }

    /// A graduation year must lie within the years of the accepted date range.
    fn graduation_year(&mut self, year: Option<i64>) -> Option<i32> {
        let year = year?;
        let (first, last) = (crate::dates::EARLIEST.year(), crate::dates::LATEST.year());
        let accepted = i32::try_from(year)
            .ok()
            .filter(|year| (first..=last).contains(year));
        if accepted.is_none() {
            self.fail(
                "graduation_year",
                Rule::OutOfRange,
                format!("毕业年份应在 {first} 至 {last} 年之间，不能为 {year}"),
                format!("the graduation year must be {first} to {last}, not {year}"),
            );
        }
        accepted
    }

    /// Open-vocabulary codes (interests, household flags): any code is accepted as long as it is
    /// well-formed, because the taxonomy grows without code changes.
    fn code_set(&mut self, field: &str, codes: Vec<String>) -> BTreeSet<String> {
        let mut set = BTreeSet::new();
        for (index, code) in codes.iter().enumerate() {
            let code = code.trim();
            if is_code(code) {
                set.insert(code.to_owned());
            } else {
                self.fail(
                    format!("{field}[{index}]"),
                    Rule::CodeSyntax,
                    format!("“{code}”不是有效代码（小写字母开头，仅含小写字母、数字、下划线）"),
                    format!("“{code}” is not a code (lower-case letter, then lower-case letters, digits, underscores)"),
                );
            }
        }
        set
    }

    fn certifications(
        &mut self,
        certifications: Vec<Certification>,
        founded_on: Option<NaiveDate>,
    ) -> Vec<Certification> {
        let mut kinds = BTreeSet::new();
        let mut checked = Vec::with_capacity(certifications.len());
        for (index, certification) in certifications.into_iter().enumerate() {
            let at = format!("certifications[{index}]");
            let kind = certification.kind.trim().to_owned();
            self.date(
                &format!("{at}.obtained_on"),
                Some(certification.obtained_on),
            );
            self.date(&format!("{at}.expires_on"), certification.expires_on);
            if !is_code(&kind) {
                self.fail(
                    format!("{at}.kind"),
                    Rule::CodeSyntax,
                    format!("“{kind}”不是有效的资质代码"),
                    format!("“{kind}” is not a certification code"),
                );
            } else if !kinds.insert(kind.clone()) {
                self.fail(
                    format!("{at}.kind"),
                    Rule::DuplicateCertification,
                    format!("资质“{kind}”重复，每种资质只保留一条（续期请更新日期）"),
                    format!("certification “{kind}” is listed twice; keep one per kind (update the dates on renewal)"),
                );
            }
            if let Some(expires) = certification.expires_on
                && expires < certification.obtained_on
            {
                self.fail(
                    format!("{at}.expires_on"),
                    Rule::DateOrder,
                    format!(
                        "有效期截止日 {expires} 早于取得日 {}",
                        certification.obtained_on
                    ),
                    format!(
                        "expires on {expires}, before it was obtained on {}",
                        certification.obtained_on
                    ),
                );
            }
            if let Some(founded) = founded_on
                && certification.obtained_on < founded
            {
                self.fail(
                    format!("{at}.obtained_on"),
                    Rule::CertifiedBeforeFounding,
                    format!(
                        "取得日 {} 早于企业成立日 {founded}",
                        certification.obtained_on
                    ),
                    format!(
                        "obtained on {}, before the enterprise was founded on {founded}",
                        certification.obtained_on
                    ),
                );
            }
            checked.push(Certification {
                kind,
                ..certification
            });
        }
        checked
    }

    fn contacts(&mut self, contacts: Vec<Contact>, kind: ProfileKind) -> Vec<Contact> {
        let mut checked = Vec::with_capacity(contacts.len());
        for (index, contact) in contacts.into_iter().enumerate() {
            let at = format!("contacts[{index}]");
            let name = self.name(&format!("{at}.name"), Some(&contact.name));
            let email = self.email(&format!("{at}.email"), &contact.email);
            if !contact.role.suits(kind) {
                self.fail(
                    format!("{at}.role"),
                    Rule::ContactRole,
                    format!(
                        "联系人角色“{}”不适用于{}用户",
                        contact.role,
                        kind.label_zh()
                    ),
                    format!(
                        "contact role “{}” does not apply to a {} profile",
                        contact.role, kind
                    ),
                );
            }
            if let (Some(name), Some(email)) = (name, email) {
                checked.push(Contact {
                    name,
                    email,
                    role: contact.role,
                });
            }
        }
        checked
    }

    fn email(&mut self, field: &str, email: &str) -> Option<String> {
        let email = self.required(field, Some(email))?;
        if is_valid_email(email) {
            Some(email.to_owned())
        } else {
            self.fail(
                field,
                Rule::Email,
                format!("“{email}”不是有效的电子邮箱地址"),
                format!("“{email}” is not a valid email address"),
            );
            None
        }
    }

    fn identity(
        &mut self,
        id_number: Option<&RawIdNumber>,
        key: &IdHashKey,
        existing: Option<&CitizenProfile>,
    ) -> Option<Identity> {
        let number = id_number
            .map(|raw| raw.expose().trim())
            .filter(|number| !number.is_empty());
        match (number, existing) {
            (Some(number), _) => {
                let id = self.take("id_number", IdNumber::parse(number))?;
                Some(Identity {
                    masked: id.masked(),
                    hash: id.hash(key),
                    birth_date: id.birth_date(),
                    gender: id.gender(),
                })
            }
            (None, Some(stored)) => Some(Identity {
                masked: stored.id_masked.clone(),
                hash: stored.id_hash.clone(),
                birth_date: stored.birth_date,
                gender: stored.gender,
            }),
            (None, None) => {
                self.fail(
                    "id_number",
                    Rule::Required,
                    "新建个人用户时必须填写身份证号码",
                    "an ID number is required to create a citizen profile",
                );
                None
            }
        }
    }

    /// A birth date or gender given alongside the ID number must be the one the number encodes.
    /// The messages do not repeat the encoded values: error lists end up in logs.
    fn agrees_with_identity(
        &mut self,
        identity: &Identity,
        birth_date: Option<NaiveDate>,
        gender: Option<Gender>,
    ) {
        if let Some(given) = birth_date
            && given != identity.birth_date
        {
            self.fail(
                "birth_date",
                Rule::BirthDateMismatch,
                format!("出生日期 {given} 与身份证号码中的出生日期不一致"),
                format!("birth date {given} differs from the one in the ID number"),
            );
        }
        if let Some(given) = gender
            && given != identity.gender
        {
            self.fail(
                "gender",
                Rule::GenderMismatch,
                format!("性别“{}”与身份证号码不一致", given.label_zh()),
                format!("gender “{given}” differs from the one in the ID number"),
            );
        }
    }

    fn attributes(
        &mut self,
        schema: &AttributeSchema,
        kind: ProfileKind,
        attributes: BTreeMap<String, serde_json::Value>,
    ) -> BTreeMap<String, Value> {
        let mut typed = BTreeMap::new();
        for (name, json) in attributes {
            if json.is_null() {
                continue;
            }
            let field = format!("attributes.{name}");
            let Some(def) = schema.get(&format!("{ATTRIBUTE_PREFIX}{name}")) else {
                self.fail(
                    field,
                    Rule::UnknownAttribute,
                    format!("属性“{name}”未在属性模式中定义"),
                    format!("attribute “{name}” is not defined in the attribute schema"),
                );
                continue;
            };
            if !def.applies_to(kind) {
                self.fail(
                    field,
                    Rule::AttributeNotApplicable,
                    format!("属性“{name}”不适用于{}用户", kind.label_zh()),
                    format!("attribute “{name}” does not apply to a {kind} profile"),
                );
                continue;
            }
            match typed_value(&def.field_type, &json) {
                Some(value) => {
                    typed.insert(name, value);
                }
                None => {
                    let (expected_zh, expected_en) = def.field_type.describe();
                    self.fail(
                        field,
                        Rule::AttributeType,
                        format!("属性“{name}”应为{expected_zh}"),
                        format!("attribute “{name}” must be {expected_en}"),
                    );
                }
            }
        }
        typed
    }
}

/// The fact value of an attribute, or `None` if the JSON does not fit the field's type.
fn typed_value(field_type: &FieldType, json: &serde_json::Value) -> Option<Value> {
    use serde_json::Value as Json;
    match (field_type, json) {
        (FieldType::Bool, Json::Bool(flag)) => Some(Value::Bool(*flag)),
        (FieldType::Number, Json::Number(number)) => number.as_f64().map(Value::Number),
        (FieldType::Text, Json::String(text)) => Some(Value::Text(text.clone())),
        (FieldType::Enum { values }, Json::String(text)) => {
            values.contains(text).then(|| Value::Text(text.clone()))
        }
        (FieldType::Set, Json::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<BTreeSet<_>>>()
            .map(Value::Set),
        (FieldType::Date, Json::String(text)) => text
            .parse::<NaiveDate>()
            .ok()
            .filter(|date| crate::dates::is_supported(*date))
            .map(Value::Date),
        (FieldType::Region, Json::String(text)) => RegionCode::parse(text)
            .ok()
            .map(|code| Value::Text(code.into())),
        (FieldType::Industry, Json::String(text)) => IndustryCode::parse(text)
            .ok()
            .map(|code| Value::Text(code.into())),
        _ => None,
    }
}

/// A deliberately simple address check: one `@`, a dot-atom local part, and a domain of at least
/// two LDH labels ending in an alphabetic top-level label. Internationalised domains must be
/// given in their punycode form.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_is_valid = !local.is_empty()
        && local.len() <= MAX_EMAIL_LOCAL_CHARS
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_is_valid = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= MAX_DOMAIN_LABEL_CHARS
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|top| top.len() >= 2 && top.chars().all(|c| c.is_ascii_alphabetic()));
    email.len() <= MAX_EMAIL_CHARS && local_is_valid && domain_is_valid
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContactRole, Education, EmploymentStatus, Ownership};
    use crate::test_support::{
        citizen_id, citizen_json, credit_code, day, enterprise_json, id_number, input, key,
        profile, schema, today, with,
    };
    use serde_json::json;

    fn errors(document: serde_json::Value) -> ValidationErrors {
        input(document)
            .validate(&key(), &schema(), None, today())
            .unwrap_err()
    }

    fn enterprise(document: serde_json::Value) -> EnterpriseProfile {
        match profile(document) {
            Profile::Enterprise(enterprise) => enterprise,
            Profile::Citizen(_) => panic!("expected an enterprise"),
        }
    }

    fn citizen(document: serde_json::Value) -> CitizenProfile {
        match profile(document) {
            Profile::Citizen(citizen) => citizen,
            Profile::Enterprise(_) => panic!("expected a citizen"),
        }
    }

    #[test]
    fn the_enterprise_example_validates_into_normalised_fields() {
        let stored = enterprise(with(
            enterprise_json(),
            json!({"name": "  北京智芯科技有限公司 ", "credit_code": credit_code("91110108MA01ABCD1").to_lowercase(),
                   "industry": "6513", "interests": [" tax", "rnd", "tax"]}),
        ));
        assert_eq!(stored.name, "北京智芯科技有限公司");
        assert_eq!(
            stored.credit_code.as_str(),
            credit_code("91110108MA01ABCD1")
        );
        assert_eq!(stored.region.as_str(), "110108");
        assert_eq!(stored.industry.as_str(), "I6513");
        assert_eq!(stored.ownership, Some(Ownership::Private));
        assert_eq!(stored.founded_on, Some(day(2019, 4, 12)));
        assert_eq!(stored.employees, Some(85));
        assert_eq!(stored.revenue, Some(4200.0));
        assert_eq!(
            stored.interests,
            Some(BTreeSet::from(["rnd".to_owned(), "tax".to_owned()]))
        );
        assert_eq!(
            stored.certifications.as_ref().unwrap()[0].expires_on,
            Some(day(2026, 11, 29))
        );
        assert_eq!(stored.contacts[0].role, ContactRole::Finance);
        assert_eq!(stored.attributes["export_share"], Value::Number(0.3));
    }

    #[test]
    fn the_citizen_example_keeps_only_the_masked_id_and_its_hash() {
        let stored = citizen(citizen_json());
        assert_eq!(
            stored.id_masked,
            format!("110105***********{}", &citizen_id()[17..])
        );
        let expected_hash = IdNumber::parse(&citizen_id()).unwrap().hash(&key());
        assert_eq!(stored.id_hash, expected_hash);
        assert_eq!(stored.birth_date, day(1990, 3, 7));
        assert_eq!(stored.gender, Gender::Female);
        assert_eq!(stored.education, Some(Education::Bachelor));
        assert_eq!(stored.employment_status, Some(EmploymentStatus::Unemployed));
        assert_eq!(stored.disability_level, None);
        assert_eq!(
            stored.household,
            Some(BTreeSet::from(["low_income".to_owned()]))
        );
    }

    #[test]
    fn birth_date_and_gender_come_from_the_id_when_not_given() {
        let male = id_number("22010419851231135");
        let stored = citizen(
            json!({"kind": "citizen", "name": "张伟", "id_number": male, "residence_region": "220104"}),
        );
        assert_eq!(stored.birth_date, day(1985, 12, 31));
        assert_eq!(stored.gender, Gender::Male);
        assert_eq!(stored.hukou_region, None);
        assert_eq!(stored.household, None, "not stated stays absent, not empty");
    }

    #[test]
    fn every_failure_is_reported_at_once() {
        let errors = errors(
            json!({"kind": "enterprise", "name": " ", "credit_code": "91110108MA01ABCD10",
            "region": "990000", "industry": "I13", "revenue": -1, "employees": -3,
            "contacts": [{"name": "王敏", "email": "wangmin@example.com", "role": "finance"},
                         {"name": "", "email": "not-an-email", "role": "self"}],
            "interests": ["Tax"], "attributes": {"unknown": 1}}),
        );
        for (field, rule) in [
            ("name", Rule::Required),
            ("credit_code", Rule::UsccChecksum),
            ("region", Rule::RegionCode),
            ("industry", Rule::IndustrySection),
            ("revenue", Rule::Negative),
            ("employees", Rule::Negative),
            ("contacts[1].name", Rule::Required),
            ("contacts[1].email", Rule::Email),
            ("contacts[1].role", Rule::ContactRole),
            ("interests[0]", Rule::CodeSyntax),
            ("attributes.unknown", Rule::UnknownAttribute),
        ] {
            assert!(errors.has(field, rule), "missing {field} {rule}: {errors}");
        }
        assert_eq!(errors.as_slice().len(), 11, "{errors}");
        assert!(
            errors
                .iter()
                .all(|error| !error.message_zh.is_empty() && !error.message_en.is_empty())
        );
    }

    #[test]
    fn required_enterprise_fields() {
        let errors = errors(json!({"kind": "enterprise"}));
        for field in ["name", "credit_code", "region", "industry"] {
            assert!(errors.has(field, Rule::Required), "{field}");
        }
    }

    #[test]
    fn names_are_trimmed_and_at_most_200_characters() {
        let longest = "企".repeat(200);
        assert_eq!(
            enterprise(with(enterprise_json(), json!({"name": longest})))
                .name
                .chars()
                .count(),
            200
        );
        let errors = errors(with(enterprise_json(), json!({"name": "企".repeat(201)})));
        assert!(errors.has("name", Rule::TooLong));
    }

    #[test]
    fn credit_code_charset_and_checksum_are_checked() {
        assert!(
            errors(with(
                enterprise_json(),
                json!({"credit_code": "91110108MA01OBCD1X"})
            ))
            .has("credit_code", Rule::UsccCharset)
        );
        let good = credit_code("91110108MA01ABCD1");
        let flipped = format!(
            "{}{}",
            &good[..17],
            if good.ends_with('0') { '1' } else { '0' }
        );
        assert!(
            errors(with(enterprise_json(), json!({"credit_code": flipped})))
                .has("credit_code", Rule::UsccChecksum)
        );
        assert!(
            errors(with(enterprise_json(), json!({"credit_code": "9111"})))
                .has("credit_code", Rule::UsccLength)
        );
    }

    #[test]
    fn id_number_check_digit_region_and_birth_date_are_checked() {
        let bad_check = format!(
            "{}{}",
            &citizen_id()[..17],
            if citizen_id().ends_with('0') {
                '1'
            } else {
                '0'
            }
        );
        assert!(
            errors(with(citizen_json(), json!({"id_number": bad_check})))
                .has("id_number", Rule::IdChecksum)
        );
        let bad_region = id_number("99010519900307124");
        assert!(
            errors(with(citizen_json(), json!({"id_number": bad_region})))
                .has("id_number", Rule::IdRegion)
        );
        let bad_date = id_number("11010519901307124");
        assert!(
            errors(with(citizen_json(), json!({"id_number": bad_date})))
                .has("id_number", Rule::IdBirthDate)
        );
    }

    #[test]
    fn birth_dates_after_today_and_dates_outside_the_range_are_refused() {
        let unborn = id_number("11010520300101123");
        assert!(
            errors(with(citizen_json(), json!({"id_number": unborn})))
                .has("id_number", Rule::BirthDateInFuture)
        );
        let given = with(
            citizen_json(),
            json!({"id_number": unborn, "birth_date": "2030-01-01"}),
        );
        assert!(errors(given).has("birth_date", Rule::BirthDateInFuture));
        let far = id_number("11010522000101123");
        assert!(
            errors(with(citizen_json(), json!({"id_number": far})))
                .has("id_number", Rule::IdBirthDate)
        );
        let founded = with(enterprise_json(), json!({"founded_on": "0000-01-01"}));
        assert!(errors(founded).has("founded_on", Rule::OutOfRange));
        let tomorrow = today().succ_opt().unwrap().to_string();
        let founded = with(enterprise_json(), json!({"founded_on": tomorrow}));
        assert!(errors(founded).has("founded_on", Rule::FoundedInFuture));
        let founded = with(
            enterprise_json(),
            json!({"founded_on": today().to_string(), "certifications": []}),
        );
        assert_eq!(enterprise(founded).founded_on, Some(today()));
        let certified = with(
            enterprise_json(),
            json!({"certifications": [{"kind": "high_tech", "obtained_on": "2020-01-01", "expires_on": "9999-12-31"}]}),
        );
        assert!(errors(certified).has("certifications[0].expires_on", Rule::OutOfRange));
    }

    #[test]
    fn given_birth_date_and_gender_must_agree_with_the_id() {
        let agreeing = with(
            citizen_json(),
            json!({"birth_date": "1990-03-07", "gender": "female"}),
        );
        assert_eq!(citizen(agreeing).birth_date, day(1990, 3, 7));
        let errors = errors(with(
            citizen_json(),
            json!({"birth_date": "1990-03-08", "gender": "male"}),
        ));
        assert!(errors.has("birth_date", Rule::BirthDateMismatch));
        assert!(errors.has("gender", Rule::GenderMismatch));
    }

    #[test]
    fn an_id_number_is_required_to_create_but_not_to_update() {
        let without_id = with(
            citizen_json(),
            json!({"id_number": null, "education": "master"}),
        );
        assert!(errors(without_id.clone()).has("id_number", Rule::Required));

        let stored = profile(citizen_json());
        let updated = input(without_id.clone())
            .validate(&key(), &schema(), Some(&stored), today())
            .unwrap();
        let (Profile::Citizen(before), Profile::Citizen(after)) = (&stored, &updated) else {
            panic!("citizens expected");
        };
        assert_eq!(after.id_hash, before.id_hash);
        assert_eq!(after.id_masked, before.id_masked);
        assert_eq!(after.birth_date, before.birth_date);
        assert_eq!(after.education, Some(Education::Master));

        let contradicting = with(without_id, json!({"birth_date": "1991-01-01"}));
        let errors = input(contradicting)
            .validate(&key(), &schema(), Some(&stored), today())
            .unwrap_err();
        assert!(errors.has("birth_date", Rule::BirthDateMismatch));

        let enterprise = profile(enterprise_json());
        let errors = input(with(citizen_json(), json!({"id_number": ""})))
            .validate(&key(), &schema(), Some(&enterprise), today())
            .unwrap_err();
        assert!(
            errors.has("id_number", Rule::Required),
            "an enterprise's record holds no identity to keep"
        );
    }

    #[test]
    fn a_new_id_number_on_update_replaces_the_identity() {
        let stored = profile(citizen_json());
        let other = id_number("11010519920101002");
        let updated = input(with(
            citizen_json(),
            json!({"id_number": other, "gender": null}),
        ))
        .validate(&key(), &schema(), Some(&stored), today())
        .unwrap();
        assert_eq!(
            updated.id_hash(),
            Some(IdNumber::parse(&other).unwrap().hash(&key()).as_str())
        );
        assert_ne!(updated.id_hash(), stored.id_hash());
    }

    #[test]
    fn region_codes_are_checked_and_blank_optional_ones_are_absent() {
        let errors = errors(with(
            citizen_json(),
            json!({"hukou_region": "1101", "residence_region": null}),
        ));
        assert!(errors.has("hukou_region", Rule::RegionCode));
        assert!(errors.has("residence_region", Rule::Required));
        assert_eq!(
            citizen(with(citizen_json(), json!({"hukou_region": " "}))).hukou_region,
            None
        );
    }

    #[test]
    fn industry_codes_are_checked() {
        assert!(
            errors(with(enterprise_json(), json!({"industry": "I99"})))
                .has("industry", Rule::IndustryCode)
        );
        assert!(
            errors(with(enterprise_json(), json!({"industry": "C65"})))
                .has("industry", Rule::IndustrySection)
        );
    }

    #[test]
    fn certification_dates_must_be_in_order() {
        let same_day = json!({"founded_on": "2023-11-30",
            "certifications": [{"kind": "high_tech", "obtained_on": "2023-11-30", "expires_on": "2023-11-30"}]});
        assert_eq!(
            enterprise(with(enterprise_json(), same_day))
                .certifications
                .unwrap()
                .len(),
            1
        );

        let errors = errors(with(
            enterprise_json(),
            json!({"founded_on": "2020-01-01", "certifications": [
            {"kind": "high_tech", "obtained_on": "2023-11-30", "expires_on": "2023-11-29"},
            {"kind": "tech_sme", "obtained_on": "2019-12-31"}]}),
        ));
        assert!(errors.has("certifications[0].expires_on", Rule::DateOrder));
        assert!(errors.has(
            "certifications[1].obtained_on",
            Rule::CertifiedBeforeFounding
        ));
        assert_eq!(errors.as_slice().len(), 2);
    }

    #[test]
    fn certification_kinds_are_codes_listed_once() {
        let errors = errors(with(
            enterprise_json(),
            json!({"certifications": [
            {"kind": "high_tech", "obtained_on": "2023-11-30"},
            {"kind": "high_tech", "obtained_on": "2020-11-30"},
            {"kind": "高新", "obtained_on": "2020-11-30"}]}),
        ));
        assert!(errors.has("certifications[1].kind", Rule::DuplicateCertification));
        assert!(errors.has("certifications[2].kind", Rule::CodeSyntax));
        let unseeded = with(
            enterprise_json(),
            json!({"certifications": [{"kind": "iso9001", "obtained_on": "2021-01-01"}]}),
        );
        assert_eq!(
            enterprise(unseeded).certifications.unwrap()[0].kind,
            "iso9001"
        );
    }

    #[test]
    fn amounts_beyond_a_trillion_are_refused() {
        let huge = with(
            enterprise_json(),
            json!({"revenue": 1e308, "taxable_income": -2e12}),
        );
        let errors = errors(huge);
        assert!(errors.has("revenue", Rule::OutOfRange), "{errors:?}");
        assert!(errors.has("taxable_income", Rule::OutOfRange), "{errors:?}");
        let large = with(enterprise_json(), json!({"revenue": 1e12}));
        assert_eq!(enterprise(large).revenue, Some(1e12));
    }

    #[test]
    fn amounts_and_counts_must_be_non_negative_and_finite_but_a_loss_is_allowed() {
        let zeros = json!({"registered_capital": 0, "employees": 0, "revenue": 0.0, "total_assets": 0, "taxable_income": 0});
        assert_eq!(
            enterprise(with(enterprise_json(), zeros)).employees,
            Some(0)
        );

        let errors = errors(with(
            enterprise_json(),
            json!({"registered_capital": -0.01, "total_assets": -5,
            "taxable_income": -1, "employees": 4_294_967_296_i64}),
        ));
        assert!(errors.has("registered_capital", Rule::Negative));
        assert!(errors.has("total_assets", Rule::Negative));
        assert!(
            !errors.iter().any(|e| e.field == "taxable_income"),
            "a loss is a valid figure"
        );
        assert!(errors.has("employees", Rule::OutOfRange));

        let ProfileInput::Enterprise(mut spreadsheet) = input(enterprise_json()) else {
            panic!("enterprise")
        };
        spreadsheet.revenue = Some(f64::NAN);
        spreadsheet.total_assets = Some(f64::INFINITY);
        let errors = ProfileInput::Enterprise(spreadsheet)
            .validate(&key(), &schema(), None, today())
            .unwrap_err();
        assert!(errors.has("revenue", Rule::NotFinite));
        assert!(errors.has("total_assets", Rule::NotFinite));
    }

    #[test]
    fn disability_level_is_one_to_four_or_none() {
        for level in [1u8, 4] {
            assert_eq!(
                citizen(with(citizen_json(), json!({"disability_level": level}))).disability_level,
                Some(Disability::Level(level))
            );
        }
        let none = citizen(with(citizen_json(), json!({"disability_level": "none"})));
        assert_eq!(none.disability_level, Some(Disability::None));
        assert_eq!(
            citizen(citizen_json()).disability_level,
            None,
            "null is not stated, unlike none"
        );
        for level in [
            json!(0),
            json!(5),
            json!(-1),
            json!(300),
            json!("无"),
            json!(""),
        ] {
            let errors = errors(with(citizen_json(), json!({"disability_level": level})));
            assert!(
                errors.has("disability_level", Rule::DisabilityLevel),
                "{level}"
            );
        }
        let refused = errors(with(citizen_json(), json!({"disability_level": 0})));
        let error = refused.iter().next().unwrap();
        assert!(
            error.message_zh.contains("none") && error.message_en.contains("none"),
            "{error:?}"
        );
    }

    #[test]
    fn graduates_and_veterans_are_stated_and_stored() {
        let graduate = citizen(with(
            citizen_json(),
            json!({"employment_status": "graduate", "graduation_year": 2026, "veteran": false}),
        ));
        assert_eq!(graduate.employment_status, Some(EmploymentStatus::Graduate));
        assert_eq!(graduate.graduation_year, Some(2026));
        assert_eq!(graduate.veteran, Some(false));
        assert_eq!(EmploymentStatus::Graduate.label_zh(), "应届毕业生");
        for year in [1899_i64, 2200, -5, 1_000_000_000_000] {
            let errors = errors(with(citizen_json(), json!({"graduation_year": year})));
            assert!(errors.has("graduation_year", Rule::OutOfRange), "{year}");
        }
        assert!(
            serde_json::from_value::<ProfileInput>(with(citizen_json(), json!({"veteran": "yes"})))
                .is_err(),
            "a veteran status is a boolean"
        );
    }

    #[test]
    fn unknown_but_well_formed_interests_and_household_flags_are_kept() {
        let stored = citizen(with(
            citizen_json(),
            json!({"interests": ["space_tourism"], "household": ["multi_child", "new_flag_2031"]}),
        ));
        assert!(stored.interests.unwrap().contains("space_tourism"));
        assert!(stored.household.unwrap().contains("new_flag_2031"));
        let errors = errors(with(
            citizen_json(),
            json!({"household": ["low income"], "interests": [""]}),
        ));
        assert!(errors.has("household[0]", Rule::CodeSyntax));
        assert!(errors.has("interests[0]", Rule::CodeSyntax));
    }

    #[test]
    fn contact_roles_must_suit_the_profile_kind() {
        assert!(errors(with(citizen_json(), json!({"contacts": [{"name": "李华", "email": "lihua@example.com", "role": "finance"}]})))
            .has("contacts[0].role", Rule::ContactRole));
        let general = with(
            citizen_json(),
            json!({"contacts": [{"name": "李华", "email": " lihua@example.com ", "role": "general"}]}),
        );
        assert_eq!(citizen(general).contacts[0].email, "lihua@example.com");
    }

    #[test]
    fn email_syntax() {
        for good in [
            "wangmin@example.com",
            "a.b+tag@mail.example.com.cn",
            "x_y-z@sub-domain.gov.cn",
            "1@b.io",
        ] {
            assert!(is_valid_email(good), "{good}");
        }
        let too_long_local = format!("{}@example.com", "a".repeat(65));
        let too_long_label = format!("a@{}.com", "b".repeat(64));
        for bad in [
            "",
            "wangmin",
            "@example.com",
            "wangmin@",
            "wangmin@example",
            "wang min@example.com",
            "wangmin@@example.com",
            ".wangmin@example.com",
            "wang..min@example.com",
            "wangmin@-example.com",
            "wangmin@example.c",
            "wangmin@example.123",
            "王敏@example.com",
            "wangmin@例子.中国",
            "wangmin@example..com",
            &too_long_local,
            &too_long_label,
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn attributes_are_typed_by_the_schema() {
        let stored = enterprise(with(
            enterprise_json(),
            json!({"attributes": {
            "export_share": 0.3, "listed": true, "park": "zgc", "patents": ["cn1", "cn2"],
            "listed_on": "2021-07-22", "branch_region": " 220104", "side_industry": "6513", "note": "2021-07-22",
            "volunteer_hours": null}}),
        ));
        let attributes = stored.attributes;
        assert_eq!(attributes["export_share"], Value::Number(0.3));
        assert_eq!(attributes["listed"], Value::Bool(true));
        assert_eq!(attributes["park"], Value::Text("zgc".into()));
        assert_eq!(
            attributes["patents"],
            Value::Set(BTreeSet::from(["cn1".into(), "cn2".into()]))
        );
        assert_eq!(attributes["listed_on"], Value::Date(day(2021, 7, 22)));
        assert_eq!(attributes["branch_region"], Value::Text("220104".into()));
        assert_eq!(attributes["side_industry"], Value::Text("I6513".into()));
        assert_eq!(attributes["note"], Value::Text("2021-07-22".into()));
        assert!(
            !attributes.contains_key("volunteer_hours"),
            "null is absent, and skipped before the kind check"
        );
    }

    #[test]
    fn attribute_values_of_the_wrong_type_unknown_keys_and_other_kinds_are_rejected() {
        let errors = errors(with(
            enterprise_json(),
            json!({"attributes": {
            "export_share": "0.3", "listed": 1, "park": "haidian", "patents": ["cn1", 2], "listed_on": "2021-13-01",
            "branch_region": "990000", "side_industry": "Z1", "note": 5, "volunteer_hours": 3, "rating": "A"}}),
        ));
        for name in [
            "export_share",
            "listed",
            "park",
            "patents",
            "listed_on",
            "branch_region",
            "side_industry",
            "note",
        ] {
            assert!(
                errors.has(&format!("attributes.{name}"), Rule::AttributeType),
                "{name}: {errors}"
            );
        }
        assert!(errors.has("attributes.volunteer_hours", Rule::AttributeNotApplicable));
        assert!(errors.has("attributes.rating", Rule::UnknownAttribute));
        assert_eq!(errors.as_slice().len(), 10);
        let park = errors
            .iter()
            .find(|error| error.field == "attributes.park")
            .unwrap();
        assert!(
            park.message_en.contains("zgc, yizhuang"),
            "{}",
            park.message_en
        );
    }

    #[test]
    fn built_in_keys_are_not_attributes() {
        assert!(
            errors(with(
                enterprise_json(),
                json!({"attributes": {"revenue": 5}})
            ))
            .has("attributes.revenue", Rule::UnknownAttribute)
        );
    }
}
