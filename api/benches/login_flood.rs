//! Task reads while wrong-password logins hammer the server (DESIGN §7: read p99 <
//! 50 ms while 200 concurrent wrong-password logins run).
//!
//! `errand serve` (the release binary, default limits) with one user of 40 tasks.
//! Readers (8 connections) list that user's first page as fast as they can; first
//! alone, then beside 200 flooders that each post wrong passwords as fast as they can:
//! once from 200 loopback addresses (127.0.0.2 and up, so each has its own
//! per-address quota and the hashing bound is what protects the reads), once all
//! from 127.0.0.1 (the per-address limit answers). `BENCH_SECONDS` (default 10) per
//! phase; `BENCH_SMOKE` runs 2 s phases with 20 flooders.

#[path = "../tests/common/mod.rs"]
mod common;

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{env_number, percentile_ms};

/// Counts of login answers by status.
#[derive(Default)]
struct Outcomes {
    unauthorized: AtomicU64,
    limited: AtomicU64,
    other: AtomicU64,
}

async fn reads(base: &str, token: &str, seconds: u64) -> Vec<Duration> {
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let client = reqwest::Client::new();
            let url = format!("{base}/api/v1/tasks?sort=-priority,due&limit=50");
            let token = token.to_string();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let res = client.get(&url).bearer_auth(&token).send().await.expect("read");
                    assert_eq!(res.status(), 200);
                    res.bytes().await.expect("body");
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for reader in readers {
        all.extend(reader.await.expect("reader"));
    }
    all.sort();
    all
}

/// `count` flooders posting wrong passwords until `stop`, each from `address(i)`.
fn flood(
    base: &str,
    count: usize,
    address: impl Fn(usize) -> IpAddr,
    stop: Arc<AtomicBool>,
    outcomes: Arc<Outcomes>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..count)
        .map(|i| {
            let client = reqwest::Client::builder().local_address(address(i)).build().expect("client");
            let url = format!("{base}/api/v1/auth/login");
            let (stop, outcomes) = (stop.clone(), outcomes.clone());
            tokio::spawn(async move {
                let body = json!({ "email": format!("victim{i}@example.com"), "password": "not the password" });
                while !stop.load(Ordering::Relaxed) {
                    let status = match client.post(&url).json(&body).send().await {
                        Ok(res) => res.status().as_u16(),
                        Err(_) => 0,
                    };
                    let counter = match status {
                        401 => &outcomes.unauthorized,
                        429 => &outcomes.limited,
                        _ => &outcomes.other,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds = env_number("BENCH_SECONDS", 10u64, 2);
    let flooders = env_number("BENCH_FLOODERS", 200usize, 20);
    let db = common::fresh_db(common::Backend::Sqlite).await.expect("sqlite");
    let server = common::Server::start(&db.url, db.dir.path());
    let reader = server.signup("reader@example.com").await;
    for i in 0..40 {
        reader
            .create(json!({ "title": format!("task {i}"), "priority": "high", "due": format!("in {} days", i % 9) }))
            .await;
    }
    println!("task reads (8 connections, first page of 40 tasks) while {flooders} clients post wrong passwords, {seconds} s each:");
    println!("| phase | reads/s | read p50 ms | read p99 ms | logins/s | 401 | 429 | other |");
    println!("|---|---|---|---|---|---|---|---|");
    let alone = reads(&server.base, &reader.token, seconds).await;
    println!(
        "| reads alone | {:.0} | {:.2} | {:.2} | - | - | - | - |",
        alone.len() as f64 / seconds as f64,
        percentile_ms(&alone, 0.5),
        percentile_ms(&alone, 0.99)
    );
    let mut flooded_p99 = 0.0f64;
    for (phase, spread) in [(format!("{flooders} addresses"), true), ("one address".to_string(), false)] {
        let stop = Arc::new(AtomicBool::new(false));
        let outcomes = Arc::new(Outcomes::default());
        let address = move |i: usize| {
            if spread {
                IpAddr::V4(Ipv4Addr::new(127, 0, (2 + i as u32 / 250) as u8, (2 + i as u32 % 250) as u8))
            } else {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }
        };
        let attackers = flood(&server.base, flooders, address, stop.clone(), outcomes.clone());
        // Let the flood reach its stride before measuring.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = outcomes.unauthorized.load(Ordering::Relaxed) + outcomes.limited.load(Ordering::Relaxed);
        let during = reads(&server.base, &reader.token, seconds).await;
        let after = outcomes.unauthorized.load(Ordering::Relaxed) + outcomes.limited.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        for attacker in attackers {
            let _ = attacker.await;
        }
        flooded_p99 = flooded_p99.max(percentile_ms(&during, 0.99));
        println!(
            "| flood from {phase} | {:.0} | {:.2} | {:.2} | {:.0} | {} | {} | {} |",
            during.len() as f64 / seconds as f64,
            percentile_ms(&during, 0.5),
            percentile_ms(&during, 0.99),
            (after - before) as f64 / seconds as f64,
            outcomes.unauthorized.load(Ordering::Relaxed),
            outcomes.limited.load(Ordering::Relaxed),
            outcomes.other.load(Ordering::Relaxed),
        );
        assert_eq!(outcomes.other.load(Ordering::Relaxed), 0, "every login is answered 401 or 429");
    }
    let verdict = if flooded_p99 < 50.0 { "met" } else { "MISSED" };
    println!("target: task reads p99 < 50 ms during the flood: {flooded_p99:.2} ms, {verdict}");
    server.stop();
}
