//! Log output: lines on standard error, so a command's own output (a token, a report) stays
//! clean; human-readable text by default, or one JSON object per line (`log_format = "json"`)
//! carrying the current span's fields — for a request its `request_id`, `method` and `route`.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::LogFormat;

type Subscriber = Box<dyn tracing::Subscriber + Send + Sync>;

/// Installs the process's log subscriber; the level comes from `RUST_LOG` (default `info`, with
/// sqlx's per-statement lines only from `warn`).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let colours = std::io::stderr().is_terminal();
    subscriber(format, filter, colours, std::io::stderr).init();
}

/// The subscriber writing to `writer`; text gets colours only when `colours` (a terminal), so
/// files and pipes get no escape codes.
fn subscriber<W>(format: LogFormat, filter: EnvFilter, colours: bool, writer: W) -> Subscriber
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_env_filter(filter)
        .with_ansi(colours);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn log_one_request_line(format: LogFormat) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = subscriber(format, EnvFilter::new("info"), false, move || {
            writer.clone()
        });
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                request_id = %"7f3a9c1e2b4d6f80",
                method = %"GET",
                route = %"/api/v1/profiles/{id}/matches"
            );
            let _entered = span.enter();
            tracing::info!(status = 200, "finished processing request");
        });
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn json_lines_carry_the_request_span() {
        let text = log_one_request_line(LogFormat::Json);
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["fields"]["message"], "finished processing request");
        assert_eq!(line["fields"]["status"], 200);
        assert_eq!(line["span"]["request_id"], "7f3a9c1e2b4d6f80");
        assert_eq!(line["span"]["route"], "/api/v1/profiles/{id}/matches");
    }

    #[test]
    fn text_lines_are_for_people() {
        let text = log_one_request_line(LogFormat::Text);
        assert!(serde_json::from_str::<serde_json::Value>(text.trim()).is_err());
        assert!(text.contains("request_id=7f3a9c1e2b4d6f80"), "{text}");
        assert!(text.contains("finished processing request"), "{text}");
    }
}
