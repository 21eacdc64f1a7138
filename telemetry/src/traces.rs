//! The trace export, from the standard OpenTelemetry variables.

use std::collections::HashMap;

use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

fn set<'a>(env: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The tracer provider `env` asks for, installed globally (the durabletask SDK's spans
/// use the global one); `None` when no OTLP endpoint is set or traces are disabled.
pub(crate) fn provider(env: &HashMap<String, String>, service: &str) -> Result<Option<SdkTracerProvider>, String> {
    let endpoint = set(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or(set(env, "OTEL_EXPORTER_OTLP_ENDPOINT"));
    let disabled = set(env, "OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || set(env, "OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
    if endpoint.is_none() || disabled {
        return Ok(None);
    }
    let protocol = set(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or(set(env, "OTEL_EXPORTER_OTLP_PROTOCOL"));
    if let Some(other) = protocol.filter(|p| *p != "grpc") {
        return Err(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL is {other:?}, but Errand exports traces over OTLP/gRPC only: set it to grpc"
        ));
    }
    // The exporter reads the endpoint, headers, timeout and compression variables itself.
    let exporter = SpanExporter::builder().with_tonic().build().map_err(|e| format!("the OTLP exporter: {e}"))?;
    let mut resource = Resource::builder();
    if set(env, "OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service.to_string());
    }
    // The sampler (OTEL_TRACES_SAMPLER, ..._ARG) and the batching (OTEL_BSP_*) come from
    // the SDK's own reading of the environment.
    let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(Some(provider))
}
