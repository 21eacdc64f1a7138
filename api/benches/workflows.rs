//! Workflow-engine benchmark (DESIGN §7): the same SDK workload against Errand's engine
//! (`errand engine` on SQLite, and on PostgreSQL when `ERRAND_TEST_POSTGRES_URL` is
//! set), against the durabletask-go sidecar (`DURABLETASK_GO_BIN`, on a SQLite file
//! like Errand's) and against daprd 1.16's own engine (`DAPR_DAPRD`, its workflows
//! actors in Redis, with placement and scheduler) in one run:
//!
//! - throughput and end-to-end latency (start -> completed) of a workflow of five
//!   chained activities, with 1 and with `BENCH_CLIENTS` concurrent clients (default
//!   32), each client starting its next workflow when the last one completed, for
//!   `BENCH_SECONDS` per level (default 10);
//! - timer lateness: 200 workflows with a one-second timer, measured as the clock of
//!   the turn that sees the timer fire minus the time it was due (negative: early);
//! - reminder lateness end to end: `errand serve` (with its embedded engine, and with
//!   durabletask-go as its sidecar) and the Dapr runtime on daprd (the API, its
//!   consumers, Kafka), 200 tasks whose reminders fall due over two seconds, measured
//!   as the notification's time minus the reminder's.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/sidecars/mod.rs"]
mod sidecars;

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::dapr::{DaprdPorts, Environment, Stack};
use errand_workflows::sdk::{FetchOptions, Registry, RegistryExt, RuntimeStatus, ScheduleOptions, WorkflowContextExt};
use errand_workflows::WorkflowRuntime;
use sidecars::{Kind, Sidecar};
use support::{env_number, percentile};

fn register(registry: &mut Registry) {
    registry.add_activity("step", |_ctx, input| async move {
        let n: u64 = serde_json::from_str(input.as_deref().unwrap_or("0"))?;
        Ok(Some((n + 1).to_string()))
    });
    registry.add_workflow("five_steps", |ctx| async move {
        let mut n = 0u64;
        for _ in 0..5 {
            n = ctx.call_activity_typed("step", n).await?;
        }
        Ok(Some(n.to_string()))
    });
    registry.add_workflow("one_second_timer", |ctx| async move {
        let due = ctx.current_utc_datetime() + chrono::Duration::seconds(1);
        ctx.create_timer(Duration::from_secs(1)).await?;
        let late = ctx.current_utc_datetime() - due;
        Ok(Some(late.num_microseconds().unwrap_or(0).to_string()))
    });
}

struct Level {
    clients: usize,
    throughput: f64,
    latency: Vec<Duration>,
}

struct Figures {
    name: &'static str,
    levels: Vec<Level>,
    /// Timer lateness in ms, sorted; negative when a timer fired early.
    lateness: Vec<f64>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Which engine a row measures.
#[derive(Clone, Copy)]
enum EngineKind {
    Sidecar(Kind),
    /// daprd 1.16 with placement, scheduler and Redis of an environment of its own.
    Daprd,
}

/// A running engine for the SDK worker and client to talk to.
enum Engine {
    Sidecar(Sidecar),
    // The daprd before its environment: fields drop in order.
    Daprd { _daprd: common::KillOnDrop, _env: Environment, grpc: u16 },
}

impl Engine {
    async fn start(kind: EngineKind) -> Option<Engine> {
        match kind {
            EngineKind::Sidecar(kind) => Sidecar::start(kind).await.map(Engine::Sidecar),
            EngineKind::Daprd => {
                let env = Environment::up()?;
                let ports = DaprdPorts::free();
                let daprd = env.daprd("errand-bench", None, &ports, &env.dir.path().join("logs/daprd-bench.log"));
                Some(Engine::Daprd { _daprd: daprd, _env: env, grpc: ports.grpc })
            }
        }
    }

    fn address(&self) -> String {
        match self {
            Engine::Sidecar(sidecar) => sidecar.address(),
            Engine::Daprd { grpc, .. } => format!("http://127.0.0.1:{grpc}"),
        }
    }
}

/// `clients` concurrent clients, each running one workflow after another, for `seconds`;
/// instance ids start with `run` (each run its own, or the engine refuses a start).
async fn load(runtime: &WorkflowRuntime, run: &str, clients: usize, seconds: u64) -> Level {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers = (0..clients).map(|c| {
        let client = runtime.client();
        let stop = stop.clone();
        let run = run.to_string();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut client = client.clone();
                let id = format!("{run}-{clients}-{c}-{i}");
                i += 1;
                let begun = Instant::now();
                client
                    .schedule_workflow("five_steps", ScheduleOptions::new().with_instance_id(&id))
                    .await
                    .expect("schedule");
                let state = client
                    .wait_for_workflow_completion_with_options(&id, FetchOptions::new(), Some(Duration::from_secs(60)))
                    .await
                    .expect("completion");
                assert_eq!(state.runtime_status, RuntimeStatus::Completed);
                latencies.push(begun.elapsed());
            }
            latencies
        })
    });
    let handles: Vec<_> = workers.collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latency = Vec::new();
    for handle in handles {
        latency.extend(handle.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    latency.sort();
    let throughput = latency.len() as f64 / elapsed.as_secs_f64();
    Level { clients, throughput, latency }
}

async fn measure(kind: EngineKind, name: &'static str, clients: usize, seconds: u64) -> Option<Figures> {
    let engine = Engine::start(kind).await?;
    // daprd takes some seconds to join placement and scheduler.
    let runtime = WorkflowRuntime::start(&engine.address(), Duration::from_secs(60), register).await.expect("worker");
    // Warm up connections and caches.
    load(&runtime, "warmup", clients, 1).await;

    let mut levels = Vec::new();
    for level in [1, clients] {
        levels.push(load(&runtime, "bench", level, seconds).await);
    }

    // Timer lateness: 200 timers, started over about a second.
    let timers = (0..200).map(|i| {
        let mut client = runtime.client();
        async move {
            tokio::time::sleep(Duration::from_millis(i * 5)).await;
            let id = format!("timer-{i}");
            client
                .schedule_workflow("one_second_timer", ScheduleOptions::new().with_instance_id(&id))
                .await
                .expect("schedule");
            let state = client
                .wait_for_workflow_completion_with_options(
                    &id,
                    FetchOptions::new().with_fetch_payloads(true),
                    Some(Duration::from_secs(60)),
                )
                .await
                .expect("completion");
            let micros: i64 = state.serialized_output.as_deref().unwrap_or("0").parse().unwrap_or(0);
            micros as f64 / 1000.0
        }
    });
    let mut lateness = futures_util::future::join_all(timers).await;
    lateness.sort_by(f64::total_cmp);
    runtime.shutdown().await;
    drop(engine);
    Some(Figures { name, levels, lateness })
}

/// 200 reminders set through `ada`'s API, due over two seconds from four seconds on;
/// each notification's time minus its reminder's in ms, sorted, negative when early
/// (the notifications are read from the database at `db_url`).
async fn reminder_lateness(ada: &common::Session, db_url: &str) -> Vec<f64> {
    let start = chrono::Utc::now() + chrono::Duration::seconds(4);
    let mut due = std::collections::HashMap::new();
    for i in 0..200 {
        let at = start + chrono::Duration::milliseconds(i * 10);
        let task =
            ada.create(serde_json::json!({ "title": format!("r{i}"), "reminders": [{ "at": at.to_rfc3339() }] })).await;
        let at: chrono::DateTime<chrono::Utc> = task["reminders"][0]["at"].as_str().unwrap().parse().unwrap();
        due.insert(task["id"].as_str().unwrap().to_string(), at);
    }
    let store = errand_store::Store::connect(db_url).await.expect("store");
    let user = ada.user["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let fired = loop {
        let all = store.notifications(&user, false, 1000, None).await.expect("notifications");
        if all.len() >= 200 || Instant::now() > deadline {
            break all;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(fired.len(), 200, "every reminder fired");
    let mut lateness: Vec<f64> = fired
        .iter()
        .map(|n| {
            let at = due[n.task_id.as_deref().unwrap_or_default()];
            (n.created_at - at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
        })
        .collect();
    lateness.sort_by(f64::total_cmp);
    store.close().await;
    lateness
}

/// Reminder lateness through `errand serve` with the embedded engine, or with the
/// durabletask-go sidecar `go`.
async fn reminders_on_errand(go: Option<&Sidecar>) -> Vec<f64> {
    let db = common::fresh_db(common::Backend::Sqlite).await.expect("sqlite");
    let sidecar = go.map(|g| g.address()).unwrap_or_default();
    let envs: Vec<(&str, &str)> =
        if go.is_some() { vec![("ERRAND_WORKFLOW_SIDECAR", sidecar.as_str())] } else { vec![] };
    let server = common::Server::start_with(&db.url, db.dir.path(), &[], &envs);
    let ada = server.signup("ada@example.com").await;
    let lateness = reminder_lateness(&ada, &db.url).await;
    server.stop();
    lateness
}

/// Reminder lateness through the Dapr runtime on daprd: the trigger consumer, daprd's
/// engine, Kafka and the notification consumer; `None` without the Dapr parts.
async fn reminders_on_dapr() -> Option<Vec<f64>> {
    let stack = Stack::start().await?;
    let ada = stack.signup("ada@example.com").await;
    Some(reminder_lateness(&ada, &stack.db.url).await)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let clients = env_number("BENCH_CLIENTS", 32usize, 4);
    let seconds = env_number("BENCH_SECONDS", 10u64, 1);
    println!("workflow engine: five chained activities, {clients} concurrent clients, {seconds} s per engine");
    let mut rows = Vec::new();
    for (kind, name) in [
        (EngineKind::Sidecar(Kind::DurabletaskGo), "durabletask-go (SQLite file)"),
        (EngineKind::Daprd, "daprd 1.16 (actors in Redis)"),
        (EngineKind::Sidecar(Kind::ErrandSqlite), "Errand engine, SQLite"),
        (EngineKind::Sidecar(Kind::ErrandPostgres), "Errand engine, PostgreSQL"),
    ] {
        match measure(kind, name, clients, seconds).await {
            Some(figures) => rows.push(figures),
            None => println!("{name}: not available here, skipped"),
        }
    }
    println!();
    println!("| engine | clients | workflows/s | vs durabletask-go | latency p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|");
    let baseline = |clients: usize| {
        rows.iter()
            .find(|r| r.name.starts_with("durabletask-go"))
            .and_then(|r| r.levels.iter().find(|l| l.clients == clients))
            .map(|l| l.throughput)
    };
    for r in &rows {
        for l in &r.levels {
            let ratio = baseline(l.clients).map_or("-".to_string(), |b| format!("{:.1}x", l.throughput / b.max(1e-9)));
            println!(
                "| {} | {} | {:.0} | {} | {:.1} | {:.1} |",
                r.name,
                l.clients,
                l.throughput,
                ratio,
                ms(percentile(&l.latency, 0.5)),
                ms(percentile(&l.latency, 0.99)),
            );
        }
    }
    println!();
    println!("| engine | timer lateness min ms | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} |",
            r.name,
            percentile(&r.lateness, 0.0),
            percentile(&r.lateness, 0.5),
            percentile(&r.lateness, 0.99)
        );
    }
    println!();
    println!("reminders through errand (200, due over 2 s; notification time minus reminder time):");
    println!("| runtime | min ms | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    let embedded = reminders_on_errand(None).await;
    let row = |name: &str, l: &[f64]| {
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} |",
            percentile(l, 0.0),
            percentile(l, 0.5),
            percentile(l, 0.99),
            percentile(l, 1.0)
        );
    };
    row("embedded engine", &embedded);
    if let Some(go) = Sidecar::start(Kind::DurabletaskGo).await {
        row("durabletask-go sidecar", &reminders_on_errand(Some(&go)).await);
    }
    let on_dapr = reminders_on_dapr().await;
    match &on_dapr {
        Some(lateness) => row("Dapr runtime on daprd 1.16 (Kafka)", lateness),
        None => println!("Dapr runtime: not available here, skipped"),
    }
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let errand = rows.iter().find(|r| r.name == "Errand engine, SQLite");
    if let (Some(b), Some(errand)) = (baseline(clients), errand) {
        let busy = errand.levels.iter().find(|l| l.clients == clients).expect("level");
        let single = errand.levels.iter().find(|l| l.clients == 1).expect("level");
        println!();
        println!("targets (SQLite engine):");
        let ratio = busy.throughput / b;
        println!("  throughput >= 5x durabletask-go ({clients} clients): {ratio:.1}x, {}", verdict(ratio >= 5.0));
        let p50 = percentile(&single.latency, 0.5);
        println!("  latency p50 < 20 ms (one client): {:.1} ms, {}", ms(p50), verdict(p50 < Duration::from_millis(20)));
        let late = percentile(&errand.lateness, 0.99);
        println!("  timer lateness p99 < 100 ms: {late:.1} ms, {}", verdict(late < 100.0));
        let reminder = percentile(&embedded, 0.99);
        println!("  reminder notification p99 < 1 s: {reminder:.1} ms, {}", verdict(reminder < 1000.0));
        let daprd = rows.iter().find(|r| r.name.starts_with("daprd"));
        if let Some(daprd) = daprd.and_then(|r| r.levels.iter().find(|l| l.clients == clients)) {
            let ratio = busy.throughput / daprd.throughput.max(1e-9);
            println!("  throughput >= 10x daprd ({clients} clients): {ratio:.1}x, {}", verdict(ratio >= 10.0));
        }
    }
    if let Some(lateness) = &on_dapr {
        let (earliest, p99) = (percentile(lateness, 0.0), percentile(lateness, 0.99));
        println!("targets (Dapr runtime):");
        println!("  reminder never before its time: earliest {earliest:.1} ms, {}", verdict(earliest >= 0.0));
        println!("  reminder notification p99 < 1 s: {p99:.1} ms, {}", verdict(p99 < 1000.0));
    }
}
