//! How a page shows a moment: in China's time (Asia/Shanghai), to the minute, in the page's
//! language. The one place the pages format a time, so none shows UTC, seconds, nanoseconds or a
//! raw RFC 3339 stamp; templates reach it as the `local_time` filter.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use minijinja::value::Value;
use minijinja::{Error, ErrorKind, State};

use crate::text::Lang;

/// `at` as a reader in China reads it: 2026年12月7日 09:05, or 2026-12-07 09:05 in English.
pub(crate) fn local_time(at: DateTime<Utc>, lang: Lang) -> String {
    let local = at.with_timezone(&Shanghai);
    match lang {
        Lang::Zh => local.format("%Y年%-m月%-d日 %H:%M").to_string(),
        Lang::En => local.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// The day `at` falls on in China.
pub(crate) fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Shanghai).date_naive()
}

/// The `local_time` template filter: a stored time (serialized as RFC 3339) in the page's
/// language; nothing for a time that is not there. Anything else fails the page rather than
/// showing a raw value.
pub(crate) fn filter(state: &State, value: Value) -> Result<String, Error> {
    if value.is_none() || value.is_undefined() {
        return Ok(String::new());
    }
    let text = value.as_str().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            "local_time formats a stored time",
        )
    })?;
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|error| Error::new(ErrorKind::InvalidOperation, error.to_string()))?;
    let lang = state
        .lookup("lang")
        .and_then(|lang| lang.as_str().and_then(Lang::parse))
        .unwrap_or(Lang::Zh);
    Ok(local_time(at.with_timezone(&Utc), lang))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_china_to_the_minute() {
        let late_utc = DateTime::parse_from_rfc3339("2026-12-06T17:04:59.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(local_time(late_utc, Lang::Zh), "2026年12月7日 01:04");
        assert_eq!(local_time(late_utc, Lang::En), "2026-12-07 01:04");
        assert_eq!(
            local_day(late_utc),
            NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
        );
    }

    #[test]
    fn the_filter_formats_stored_times_in_the_pages_language() {
        let mut env = minijinja::Environment::new();
        env.add_filter("local_time", filter);
        let render = |source: &str, ctx: Value| env.render_str(source, ctx);
        let at = serde_json::to_value(
            DateTime::parse_from_rfc3339("2026-03-01T02:30:00+00:00")
                .unwrap()
                .with_timezone(&Utc),
        )
        .unwrap();
        let ctx = |lang: &str| minijinja::context! { lang => lang, at => at.clone(), none => () };
        assert_eq!(
            render("{{ at | local_time }}", ctx("zh")).unwrap(),
            "2026年3月1日 10:30"
        );
        assert_eq!(
            render("{{ at | local_time }}", ctx("en")).unwrap(),
            "2026-03-01 10:30"
        );
        assert_eq!(
            render("[{{ none | local_time }}]", ctx("zh")).unwrap(),
            "[]"
        );
        assert!(render("{{ 'soon' | local_time }}", ctx("zh")).is_err());
    }
}
