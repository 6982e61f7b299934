//! The policy calculator (政策计算器) behind `POST /api/v1/match/preview` and the `/calculator`
//! page: a profile with as much or as little as the visitor knows, checked like a stored one where
//! a field is given, matched on exactly the facts given — an absent fact leaves its conditions
//! 待确认 — and never stored. Callers who are not signed in are limited per client address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::NaiveDate;
use matching::ProfileMatches;
use profiles::schema::{CERTIFICATION_EXPIRY_PREFIX, CERTIFICATION_PREFIX};
use profiles::{Facts, Gender, ProfileInput, RawIdNumber};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// What the public pages need to know about the deployment.
#[derive(Clone, Debug)]
pub struct PortalSettings {
    /// Base URL of the service as the public reaches it, without a trailing slash: canonical
    /// URLs and the sitemap name it.
    pub public_url: String,
    /// Calculator runs per client address for callers who are not signed in.
    pub calculator_limit: Arc<RateLimiter>,
}

/// Counts requests per key in fixed windows, in memory: a limit per instance is enough to keep
/// one address from monopolising the matcher, and needs no database round trip per request.
#[derive(Debug)]
pub struct RateLimiter {
    per_window: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Keys kept before expired windows are swept out, so the map cannot grow without bound.
const SWEEP_ABOVE: usize = 10_000;

impl RateLimiter {
    pub fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `key`; when it is over the limit, how long until the window ends.
    pub fn hit(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if counts.len() > SWEEP_ABOVE {
            counts.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = counts.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 > self.per_window {
            Err(self.window.saturating_sub(now.duration_since(entry.0)))
        } else {
            Ok(())
        }
    }
}

/// Lets a calculator run go ahead, or answers 429 when an anonymous caller's address has used up
/// its runs; signed-in callers are accountable and not counted.
pub fn allow_run(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if caller.principal().is_some() {
        return Ok(());
    }
    state
        .portal
        .calculator_limit
        .hit(&caller.client)
        .map_err(|wait| {
            let seconds = wait.as_secs().max(1);
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("政策计算器使用过于频繁，请 {seconds} 秒后再试"),
                format!("too many calculator runs; try again in {seconds} seconds"),
            )
        })
}

/// Stand-ins for the identifying fields validation insists on, so that the rest of a partial
/// profile is checked as for a stored one; none of them becomes a fact.
const STAND_IN_NAME: &str = "政策计算器";
const STAND_IN_REGION: &str = "110000";
const STAND_IN_INDUSTRY: &str = "I6513";
const STAND_IN_CREDIT_PREFIX: &str = "91110000MA0000000";
const STAND_IN_BIRTH_DATE: (i32, u32, u32) = (1990, 1, 1);

/// Whether the certificates of a calculator profile come with the dates they were obtained: a
/// form that only asks which certificates a visitor holds sends `as_of` as a stand-in date, and
/// conditions on when a certificate was obtained stay 待确认.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateDates {
    Stated,
    Unknown,
}

/// The facts a partial profile states on `as_of`, validated field by field as a stored profile's
/// would be (errors name the field under `profile`). Facts derived from something not given are
/// left out, so the matcher treats them as unknown.
pub async fn partial_facts(
    state: &AppState,
    input: ProfileInput,
    as_of: NaiveDate,
    certificate_dates: CertificateDates,
) -> Result<Facts, ApiError> {
    let given = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.trim().is_empty());
    let mut unknown: Vec<String> = Vec::new();
    let input = match input {
        ProfileInput::Enterprise(mut enterprise) => {
            if certificate_dates == CertificateDates::Unknown {
                for certification in enterprise.certifications.iter().flatten() {
                    let kind = &certification.kind;
                    unknown.push(format!("{CERTIFICATION_PREFIX}{kind}"));
                    unknown.push(format!("{CERTIFICATION_EXPIRY_PREFIX}{kind}"));
                }
            }
            if !given(&enterprise.region) {
                enterprise.region = Some(STAND_IN_REGION.to_owned());
                unknown.push("region".into());
            }
            if !given(&enterprise.industry) {
                enterprise.industry = Some(STAND_IN_INDUSTRY.to_owned());
                // Size classes and the audience classes depend on the industry's sector.
                unknown.extend(
                    ["industry", "size_class", "small_low_profit", "audience"].map(String::from),
                );
            }
            if !given(&enterprise.name) {
                enterprise.name = Some(STAND_IN_NAME.to_owned());
            }
            if !given(&enterprise.credit_code) {
                enterprise.credit_code = Some(stand_in_credit_code());
            }
            ProfileInput::Enterprise(enterprise)
        }
        ProfileInput::Citizen(mut citizen) => {
            if !given(&citizen.residence_region) {
                citizen.residence_region = Some(STAND_IN_REGION.to_owned());
                unknown.extend(["region", "residence_region"].map(String::from));
            }
            if !given(&citizen.name) {
                citizen.name = Some(STAND_IN_NAME.to_owned());
            }
            let has_id = citizen
                .id_number
                .as_ref()
                .is_some_and(|id| !id.expose().trim().is_empty());
            if !has_id {
                if citizen.birth_date.is_none() {
                    unknown.extend(["birth_date", "age", "age_band"].map(String::from));
                }
                if citizen.gender.is_none() {
                    unknown.push("gender".into());
                }
                citizen.id_number = Some(stand_in_id_number(citizen.birth_date, citizen.gender));
            }
            ProfileInput::Citizen(citizen)
        }
    };
    let profile = state
        .store
        .check_profile(input)
        .await
        .map_err(|e| ApiError::from(e).under("profile"))?;
    let mut facts = profile.facts(as_of);
    for key in &unknown {
        facts.remove(key);
    }
    Ok(facts)
}

/// Matches a partial profile against the published library on `as_of`: the best `limit` of each
/// of 强相关, 待确认 and 差一项.
pub async fn run(
    state: &AppState,
    input: ProfileInput,
    as_of: NaiveDate,
    limit: usize,
    certificate_dates: CertificateDates,
) -> Result<ProfileMatches, ApiError> {
    let facts = partial_facts(state, input, as_of, certificate_dates).await?;
    Ok(state
        .matching
        .matches_facts(&facts, as_of, limit, matcher::Detail::Full))
}

fn stand_in_credit_code() -> String {
    let check = profiles::uscc::check_char(STAND_IN_CREDIT_PREFIX).unwrap_or('0');
    format!("{STAND_IN_CREDIT_PREFIX}{check}")
}

/// An ID number carrying the given birth date and gender (or stand-ins), so that validation
/// derives the same and checks the rest.
fn stand_in_id_number(birth_date: Option<NaiveDate>, gender: Option<Gender>) -> RawIdNumber {
    let (year, month, day) = STAND_IN_BIRTH_DATE;
    let birth = birth_date
        .or_else(|| NaiveDate::from_ymd_opt(year, month, day))
        .map_or_else(String::new, |d| d.format("%Y%m%d").to_string());
    // The seventeenth digit is odd for men, even for women.
    let sequence = if gender == Some(Gender::Female) {
        "002"
    } else {
        "001"
    };
    let first17 = format!("110101{birth}{sequence}");
    let check = profiles::id_number::check_digit(&first17).unwrap_or('0');
    RawIdNumber::new(format!("{first17}{check}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_refuses_only_past_the_allowance_and_per_key() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.hit("10.0.0.1").is_ok());
        assert!(limiter.hit("10.0.0.1").is_ok());
        let wait = limiter.hit("10.0.0.1").expect_err("third run refused");
        assert!(wait <= Duration::from_secs(60));
        assert!(
            limiter.hit("10.0.0.2").is_ok(),
            "another address has its own count"
        );
    }

    #[test]
    fn stand_ins_pass_their_own_checks() {
        assert!(profiles::CreditCode::parse(&stand_in_credit_code()).is_ok());
        let id = stand_in_id_number(NaiveDate::from_ymd_opt(1985, 6, 30), Some(Gender::Female));
        let parsed = profiles::IdNumber::parse(id.expose()).expect("valid stand-in");
        assert_eq!(parsed.gender(), Gender::Female);
        assert_eq!(
            parsed.birth_date(),
            NaiveDate::from_ymd_opt(1985, 6, 30).unwrap()
        );
    }
}
