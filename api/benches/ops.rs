//! Ops query benchmark: `GET /api/v1/ops/workflows` (a page and the counts per status of
//! the whole match) over 100,000 instances in the embedded engine's own tables, through
//! the real `errand serve`, for a mix of queries. Target (issue 15): p99 < 50 ms.
//!
//! The instances are written straight into the engine's tables (as its migrations
//! define them): 70% completed, 20% running reminders waiting on a timer a day ahead,
//! 5% failed, 5% terminated, across three workflow names and a month of creation times.
//! `BENCH_INSTANCES` (default 100000) and `BENCH_QUERIES` (per query, default 200) scale it.

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::time::Instant;

use common::{fresh_db, Backend, Server};
use sqlx::sqlite::SqlitePoolOptions;
use support::{env_number, percentile_ms};

// durabletask's OrchestrationStatus codes.
const RUNNING: i64 = 0;
const COMPLETED: i64 = 1;
const FAILED: i64 = 3;
const TERMINATED: i64 = 5;

async fn seed(engine_url: &str, instances: usize) {
    // The engine creates its tables when it opens.
    let sidecar = errand_engine::Sidecar::open(errand_engine::EngineConfig::new(engine_url)).await.expect("engine");
    drop(sidecar);
    let pool = SqlitePoolOptions::new().max_connections(1).connect(engine_url).await.expect("engine db");
    let now = chrono::Utc::now().timestamp_micros();
    let month = 30 * 86_400_000_000i64;
    let names = ["reminder", "recurring", "confirm_action"];
    for chunk in (0..instances).collect::<Vec<_>>().chunks(2000) {
        let mut tx = pool.begin().await.unwrap();
        for &i in chunk {
            let status = match i % 20 {
                0..=13 => COMPLETED,
                14..=17 => RUNNING,
                18 => FAILED,
                _ => TERMINATED,
            };
            let name = if status == RUNNING { "reminder" } else { names[i % 3] };
            let created = now - month + (i as i64 * month / instances as i64);
            let updated = if status == RUNNING { created } else { created + 60_000_000 };
            let completed = (status != RUNNING).then_some(updated);
            let id = format!("{name}:bench-{i:07}");
            let custom = if status == RUNNING { "reminding at a later time" } else { "done" };
            sqlx::query(
                "INSERT INTO wf_instances (instance_id, name, execution_id, status, created_at, updated_at, \
                 started_at, completed_at, input, custom_status, history_len) VALUES ($1, $2, $3, $4, $5, $6, $5, $7, '{}', $8, 4)",
            )
            .bind(&id)
            .bind(name)
            .bind(format!("e{i}"))
            .bind(status)
            .bind(created)
            .bind(updated)
            .bind(completed)
            .bind(custom)
            .execute(&mut *tx)
            .await
            .unwrap();
            if status == RUNNING {
                // A timer a day ahead (the event itself is not read by the queries).
                sqlx::query("INSERT INTO wf_inbox (instance_id, execution_id, lane, visible_at, event) VALUES ($1, $2, 1, $3, $4)")
                    .bind(&id)
                    .bind(format!("e{i}"))
                    .bind(now + 86_400_000_000)
                    .bind(Vec::<u8>::new())
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
        }
        tx.commit().await.unwrap();
    }
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    pool.close().await;
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let instances: usize = env_number("BENCH_INSTANCES", 100_000, 2_000);
    let queries: usize = env_number("BENCH_QUERIES", 200, 5);
    let db = fresh_db(Backend::Sqlite).await.expect("sqlite");
    let engine_url = format!("sqlite://{}/engine.db", db.dir.path().display());
    let seeding = Instant::now();
    seed(&engine_url, instances).await;
    eprintln!("ops bench: {instances} instances written in {:.1} s", seeding.elapsed().as_secs_f64());
    let server = Server::start(&db.url, db.dir.path());
    let admin = server.signup("admin@example.com").await;
    let week_ago = (chrono::Utc::now() - chrono::Duration::days(7)).format("%Y-%m-%d").to_string();
    let mix = [
        ("everything".to_string(), String::new()),
        ("kind:reminder & status:running".into(), "kind:reminder & status:running".into()),
        ("waiting:timer".into(), "waiting:timer".into()),
        (
            format!("status:completed & created after: {week_ago}"),
            format!("status:completed & created after: {week_ago}"),
        ),
        ("kind:recurring & !status:completed".into(), "kind:recurring & !status:completed".into()),
        ("custom-status text".into(), "\"later time\"".into()),
        ("stuck".into(), "stuck".into()),
    ];
    println!("\n## Ops query over {instances} instances (GET /api/v1/ops/workflows, a page of 50 and the counts)\n");
    println!("| query | matches | p50 ms | p99 ms |");
    println!("| --- | ---: | ---: | ---: |");
    let mut worst = 0.0f64;
    for (label, q) in &mix {
        let path = format!("/ops/workflows?limit=50&q={}", encode(q));
        let first = admin.get(&path).await;
        assert_eq!(first.status, 200, "{label}: {:?}", first.body);
        let mut times = Vec::with_capacity(queries);
        for _ in 0..queries {
            let started = Instant::now();
            let r = admin.get(&path).await;
            times.push(started.elapsed());
            assert_eq!(r.status, 200);
        }
        times.sort();
        let p99 = percentile_ms(&times, 0.99);
        worst = worst.max(p99);
        println!("| {label} | {} | {:.1} | {:.1} |", first.body["total"], percentile_ms(&times, 0.50), p99);
    }
    println!("\nworst p99: {worst:.1} ms (target < 50 ms)");
}
