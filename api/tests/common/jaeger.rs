//! A real Jaeger v2 (`JAEGER_BIN`, which `make test` builds with
//! scripts/observability-tools.sh) with scripts/jaeger.yaml: in memory, OTLP/gRPC in and
//! the query API out, both on free loopback ports, stopped when dropped.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::dapr::free_port;
use super::KillOnDrop;

pub struct Jaeger {
    /// Where spans go: the value for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp: String,
    query: String,
    http: reqwest::Client,
    _process: KillOnDrop,
    _dir: tempfile::TempDir,
}

/// One span of a trace, as the query API returns it.
#[derive(Debug, Clone)]
pub struct Span {
    pub trace_id: String,
    pub id: String,
    pub parent: Option<String>,
    pub name: String,
    pub service: String,
    pub start: u64,
    pub tags: HashMap<String, Value>,
}

impl Jaeger {
    /// Starts Jaeger; `None` (the test is skipped) when `JAEGER_BIN` is not provided.
    pub async fn start() -> Option<Jaeger> {
        let Some(bin) = std::env::var_os("JAEGER_BIN") else {
            eprintln!("skipped: Jaeger is not provided (make test runs scripts/observability-tools.sh)");
            return None;
        };
        let (otlp, query, grpc) = (free_port(), free_port(), free_port());
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/jaeger.yaml");
        let log = std::fs::File::create(dir.path().join("jaeger.log")).expect("jaeger log");
        let child = Command::new(bin)
            .arg("--config")
            .arg(&config)
            .env("JAEGER_OTLP_PORT", otlp.to_string())
            .env("JAEGER_QUERY_PORT", query.to_string())
            .env("JAEGER_GRPC_PORT", grpc.to_string())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn jaeger");
        let jaeger = Jaeger {
            otlp: format!("http://127.0.0.1:{otlp}"),
            query: format!("http://127.0.0.1:{query}"),
            http: reqwest::Client::new(),
            _process: KillOnDrop(child),
            _dir: dir,
        };
        super::eventually("jaeger's query API", 30, || async {
            jaeger.http.get(format!("{}/api/services", jaeger.query)).send().await.is_ok_and(|r| r.status() == 200)
        })
        .await;
        // The receiver opens with the query API, but give it a moment to accept.
        super::eventually("jaeger's OTLP port", 10, || async {
            tokio::net::TcpStream::connect(("127.0.0.1", otlp)).await.is_ok()
        })
        .await;
        Some(jaeger)
    }

    /// The environment that makes an `errand` process export its spans here at once.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("OTEL_EXPORTER_OTLP_ENDPOINT", self.otlp.clone()), ("OTEL_BSP_SCHEDULE_DELAY", "100".into())]
    }

    /// Every trace of `service` of the last hour, each as its spans.
    pub async fn traces(&self, service: &str) -> Vec<Vec<Span>> {
        let url = format!("{}/api/traces?service={service}&limit=1000&lookback=1h", self.query);
        let Ok(response) = self.http.get(url).send().await else { return Vec::new() };
        let body: Value = response.json().await.unwrap_or(Value::Null);
        body["data"].as_array().map(|traces| traces.iter().map(spans).collect()).unwrap_or_default()
    }

    /// The trace whose spans include one named `name`, once it has all of `wanted`
    /// (names, each as often as it is listed); fails after `seconds`.
    pub async fn trace_with(&self, name: &str, wanted: &[&str], seconds: u64) -> Vec<Span> {
        let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let traces = self.traces("errand").await;
            let found = traces.iter().find(|t| t.iter().any(|s| s.name == name)).cloned();
            if let Some(trace) = &found {
                if missing(trace, wanted).is_empty() {
                    return trace.clone();
                }
            }
            if std::time::Instant::now() > deadline {
                let roots: Vec<&str> =
                    traces.iter().flatten().filter(|s| s.parent.is_none()).map(|s| s.name.as_str()).collect();
                let report = found.map_or(format!("no such trace; the traces start with {roots:?}"), |t| {
                    format!("missing {:?} in\n{}", missing(&t, wanted), tree(&t))
                });
                panic!("timed out waiting for the trace of {name}: {report}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn missing<'a>(trace: &[Span], wanted: &[&'a str]) -> Vec<&'a str> {
    let mut left: Vec<&str> = trace.iter().map(|s| s.name.as_str()).collect();
    let mut missing = Vec::new();
    for name in wanted {
        match left.iter().position(|n| n == name) {
            Some(at) => {
                left.remove(at);
            }
            None => missing.push(*name),
        }
    }
    missing
}

fn spans(trace: &Value) -> Vec<Span> {
    let processes = &trace["processes"];
    trace["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| Span {
            trace_id: s["traceID"].as_str().unwrap_or_default().to_string(),
            id: s["spanID"].as_str().unwrap_or_default().to_string(),
            parent: s["references"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["refType"] == "CHILD_OF")
                .and_then(|r| r["spanID"].as_str())
                .map(String::from),
            name: s["operationName"].as_str().unwrap_or_default().to_string(),
            service: processes[s["processID"].as_str().unwrap_or_default()]["serviceName"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            start: s["startTime"].as_u64().unwrap_or_default(),
            tags: s["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| Some((t["key"].as_str()?.to_string(), t["value"].clone())))
                .collect(),
        })
        .collect()
}

/// The span of `trace` named `name` (the first to start).
pub fn span<'a>(trace: &'a [Span], name: &str) -> &'a Span {
    trace
        .iter()
        .filter(|s| s.name == name)
        .min_by_key(|s| s.start)
        .unwrap_or_else(|| panic!("no span {name} in\n{}", tree(trace)))
}

/// The names of `span`'s ancestors, nearest first.
pub fn ancestors(trace: &[Span], span: &Span) -> Vec<String> {
    let by_id: HashMap<&str, &Span> = trace.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut names = Vec::new();
    let mut at = span.parent.as_deref();
    while let Some(parent) = at.and_then(|id| by_id.get(id)) {
        names.push(parent.name.clone());
        at = parent.parent.as_deref();
    }
    names
}

/// The span tree as indented text, children in start order.
pub fn tree(trace: &[Span]) -> String {
    let ids: std::collections::HashSet<&str> = trace.iter().map(|s| s.id.as_str()).collect();
    let mut out = String::new();
    fn walk(
        trace: &[Span],
        parent: Option<&str>,
        ids: &std::collections::HashSet<&str>,
        depth: usize,
        out: &mut String,
    ) {
        let mut children: Vec<&Span> = trace
            .iter()
            .filter(|s| match parent {
                Some(p) => s.parent.as_deref() == Some(p),
                None => s.parent.as_deref().is_none_or(|p| !ids.contains(p)),
            })
            .collect();
        children.sort_by_key(|s| s.start);
        for s in children {
            out.push_str(&format!("{}{} [{}]\n", "  ".repeat(depth), s.name, s.service));
            walk(trace, Some(&s.id), ids, depth + 1, out);
        }
    }
    walk(trace, None, &ids, 0, &mut out);
    out
}
