//! Errand's telemetry, one setup for every role of the binary:
//! - logs through `tracing` (JSON lines or pretty, filtered by `RUST_LOG`), JSON lines
//!   carrying the `trace_id` and `span_id` of the work they belong to;
//! - traces exported over OTLP/gRPC when the standard `OTEL_EXPORTER_OTLP_ENDPOINT`
//!   (or `..._TRACES_ENDPOINT`) is set, with `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER*`,
//!   `OTEL_BSP_*` and `OTEL_EXPORTER_OTLP_*` read as the OpenTelemetry SDK documents;
//!   off when unset;
//! - the W3C trace context that events and workflows carry across processes and
//!   restarts ([`TraceContext`]);
//! - Prometheus metrics ([`metrics`]).

mod context;
mod logs;
mod traces;

use std::collections::HashMap;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

pub use context::{continue_from, current, current_context, headers, of_span, TraceContext};
pub use logs::LogFormat;
pub use metrics_exporter_prometheus::PrometheusHandle;

/// What [`init`] installed; [`Telemetry::shutdown`] exports the spans still buffered.
#[must_use = "shut it down before the runtime ends, or buffered spans are lost"]
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// True when traces are exported.
    pub fn traces_on(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports what is buffered and stops exporting.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(e) = provider.shutdown() {
                tracing::warn!(error = %e, "spans could not all be exported at shutdown");
            }
        }
    }
}

/// Installs the global log subscriber and, when `env` names an OTLP endpoint, the trace
/// export (as `service` unless `OTEL_SERVICE_NAME` says otherwise). `filter` is a
/// `RUST_LOG`-style directive. Call it inside a Tokio runtime: the exporter's gRPC
/// channel runs on it. A trace setting Errand cannot honour is logged and traces stay
/// off; the process still runs.
pub fn init(format: LogFormat, filter: Option<&str>, env: &HashMap<String, String>, service: &str) -> Telemetry {
    let (provider, problem) = match traces::provider(env, service) {
        Ok(provider) => (provider, None),
        Err(problem) => (None, Some(problem)),
    };
    logs::install(format, filter, provider.as_ref());
    if let Some(problem) = problem {
        tracing::error!(error = %problem, "traces are off");
    }
    Telemetry { provider }
}

/// The process-wide metrics recorder, installed on first use. `None` when another
/// recorder was installed first (then metrics go there).
pub fn metrics() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let latency_buckets =
                [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
            // A model answers in seconds; a workflow lives from seconds to weeks.
            let model_buckets = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0];
            let lifetime_buckets = [1.0, 10.0, 60.0, 600.0, 3600.0, 21_600.0, 86_400.0, 604_800.0, 2_592_000.0];
            PrometheusBuilder::new()
                .set_buckets(&latency_buckets)
                .ok()?
                .set_buckets_for_metric(Matcher::Full("errand_assistant_model_seconds".into()), &model_buckets)
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full("errand_engine_instance_duration_seconds".into()),
                    &lifetime_buckets,
                )
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .clone()
}
