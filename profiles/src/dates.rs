//! The range of calendar days the service accepts wherever a date enters — profiles, policies,
//! query parameters — so a year 0 or 9999 never reaches storage, the matcher's day arithmetic or
//! PostgreSQL's date columns.

use chrono::NaiveDate;

/// The earliest day accepted.
pub const EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid day");
/// The latest day accepted.
pub const LATEST: NaiveDate = NaiveDate::from_ymd_opt(2199, 12, 31).expect("a valid day");

/// Whether `date` lies within [`EARLIEST`] ..= [`LATEST`].
pub fn is_supported(date: NaiveDate) -> bool {
    (EARLIEST..=LATEST).contains(&date)
}

/// Why `date` is refused, in Chinese and English; `None` when it is within the range.
pub fn out_of_range(date: NaiveDate) -> Option<(String, String)> {
    (!is_supported(date)).then(|| {
        (
            format!("日期 {date} 超出允许范围（{EARLIEST} 至 {LATEST}）"),
            format!("the date {date} is outside the accepted range {EARLIEST} to {LATEST}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_ends_are_in_and_the_years_beyond_are_out() {
        assert!(is_supported(EARLIEST));
        assert!(is_supported(LATEST));
        assert!(out_of_range(NaiveDate::from_ymd_opt(1899, 12, 31).unwrap()).is_some());
        assert!(out_of_range(NaiveDate::from_ymd_opt(2200, 1, 1).unwrap()).is_some());
        assert!(out_of_range(NaiveDate::from_ymd_opt(0, 1, 1).unwrap()).is_some());
        let (zh, en) = out_of_range(NaiveDate::from_ymd_opt(9999, 12, 31).unwrap()).unwrap();
        assert!(
            zh.contains("9999-12-31") && en.contains("9999-12-31"),
            "{zh} / {en}"
        );
    }
}
