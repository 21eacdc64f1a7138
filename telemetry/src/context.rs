//! W3C trace context (`traceparent`, `tracestate`) as text: what a CloudEvent carries
//! (the CloudEvents distributed-tracing extension) and what continues a trace in
//! another process or after a restart.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The trace context of some work, in W3C text form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// `00-<trace id>-<span id>-<flags>`.
    pub traceparent: String,
    /// Vendor state, when there is any.
    pub tracestate: Option<String>,
}

fn of_context(cx: &Context) -> Option<TraceContext> {
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut carrier);
    Some(TraceContext {
        traceparent: carrier.remove("traceparent")?,
        tracestate: carrier.remove("tracestate").filter(|s| !s.is_empty()),
    })
}

/// The OpenTelemetry context of the work running now: the entered `tracing` span's, or
/// where there is none the attached one (the durabletask SDK attaches an activity's).
/// The context is not attached on every poll of a traced future (that costs), so this
/// is how to reach it.
pub fn current_context() -> Context {
    let cx = tracing::Span::current().context();
    if cx.span().span_context().is_valid() {
        cx
    } else {
        Context::current()
    }
}

/// The trace context of the work running now, if it is traced.
pub fn current() -> Option<TraceContext> {
    of_context(&current_context())
}

/// The trace context of `span`, if it is traced.
pub fn of_span(span: &tracing::Span) -> Option<TraceContext> {
    of_context(&span.context())
}

/// Makes `span` (not yet entered) a child of the work `traceparent` names. A missing
/// or malformed one leaves `span` where it was: bad input never fails the work.
pub fn continue_from(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    let Some(traceparent) = traceparent else { return };
    let mut carrier: HashMap<String, String> = HashMap::from([("traceparent".into(), traceparent.into())]);
    if let Some(state) = tracestate {
        carrier.insert("tracestate".into(), state.into());
    }
    let cx = TraceContextPropagator::new().extract(&carrier);
    if cx.span().span_context().is_valid() {
        // Fails only when traces are off or the span already started: then it stays put.
        let _ = span.set_parent(cx);
    }
}

/// The `traceparent` and `tracestate` headers that carry the current work's trace to
/// the service an outgoing request goes to (none when it is not traced).
pub fn headers() -> Vec<(&'static str, String)> {
    let Some(trace) = current() else { return Vec::new() };
    let mut headers = vec![("traceparent", trace.traceparent)];
    if let Some(state) = trace.tracestate {
        headers.push(("tracestate", state));
    }
    headers
}
