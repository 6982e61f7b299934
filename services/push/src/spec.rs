//! What a push is asked to do — its trigger and audience — as stored with the push, and the jobs
//! a schedule can run.

use chrono::{DateTime, Utc};
use profiles::ProfileKind;
use serde::{Deserialize, Serialize};
use store::Frequency;
use utoipa::ToSchema;

/// The trigger of a push, kept with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PushSpec {
    /// A policy was published: its eligible audience (and the undetermined, if it opts in).
    Publish { policy_id: i64 },
    /// Service-centre staff chose policies and an audience.
    Staff(StaffPush),
    /// New matches for recipients who asked for a digest at this frequency.
    Digest { frequency: Frequency },
    /// Application windows closing in `days_before` days, to eligible recipients who have not
    /// confirmed.
    DeadlineReminder { days_before: u32 },
}

/// A targeted push by staff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffPush {
    /// The policies to push; each must be published.
    pub policy_ids: Vec<i64>,
    #[serde(default)]
    pub audience: AudienceSpec,
    /// Shown in the push history.
    #[serde(default)]
    pub note: Option<String>,
    /// Makes a retried request safe: the same key returns the same push.
    #[serde(default)]
    pub request_key: Option<String>,
}

/// Who a staff push may reach, on top of each policy's own eligibility.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceSpec {
    /// GB/T 2260 code the recipient's region must lie within.
    #[serde(default)]
    pub region_within: Option<String>,
    /// GB/T 4754 code the enterprise's industry must lie within.
    #[serde(default)]
    pub industry_within: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub kind: Option<ProfileKind>,
    /// An uploaded list of 统一社会信用代码: only these enterprises.
    #[serde(default)]
    pub credit_codes: Option<Vec<String>>,
}

/// What a schedule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduledJob {
    Digest { frequency: Frequency },
    DeadlineReminder { days_before: u32 },
}

impl ScheduledJob {
    pub fn spec(self) -> PushSpec {
        match self {
            Self::Digest { frequency } => PushSpec::Digest { frequency },
            Self::DeadlineReminder { days_before } => PushSpec::DeadlineReminder { days_before },
        }
    }
}

/// The `(trigger_kind, trigger_key)` a push is unique by.
pub fn trigger_of(
    spec: &PushSpec,
    schedule_run: Option<(i64, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> (String, String) {
    match (spec, schedule_run) {
        (_, Some((schedule_id, run_at))) => (
            "schedule".to_owned(),
            format!("{schedule_id}@{}", run_at.to_rfc3339()),
        ),
        (PushSpec::Publish { policy_id }, None) => {
            let (kind, key, _) = store::publish_trigger(*policy_id);
            (kind.to_owned(), key)
        }
        (PushSpec::Staff(staff), None) => (
            "staff".to_owned(),
            staff
                .request_key
                .clone()
                .unwrap_or_else(|| format!("at:{}", now.timestamp_nanos_opt().unwrap_or_default())),
        ),
        (PushSpec::Digest { frequency }, None) => (
            "manual".to_owned(),
            format!("digest:{frequency:?}:{}", now.to_rfc3339()),
        ),
        (PushSpec::DeadlineReminder { days_before }, None) => (
            "manual".to_owned(),
            format!("deadline:{days_before}:{}", now.to_rfc3339()),
        ),
    }
}

/// Credit codes as stored (upper case, trimmed); malformed ones are kept as given and match nothing.
pub(crate) fn normalized_codes(codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .map(|code| {
            profiles::CreditCode::parse(code)
                .map_or_else(|_| code.clone(), |c| c.as_str().to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_queues_publish_pushes_exactly_as_the_planner_reads_them() {
        let (kind, key, spec) = store::publish_trigger(7);
        let publish = PushSpec::Publish { policy_id: 7 };
        assert_eq!(serde_json::to_value(&publish).unwrap(), spec);
        assert_eq!(
            trigger_of(&publish, None, Utc::now()),
            (kind.to_owned(), key)
        );
    }
}
