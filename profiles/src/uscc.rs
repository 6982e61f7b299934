//! 统一社会信用代码 (unified social credit code, GB 32100-2015): the eighteen-character identity of
//! every registered organisation, its character set, its registration-authority region and its
//! mod-31 check character.

use crate::codes::is_valid_region;
use crate::error::{Checks, Rule, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The 31 characters the code may use, in value order (I, O, S, V and Z are excluded).
const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Position weights 3^i mod 31 for the first seventeen characters.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Organisations registered by national authorities carry the country code rather than a
/// province's.
const NATIONAL_REGISTRATION_REGION: &str = "100000";

fn value_of(c: u8) -> Option<u32> {
    CHARSET
        .iter()
        .position(|&known| known == c)
        .and_then(|index| u32::try_from(index).ok())
}

/// The check character for the first seventeen characters, or `None` when they are not seventeen
/// characters of the code's character set.
pub fn check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != WEIGHTS.len() {
        return None;
    }
    let mut sum = 0;
    for (&c, weight) in bytes.iter().zip(WEIGHTS) {
        sum += value_of(c)? * weight;
    }
    let check = (31 - sum % 31) % 31;
    Some(char::from(CHARSET[check as usize]))
}

/// A validated unified social credit code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

impl CreditCode {
    /// Checks length, character set, the registration-authority region (characters 3–8) and the
    /// check character, reporting every failure. Lower-case input is accepted and upper-cased.
    pub fn parse(code: &str) -> Result<Self, ValidationErrors> {
        let code = code.trim().to_ascii_uppercase();
        if code.chars().count() != 18 {
            return Err(ValidationErrors::single(
                Rule::UsccLength,
                format!(
                    "统一社会信用代码应为 18 位，实际为 {} 位",
                    code.chars().count()
                ),
                format!(
                    "a unified social credit code has 18 characters, not {}",
                    code.chars().count()
                ),
            ));
        }
        let mut checks = Checks::default();
        let bad_chars: String = code
            .chars()
            .filter(|&c| !c.is_ascii() || value_of(c as u8).is_none())
            .collect();
        if !bad_chars.is_empty() {
            checks.fail(
                "",
                Rule::UsccCharset,
                format!("含有不允许的字符“{bad_chars}”（不使用 I、O、S、V、Z）"),
                format!("contains characters “{bad_chars}” outside the code's set (I, O, S, V, Z are not used)"),
            );
        }
        let region = code.get(2..8).unwrap_or_default();
        if !(is_valid_region(region) || region == NATIONAL_REGISTRATION_REGION) {
            checks.fail(
                "",
                Rule::UsccRegion,
                format!("第 3–8 位“{region}”不是有效的登记管理机关行政区划码"),
                format!("characters 3–8 “{region}” are not a registration authority's region code"),
            );
        }
        // Only an all-ASCII code can be split by byte position; others already failed the charset.
        if bad_chars.is_empty() {
            let (first17, given) = code.split_at(17);
            if let Some(expected) = check_char(first17)
                && !given.starts_with(expected)
            {
                checks.fail(
                    "",
                    Rule::UsccChecksum,
                    format!("校验码错误：第 18 位应为“{expected}”，实际为“{given}”"),
                    format!("check character should be “{expected}”, not “{given}”"),
                );
            }
        }
        checks.into_result()?;
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Characters 3–8: the region code of the registration authority.
    pub fn registration_region(&self) -> &str {
        &self.0[2..8]
    }
}

impl TryFrom<String> for CreditCode {
    type Error = ValidationErrors;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::parse(&code)
    }
}

impl From<CreditCode> for String {
    fn from(code: CreditCode) -> Self {
        code.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_check(first17: &str) -> String {
        format!("{first17}{}", check_char(first17).unwrap())
    }

    #[test]
    fn check_char_follows_the_mod_31_weights() {
        // All zeros: sum 0, so the check value is (31 - 0) mod 31 = 0.
        assert_eq!(check_char("00000000000000000"), Some('0'));
        // A single 1 in the first position weighs 1: check value 30, the last character 'Y'.
        assert_eq!(check_char("10000000000000000"), Some('Y'));
        // In the last position it weighs 28: check value 3.
        assert_eq!(check_char("00000000000000001"), Some('3'));
        assert_eq!(check_char("0000000000000000"), None);
        assert_eq!(check_char("9111010800000000I"), None);
    }

    #[test]
    fn published_codes_validate() {
        // The sample code commonly used to explain GB 32100-2015, and a code registered by a
        // national authority (characters 3–8 are 100000, the country code).
        for code in ["91350100M000100Y43", "91100000100003962T"] {
            assert_eq!(CreditCode::parse(code).unwrap().as_str(), code);
        }
    }

    #[test]
    fn generated_codes_validate_and_lower_case_is_normalised() {
        let code = with_check("91110108MA01ABCD1");
        let parsed = CreditCode::parse(&code.to_lowercase()).unwrap();
        assert_eq!(parsed.as_str(), code);
        assert_eq!(parsed.registration_region(), "110108");
    }

    #[test]
    fn wrong_check_character_is_reported_with_the_expected_one() {
        let good = with_check("91110108MA01ABCD1");
        let expected = good.chars().last().unwrap();
        let wrong = if expected == '0' { '1' } else { '0' };
        let bad = format!("{}{wrong}", &good[..17]);
        let errors = CreditCode::parse(&bad).unwrap_err();
        assert!(errors.has("", Rule::UsccChecksum));
        assert!(errors.as_slice()[0].message_en.contains(expected));
        assert_eq!(errors.as_slice().len(), 1);
    }

    #[test]
    fn length_charset_and_region_failures_are_all_reported() {
        assert!(
            CreditCode::parse("91110108MA01ABCD")
                .unwrap_err()
                .has("", Rule::UsccLength)
        );
        assert!(CreditCode::parse("").unwrap_err().has("", Rule::UsccLength));

        let errors = CreditCode::parse("91990000MA01OBCD1X").unwrap_err();
        assert!(errors.has("", Rule::UsccCharset));
        assert!(errors.has("", Rule::UsccRegion));
        assert!(
            !errors.has("", Rule::UsccChecksum),
            "no checksum over characters outside the set"
        );

        let errors = CreditCode::parse("91110108MA01中BCD1X").unwrap_err();
        assert!(errors.has("", Rule::UsccCharset));

        let unknown_province = with_check("91990000MA01ABCD1");
        assert!(
            CreditCode::parse(&unknown_province)
                .unwrap_err()
                .has("", Rule::UsccRegion)
        );
    }

    #[test]
    fn serde_validates() {
        let code = with_check("91110108MA01ABCD1");
        let parsed: CreditCode = serde_json::from_value(serde_json::json!(code)).unwrap();
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            serde_json::json!(code)
        );
        assert!(
            serde_json::from_value::<CreditCode>(serde_json::json!("91110108MA01ABCD10")).is_err()
        );
    }
}
