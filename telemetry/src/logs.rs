//! The log subscriber: `RUST_LOG` filtering, JSON lines or pretty output on stderr, and
//! the OpenTelemetry layer when traces are exported.

use std::fmt;

use opentelemetry::trace::{TraceContextExt, TracerProvider};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{self, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// What is logged (and traced) when `RUST_LOG` says nothing.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured.
    Pretty,
    /// One JSON object per line.
    Json,
}

pub(crate) fn install(
    format: LogFormat,
    filter: Option<&str>,
    provider: Option<&opentelemetry_sdk::trace::SdkTracerProvider>,
) {
    let filter = EnvFilter::try_new(filter.unwrap_or(DEFAULT_FILTER)).unwrap_or_else(|_| EnvFilter::new("info"));
    // Traces keep Errand's info spans whatever RUST_LOG says: quieter logs must not
    // blank the traces.
    // Spans carry what they record and no more: no source locations, thread names or
    // busy/idle timings, and their context is not attached on every poll of a traced
    // future (crate::current_context reaches it instead); each would cost every span or
    // every poll.
    let traces = provider.map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("errand"))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_context_activation(false)
            .with_filter(EnvFilter::new(DEFAULT_FILTER))
    });
    let registry = tracing_subscriber::registry().with(traces);
    let _ = match format {
        LogFormat::Json => {
            let json = format::format().json().flatten_event(true).with_current_span(true).with_span_list(false);
            let logs = tracing_subscriber::fmt::layer()
                .fmt_fields(format::JsonFields::new())
                .event_format(WithTraceIds(json))
                .with_writer(std::io::stderr);
            registry.with(logs.with_filter(filter)).try_init()
        }
        LogFormat::Pretty => {
            let logs = tracing_subscriber::fmt::layer().compact().with_writer(std::io::stderr);
            registry.with(logs.with_filter(filter)).try_init()
        }
    };
}

/// A JSON line with the `trace_id` and `span_id` of the work it was written in, so
/// that a log line leads to its trace.
struct WithTraceIds<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let cx = crate::current_context();
        let span = cx.span();
        let ids = span.span_context();
        match line.trim_end().strip_suffix('}') {
            Some(object) if ids.is_valid() => {
                writeln!(writer, "{object},\"trace_id\":\"{}\",\"span_id\":\"{}\"}}", ids.trace_id(), ids.span_id())
            }
            _ => writer.write_str(&line),
        }
    }
}
