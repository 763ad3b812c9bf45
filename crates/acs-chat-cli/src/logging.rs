//! Logs on stderr: a line for every retry wait, request traces with `--verbose`, and whatever
//! `RUST_LOG` asks for. (`acs-chat emulator` logs as `acs-chat-emulator` does.)

use std::fmt;
use std::io::{self, IsTerminal as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::Registry;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::failure::printable;
use crate::output::write_stderr;

/// What to log.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogSettings {
    /// `--verbose`: the client's and the transport's request traces.
    pub(crate) verbose: bool,
    /// The retries the client makes, for "retry 2 of 3".
    pub(crate) max_retries: u32,
}

/// Installs the logging. `RUST_LOG`, when set, replaces the default filter of the trace
/// output (`--verbose` still adds the client's traces); a malformed one is a usage error.
pub(crate) fn init(settings: LogSettings) -> Result<(), String> {
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let trace_filter: Option<Box<dyn Layer<Registry> + Send + Sync>> = match rust_log {
        Some(directives) => {
            let mut filter = EnvFilter::builder()
                .with_default_directive(LevelFilter::OFF.into())
                .parse(&directives)
                .map_err(|e| format!("RUST_LOG: {e}"))?;
            if settings.verbose {
                for directive in ["acs_chat=debug", "acs_chat_transport=debug"] {
                    filter = filter.add_directive(
                        directive
                            .parse()
                            .map_err(|e| format!("RUST_LOG: {directive}: {e}"))?,
                    );
                }
            }
            Some(trace_layer().with_filter(filter).boxed())
        }
        None if settings.verbose => {
            let filter = Targets::new()
                .with_target("acs_chat", LevelFilter::DEBUG)
                .with_target("acs_chat_transport", LevelFilter::DEBUG);
            Some(trace_layer().with_filter(filter).boxed())
        }
        None => None,
    };
    let notices = RetryNotices {
        max_retries: settings.max_retries,
    }
    .with_filter(Targets::new().with_target("acs_chat", LevelFilter::INFO));
    // Fails only when a subscriber is already set, which cannot happen here.
    let _ = tracing_subscriber::registry()
        .with(trace_filter)
        .with(notices)
        .try_init();
    Ok(())
}

fn trace_layer<S>() -> impl Layer<S> + Send + Sync
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_target(false)
        .with_span_events(FmtSpan::CLOSE)
}

/// Turns the client's "retrying" events into one stderr line each:
/// `waiting 3.2 s before retry 2 of 3 (<why>)`.
struct RetryNotices {
    max_retries: u32,
}

impl<S: Subscriber> Layer<S> for RetryNotices {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let target = event.metadata().target();
        if target != "acs_chat" && !target.starts_with("acs_chat::") {
            return;
        }
        let mut fields = RetryFields::default();
        event.record(&mut fields);
        if fields.message.as_deref() != Some("retrying") {
            return;
        }
        if let Some(line) = fields.line(self.max_retries) {
            write_stderr(&line);
        }
    }
}

/// The fields of a "retrying" event.
#[derive(Debug, Default)]
struct RetryFields {
    message: Option<String>,
    attempt: Option<u64>,
    delay_ms: Option<u64>,
    error: Option<String>,
}

impl RetryFields {
    fn line(&self, max_retries: u32) -> Option<String> {
        let retry = self.attempt?;
        let seconds = self.delay_ms? as f64 / 1000.0;
        let mut line = format!("waiting {seconds:.1} s before retry {retry} of {max_retries}");
        if let Some(error) = &self.error {
            line.push_str(&format!(" ({})", printable(error)));
        }
        Some(line)
    }
}

impl Visit for RetryFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "attempt" => self.attempt = Some(value),
            "delay_ms" => self.delay_ms = Some(value),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(value) = u64::try_from(value) {
            self.record_u64(field, value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_text(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `message` (format arguments) and `%error` (a Display wrapper) print as their text.
        self.record_text(field, format!("{value:?}"));
    }
}

impl RetryFields {
    fn record_text(&mut self, field: &Field, text: String) {
        match field.name() {
            "message" => self.message = Some(text),
            "error" => self.error = Some(text),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_is_one_line_with_the_wait_the_retry_and_why() {
        let fields = RetryFields {
            message: Some("retrying".into()),
            attempt: Some(2),
            delay_ms: Some(3_200),
            error: Some("the service returned 429 Too Many Requests\u{1b}[2J".into()),
        };
        assert_eq!(
            fields.line(3).as_deref(),
            Some(
                "waiting 3.2 s before retry 2 of 3 \
                 (the service returned 429 Too Many Requests\\u{1b}[2J)"
            )
        );
        assert_eq!(RetryFields::default().line(3), None);
    }
}
