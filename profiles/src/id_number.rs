//! 公民身份号码 (GB 11643-1999): validation of the eighteen-character citizen ID number, the birth
//! date and gender it encodes, and the only two forms in which it may be kept — masked for display
//! and as a keyed HMAC-SHA256 hash for lookups. The full number lives only in transient values
//! whose `Debug` output never shows it.

use crate::codes::is_valid_region;
use crate::error::{Checks, Rule, ValidationErrors};
use crate::model::Gender;
use chrono::{Datelike, NaiveDate};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::fmt;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_DIGITS: &[u8; 11] = b"10X98765432";

/// Characters the masked form hides: the eight of the birth date and the three of the sequence.
const MASKED_CHARS: usize = 11;

/// The earliest birth year accepted; GB 11643's own worked example was born in 1880. The latest
/// is the service's last accepted day ([`crate::dates::LATEST`]).
const EARLIEST_BIRTH_YEAR: i32 = 1800;

/// Hashing keys shorter than this are rejected: the ID space is small enough to enumerate, so
/// only the secret keeps the hashes from being reversed.
const MIN_KEY_BYTES: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// The check character for the first seventeen digits, or `None` if they are not seventeen ASCII
/// digits.
pub fn check_digit(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != WEIGHTS.len() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(&digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    Some(char::from(CHECK_DIGITS[(sum % 11) as usize]))
}

/// A validated ID number, upper case. Transient: convert it with [`IdNumber::masked`] and
/// [`IdNumber::hash`] before anything is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber {
    number: String,
    birth_date: NaiveDate,
    gender: Gender,
}

impl IdNumber {
    /// Checks length, characters, the region prefix, the birth date and the check digit,
    /// reporting every failure.
    pub fn parse(number: &str) -> Result<Self, ValidationErrors> {
        let number = number.trim().to_ascii_uppercase();
        let bytes = number.as_bytes();
        if number.chars().count() != 18 {
            return Err(ValidationErrors::single(
                Rule::IdLength,
                format!("身份证号码应为 18 位，实际为 {} 位", number.chars().count()),
                format!(
                    "an ID number has 18 characters, not {}",
                    number.chars().count()
                ),
            ));
        }
        if !(bytes[..17].iter().all(u8::is_ascii_digit)
            && (bytes[17].is_ascii_digit() || bytes[17] == b'X'))
        {
            return Err(ValidationErrors::single(
                Rule::IdCharset,
                "身份证号码应为 17 位数字加 1 位数字或 X",
                "an ID number is 17 digits followed by a digit or X",
            ));
        }
        let mut checks = Checks::default();
        let region = &number[..6];
        if !is_valid_region(region) {
            checks.fail(
                "",
                Rule::IdRegion,
                format!("前 6 位“{region}”不是有效的行政区划代码"),
                format!("the first six digits “{region}” are not a region code"),
            );
        }
        let birth_date = NaiveDate::parse_from_str(&number[6..14], "%Y%m%d")
            .ok()
            .filter(|date| date.year() >= EARLIEST_BIRTH_YEAR && *date <= crate::dates::LATEST);
        if birth_date.is_none() {
            checks.fail(
                "",
                Rule::IdBirthDate,
                format!("第 7–14 位“{}”不是有效的出生日期", &number[6..14]),
                format!(
                    "digits 7–14 “{}” are not a valid birth date",
                    &number[6..14]
                ),
            );
        }
        let expected = check_digit(&number[..17]);
        if expected != Some(char::from(bytes[17])) {
            let expected = expected.map(String::from).unwrap_or_default();
            checks.fail(
                "",
                Rule::IdChecksum,
                format!("校验码错误：第 18 位应为“{expected}”"),
                format!("the check character should be “{expected}”"),
            );
        }
        let Some(birth_date) = birth_date else {
            return Err(checks.into_errors());
        };
        checks.into_result()?;
        let gender = if (bytes[16] - b'0') % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        };
        Ok(Self {
            number,
            birth_date,
            gender,
        })
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// From the parity of the seventeenth digit (the sequence code): odd for men, even for women.
    pub fn gender(&self) -> Gender {
        self.gender
    }

    /// The region (first six) and the check character with asterisks between:
    /// `110105***********X`. Birth date and sequence stay hidden: with the age and gender that
    /// other fields reveal, a visible sequence would leave about 33 candidate numbers; hidden, it
    /// leaves about 16,600 (README "Personal data").
    pub fn masked(&self) -> String {
        format!(
            "{}{}{}",
            &self.number[..6],
            "*".repeat(MASKED_CHARS),
            &self.number[17..]
        )
    }

    /// Hex HMAC-SHA256 of the upper-cased number: stable for one key, unrelated across keys.
    pub fn hash(&self, key: &IdHashKey) -> String {
        let mut mac = key.mac.clone();
        mac.update(self.number.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

/// The deployment's secret for hashing ID numbers. Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct IdHashKey {
    mac: HmacSha256,
}

impl IdHashKey {
    pub fn new(secret: &[u8]) -> Result<Self, ValidationErrors> {
        let too_short = || {
            ValidationErrors::single(
                Rule::KeyTooShort,
                format!("身份证号码哈希密钥至少需要 {MIN_KEY_BYTES} 字节"),
                format!("the ID number hashing key needs at least {MIN_KEY_BYTES} bytes"),
            )
        };
        if secret.len() < MIN_KEY_BYTES {
            return Err(too_short());
        }
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| too_short())?;
        Ok(Self { mac })
    }
}

impl fmt::Debug for IdHashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdHashKey(<secret>)")
    }
}

/// An ID number as submitted, not yet validated. It deserialises from a plain string but never
/// serialises, and its `Debug` output shows no digits, so logging an input does not leak it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct RawIdNumber(String);

impl RawIdNumber {
    pub fn new(number: impl Into<String>) -> Self {
        Self(number.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RawIdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawIdNumber(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> IdHashKey {
        IdHashKey::new(secret.as_bytes()).unwrap()
    }

    /// A valid number for a region, birth date and sequence, completed with its check digit.
    fn id(region_birth_sequence: &str) -> String {
        format!(
            "{region_birth_sequence}{}",
            check_digit(region_birth_sequence).unwrap()
        )
    }

    #[test]
    fn the_standards_worked_examples_validate() {
        let beijing = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(
            beijing.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(beijing.gender(), Gender::Female);
        let shantou = IdNumber::parse("440524188001010014").unwrap();
        assert_eq!(
            shantou.birth_date(),
            NaiveDate::from_ymd_opt(1880, 1, 1).unwrap()
        );
        assert_eq!(shantou.gender(), Gender::Male);
    }

    #[test]
    fn check_digit_covers_x_and_rejects_non_digits() {
        assert_eq!(check_digit("11010519491231002"), Some('X'));
        assert_eq!(check_digit("44052418800101001"), Some('4'));
        assert_eq!(check_digit("1101051949123100"), None);
        assert_eq!(check_digit("1101051949123100A"), None);
    }

    #[test]
    fn lower_case_x_and_surrounding_space_are_accepted() {
        let parsed = IdNumber::parse(" 11010519491231002x ").unwrap();
        assert_eq!(parsed.masked(), "110105***********X");
    }

    #[test]
    fn gender_follows_the_parity_of_the_seventeenth_digit() {
        assert_eq!(
            IdNumber::parse(&id("11010819900307123")).unwrap().gender(),
            Gender::Male
        );
        assert_eq!(
            IdNumber::parse(&id("11010819900307124")).unwrap().gender(),
            Gender::Female
        );
    }

    #[test]
    fn a_wrong_check_digit_is_reported() {
        let errors = IdNumber::parse("110105194912310021").unwrap_err();
        assert!(errors.has("", Rule::IdChecksum));
        assert!(errors.as_slice()[0].message_en.contains('X'));
    }

    #[test]
    fn length_and_characters_are_checked_first() {
        assert!(
            IdNumber::parse("11010519491231002")
                .unwrap_err()
                .has("", Rule::IdLength)
        );
        assert!(
            IdNumber::parse("1101051949123100XX")
                .unwrap_err()
                .has("", Rule::IdCharset)
        );
        assert!(
            IdNumber::parse("11010519491231002Y")
                .unwrap_err()
                .has("", Rule::IdCharset)
        );
        assert!(
            IdNumber::parse("11010519491231００2X")
                .unwrap_err()
                .has("", Rule::IdCharset)
        );
    }

    #[test]
    fn region_and_birth_date_failures_are_reported_together() {
        let errors = IdNumber::parse(&id("99010519490231002")).unwrap_err();
        assert!(errors.has("", Rule::IdRegion));
        assert!(errors.has("", Rule::IdBirthDate));
        assert!(!errors.has("", Rule::IdChecksum));
        assert!(
            IdNumber::parse(&id("11010517991231002"))
                .unwrap_err()
                .has("", Rule::IdBirthDate)
        );
        assert!(
            IdNumber::parse(&id("11010520000229002")).is_ok(),
            "2000 is a leap year"
        );
        assert!(
            IdNumber::parse(&id("11010519000229002"))
                .unwrap_err()
                .has("", Rule::IdBirthDate),
            "1900 is not"
        );
    }

    #[test]
    fn masking_keeps_the_region_and_the_check_character_only() {
        let number = id("11010519900307123");
        let masked = IdNumber::parse(&number).unwrap().masked();
        assert_eq!(masked.len(), 18);
        assert_eq!(&masked[..6], "110105");
        assert_eq!(&masked[6..17], "*".repeat(11));
        assert_eq!(&masked[17..], &number[17..]);
    }

    #[test]
    fn debug_output_never_shows_the_full_number() {
        let number = id("11010519900307123");
        let parsed = IdNumber::parse(&number).unwrap();
        let debug = format!("{parsed:?}");
        assert!(!debug.contains(&number), "{debug}");
        assert!(!debug.contains("19900307"), "{debug}");
        let raw = RawIdNumber::new(number.clone());
        assert_eq!(raw.expose(), number);
        assert!(!format!("{raw:?}").contains("19900307"));
    }

    #[test]
    fn hashes_are_stable_hex_and_depend_on_key_and_number() {
        let number = IdNumber::parse("11010519491231002X").unwrap();
        let first = number.hash(&key("first-deployment-secret"));
        assert_eq!(first.len(), 64);
        assert!(
            first
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(first, number.hash(&key("first-deployment-secret")));
        assert_eq!(
            first,
            IdNumber::parse("11010519491231002x")
                .unwrap()
                .hash(&key("first-deployment-secret"))
        );
        assert_ne!(first, number.hash(&key("other-deployment-secret")));
        let other = IdNumber::parse("440524188001010014").unwrap();
        assert_ne!(first, other.hash(&key("first-deployment-secret")));
    }

    #[test]
    fn hash_is_hmac_sha256_over_the_upper_cased_number() {
        // Reference value computed independently (Python's hmac module): HMAC-SHA256(key "0123456789abcdef",
        // message "11010519491231002X").
        let number = IdNumber::parse("11010519491231002x").unwrap();
        assert_eq!(
            number.hash(&key("0123456789abcdef")),
            "dd6a5ba2eed683e7925b20f655c01434a93591983089686662b75f63b85a9c1b"
        );
    }

    #[test]
    fn keys_must_be_long_enough_and_never_print() {
        assert!(
            IdHashKey::new(b"short")
                .unwrap_err()
                .has("", Rule::KeyTooShort)
        );
        let key = key("a-very-secret-deployment-key");
        let debug = format!("{key:?}");
        assert!(!debug.contains("secret-deployment"), "{debug}");
    }
}
