//! Schedules: cron expressions (seconds first, Asia/Shanghai) stored in the database. Each tick
//! fires the newest run that came due since the last one — a run missed while the service was
//! down is caught up once, not once per missed tick. With Redis only the elected leader looks;
//! either way a run's push is unique by (schedule, run time) and taking the run is a
//! compare-and-set, so a run fires once even while leadership changes hands.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;
use store::{Schedule, ScheduleInput};

use crate::spec::ScheduledJob;
use crate::{PushError, Pusher};

/// Parses a cron expression, explaining the usual mistake of a five-field crontab line.
pub fn parse_cron(expression: &str) -> Result<cron::Schedule, PushError> {
    let fields = expression.split_whitespace().count();
    if !(6..=7).contains(&fields) {
        return Err(PushError::invalid(
            "cron",
            format!(
                "cron 表达式需要 6 或 7 个字段（秒 分 时 日 月 周 [年]），收到 {fields} 个；例如每天 9 点为 \"0 0 9 * * *\""
            ),
            format!(
                "a cron expression needs 6 or 7 fields (sec min hour day month weekday [year]), got {fields}; e.g. \"0 0 9 * * *\" for 09:00 daily"
            ),
        ));
    }
    cron::Schedule::from_str(expression).map_err(|e| {
        PushError::invalid(
            "cron",
            format!("cron 表达式无法解析：{e}"),
            format!("the cron expression does not parse: {e}"),
        )
    })
}

/// Upcoming runs a new schedule's shortest gap is measured over: enough to catch a burst inside
/// an hour or a day (`0 0,1 9 * * *` runs twice a minute apart each morning).
const RUNS_MEASURED: usize = 32;

/// The shortest time between two of the next [`RUNS_MEASURED`] runs of `cron`, or `None` when it
/// runs at most once more.
fn shortest_gap(cron: &cron::Schedule, from: DateTime<Utc>) -> Option<chrono::Duration> {
    let runs: Vec<_> = cron
        .after(&from.with_timezone(&Shanghai))
        .take(RUNS_MEASURED)
        .collect();
    runs.windows(2).map(|pair| pair[1] - pair[0]).min()
}

/// Checks a schedule before it is saved: its cron expression, that its runs are at least
/// `min_interval` apart (each run may push to every recipient), and its job.
pub fn validate_schedule(
    input: &ScheduleInput,
    min_interval: std::time::Duration,
) -> Result<ScheduledJob, PushError> {
    if input.name.trim().is_empty() {
        return Err(PushError::invalid(
            "name",
            "名称不能为空",
            "the name must not be empty",
        ));
    }
    let cron = parse_cron(&input.cron)?;
    if let Some(gap) = shortest_gap(&cron, Utc::now())
        && gap.to_std().unwrap_or_default() < min_interval
    {
        let (gap, min) = (gap.num_seconds(), min_interval.as_secs());
        return Err(PushError::invalid(
            "cron",
            format!("cron 表达式运行过于频繁：两次运行最短仅相隔 {gap} 秒，至少须相隔 {min} 秒"),
            format!(
                "the cron expression runs too often: runs as little as {gap} s apart, at least {min} s are required"
            ),
        ));
    }
    serde_json::from_value(input.job.clone()).map_err(|e| {
        PushError::invalid(
            "job",
            format!("任务无法识别（digest 或 deadline_reminder）：{e}"),
            format!("unknown job (digest or deadline_reminder): {e}"),
        )
    })
}

/// The newest run of `cron` after `since` and not after `now`.
fn latest_due(
    cron: &cron::Schedule,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    cron.after(&since.with_timezone(&Shanghai))
        .take_while(|run| run.with_timezone(&Utc) <= now)
        .last()
        .map(|run| run.with_timezone(&Utc))
}

impl Pusher {
    /// Fires every schedule whose run came due; returns the number of pushes created.
    pub async fn fire_due_schedules(&self) -> Result<usize, PushError> {
        let store = &self.inner.store;
        let now = store.now();
        let mut fired = 0;
        for schedule in store.schedules().await? {
            if !schedule.enabled {
                continue;
            }
            match self.fire_if_due(&schedule, now).await {
                Ok(true) => fired += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(schedule_id = schedule.id, %error, "schedule run failed");
                }
            }
        }
        Ok(fired)
    }

    async fn fire_if_due(
        &self,
        schedule: &Schedule,
        now: DateTime<Utc>,
    ) -> Result<bool, PushError> {
        let cron = parse_cron(&schedule.cron)?;
        let job: ScheduledJob = serde_json::from_value(schedule.job.0.clone())
            .map_err(|e| PushError::invalid("job", "任务无法识别", e.to_string()))?;
        let since = schedule.last_fired_at.unwrap_or(schedule.created_at);
        let Some(run_at) = latest_due(&cron, since, now) else {
            return Ok(false);
        };
        // The push first: it is unique per run, so a crash between the two steps, or two
        // instances racing, still leaves exactly one push for the run.
        let (push_id, created) = self
            .create_push(&job.spec(), "scheduler", Some((schedule.id, run_at)))
            .await?;
        let taken = self.inner.store.take_schedule_run(schedule, run_at).await?;
        if created {
            tracing::info!(schedule_id = schedule.id, push_id, %run_at, "schedule fired");
        }
        Ok(created && taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn schedule(cron: &str) -> ScheduleInput {
        ScheduleInput {
            name: "digest".to_owned(),
            cron: cron.to_owned(),
            job: serde_json::json!({"kind": "digest", "frequency": "daily"}),
            enabled: true,
        }
    }

    #[test]
    fn runs_closer_than_the_minimum_interval_are_refused_naming_cron() {
        let minute = std::time::Duration::from_secs(60);
        for too_often in ["* * * * * *", "*/30 * * * * *", "0,1 0 9 * * *"] {
            let Err(PushError::Invalid { field, .. }) =
                validate_schedule(&schedule(too_often), minute)
            else {
                panic!("{too_often} must be refused");
            };
            assert_eq!(field, "cron");
        }
        for often_enough in ["0 * * * * *", "0 0 9 * * *", "0 0,1 9 * * *"] {
            assert!(
                validate_schedule(&schedule(often_enough), minute).is_ok(),
                "{often_enough} must be accepted"
            );
        }
        assert!(
            validate_schedule(
                &schedule("0 0,1 9 * * *"),
                std::time::Duration::from_secs(61)
            )
            .is_err()
        );
    }

    #[test]
    fn five_field_crontab_lines_are_refused_with_an_example() {
        let Err(PushError::Invalid {
            field, message_en, ..
        }) = parse_cron("0 9 * * *")
        else {
            panic!("a five-field line must be refused");
        };
        assert_eq!(field, "cron");
        assert!(message_en.contains("got 5"), "{message_en}");
        assert!(parse_cron("0 0 9 * * *").is_ok());
        assert!(matches!(
            parse_cron("0 0 25 * * *"),
            Err(PushError::Invalid { .. })
        ));
    }

    #[test]
    fn missed_runs_are_caught_up_once_with_the_newest() {
        let daily_nine = parse_cron("0 0 9 * * *").unwrap();
        let shanghai = |d: u32, h: u32| {
            Shanghai
                .with_ymd_and_hms(2026, 11, d, h, 0, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        // Down from the 20th 10:00 to the 23rd 12:00: three runs were missed; one fires, the newest.
        assert_eq!(
            latest_due(&daily_nine, shanghai(20, 10), shanghai(23, 12)),
            Some(shanghai(23, 9))
        );
        assert_eq!(
            latest_due(&daily_nine, shanghai(23, 9), shanghai(23, 12)),
            None
        );
        assert_eq!(
            latest_due(&daily_nine, shanghai(23, 8), shanghai(23, 9)),
            Some(shanghai(23, 9))
        );
    }
}
