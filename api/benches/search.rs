//! Search benchmark (DESIGN §7): 1M tasks over 100 users, a fixed query mix, and
//! p50/p99 for Errand's index (in-process and over HTTP) against SQLite FTS5 and
//! PostgreSQL full-text (tsvector + GIN) on the same data and mix, plus
//! write-to-visible latency under a steady write stream.
//!
//! `make bench` runs it with a throwaway PostgreSQL (without one, that column is
//! skipped). `BENCH_TASKS` (default 1000000) and `BENCH_QUERIES` (per kind,
//! default 200) scale it.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use errand_api::auth::{Sessions, Tokens};
use errand_domain::event::{task_event, Actor, TaskEventKind};
use errand_domain::{NewTask, Priority, Status, Task};
use errand_search::{run_indexer, SearchIndex, SearchRequest, Sort, SortKey};
use errand_store::{NewUser, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::postgres::PgPoolCopyExt;
use support::env_number;

const USERS: usize = 100;
const SECRET: &str = "benchmark secret of at least thirty-two bytes";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
}

/// A skewed vocabulary: a few hundred common task words, then a long tail.
struct Vocabulary {
    words: Vec<String>,
    /// Running sums of the words' weights, for sampling by binary search.
    cumulative: Vec<f64>,
}

const COMMON: &str = "buy call email send review plan book pay fix clean write read check order update schedule \
    prepare finish start organize invoice report meeting doctor dentist groceries milk bread laundry garden car bike \
    project budget taxes passport insurance rent bills birthday gift party travel flight hotel tickets presentation \
    slides client contract proposal design code deploy release bug test docs backup server database migration \
    interview hiring onboarding training workshop conference lunch dinner breakfast coffee gym running yoga \
    vacation weekend family kids school homework teacher parents mom dad sister brother friend neighbor plumber \
    electrician repair paint furniture kitchen bathroom bedroom office desk printer phone laptop charger \
    subscription renewal license registration appointment prescription pharmacy vet dog cat walk feed water plants \
    recycle trash pickup delivery package return refund warranty receipt expense reimbursement payroll quarterly \
    annual monthly weekly daily summary notes agenda minutes followup reminder deadline milestone roadmap strategy";

impl Vocabulary {
    fn new(rng: &mut StdRng) -> Vocabulary {
        let mut words: Vec<String> = COMMON.split_whitespace().map(str::to_string).collect();
        let syllables =
            ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "pi", "quin", "ber", "ta", "zo", "nex", "ul"];
        let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
        while words.len() < 5000 {
            let n = rng.gen_range(2..5);
            let word: String = (0..n).map(|_| syllables[rng.gen_range(0..syllables.len())]).collect();
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        // Zipf-like: the k-th word is drawn with weight 1/k^1.1.
        let mut cumulative = Vec::with_capacity(words.len());
        let mut total = 0.0;
        for k in 1..=words.len() {
            total += 1.0 / (k as f64).powf(1.1);
            cumulative.push(total);
        }
        Vocabulary { words, cumulative }
    }

    fn word(&self, rng: &mut StdRng) -> &str {
        let x = rng.gen::<f64>() * self.cumulative[self.cumulative.len() - 1];
        let i = self.cumulative.partition_point(|c| *c < x).min(self.words.len() - 1);
        &self.words[i]
    }

    fn words(&self, rng: &mut StdRng, n: usize) -> String {
        (0..n).map(|_| self.word(rng).to_string()).collect::<Vec<_>>().join(" ")
    }
}

const TAGS: &[&str] = &[
    "work",
    "home",
    "errand",
    "money",
    "health",
    "family",
    "shopping",
    "urgent-ish",
    "someday",
    "reading",
    "travel",
    "car",
    "garden",
    "school",
    "fitness",
    "admin",
    "side-project",
    "house",
    "kids",
    "finance",
    "learning",
    "social",
    "office",
    "calls",
    "email",
    "weekend",
    "chores",
    "pets",
    "music",
    "cooking",
];

fn random_task(rng: &mut StdRng, vocabulary: &Vocabulary, user: &str) -> Task {
    let created = now() - chrono::Duration::minutes(rng.gen_range(0..60 * 24 * 700));
    let priority = match rng.gen_range(0..100) {
        0..=49 => Priority::None,
        50..=69 => Priority::Low,
        70..=84 => Priority::Medium,
        85..=94 => Priority::High,
        _ => Priority::Urgent,
    };
    let tag_count = match rng.gen_range(0..10) {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    let tags: Vec<String> =
        (0..tag_count).map(|_| TAGS[(rng.gen::<f64>().powi(2) * TAGS.len() as f64) as usize].to_string()).collect();
    let due_at =
        rng.gen_bool(0.6).then(|| now() + chrono::Duration::minutes(rng.gen_range(-60 * 24 * 60..60 * 24 * 120)));
    let title_len = rng.gen_range(2..7);
    let description_len = if rng.gen_bool(0.5) { rng.gen_range(3..20) } else { 0 };
    let input = NewTask {
        title: vocabulary.words(rng, title_len),
        description: Some(vocabulary.words(rng, description_len)),
        priority: Some(priority),
        tags: Some(tags),
        due_at,
        all_day: due_at.map(|_| rng.gen_bool(0.2)),
        ..Default::default()
    };
    let mut task =
        Task::create(errand_domain::new_id(), user.to_string(), &input, chrono_tz::Tz::UTC, created).unwrap();
    if rng.gen_bool(0.4) {
        task = task.completed(created + chrono::Duration::hours(rng.gen_range(1..500))).unwrap().0;
    }
    task
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    StatusByDue,
    WordByRelevance,
    WordStatusPriorityDueRange,
    TagByPriority,
    Prefix,
    Typo,
}

const KINDS: [Kind; 6] = [
    Kind::StatusByDue,
    Kind::WordByRelevance,
    Kind::WordStatusPriorityDueRange,
    Kind::TagByPriority,
    Kind::Prefix,
    Kind::Typo,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::StatusByDue => "user+status, by due",
            Kind::WordByRelevance => "user+word, by relevance",
            Kind::WordStatusPriorityDueRange => "word+status+prio+due range",
            Kind::TagByPriority => "user+tag, by priority, due",
            Kind::Prefix => "3-letter prefix",
            Kind::Typo => "typo",
        }
    }
}

#[derive(Clone, Debug)]
struct Query {
    kind: Kind,
    user: usize,
    word: String,
    tag: String,
}

fn typo(word: &str) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    let i = chars.len() / 2;
    chars.swap(i - 1, i);
    chars.into_iter().collect()
}

fn query_mix(rng: &mut StdRng, vocabulary: &Vocabulary, per_kind: usize) -> Vec<Query> {
    let long_common: Vec<&String> = vocabulary.words.iter().take(300).filter(|w| w.len() >= 6).collect();
    let mut queries = Vec::new();
    for kind in KINDS {
        for _ in 0..per_kind {
            let common = vocabulary.words[rng.gen_range(0..150)].clone();
            let word = match kind {
                Kind::Prefix => common.chars().take(3).collect(),
                Kind::Typo => typo(long_common[rng.gen_range(0..long_common.len())]),
                _ => common,
            };
            let tag = TAGS[rng.gen_range(0..10)].to_string();
            queries.push(Query { kind, user: rng.gen_range(0..USERS), word, tag });
        }
    }
    queries
}

fn errand_request(q: &Query, users: &[String]) -> SearchRequest {
    let mut request = SearchRequest::new(&users[q.user], Sort::by(SortKey::Due, false), 50);
    match q.kind {
        Kind::StatusByDue => request.status = Some(Status::Open),
        Kind::WordByRelevance | Kind::Prefix | Kind::Typo => {
            request.text = Some(q.word.clone());
            request.sort = Sort::by(SortKey::Relevance, false);
        }
        Kind::WordStatusPriorityDueRange => {
            request.text = Some(q.word.clone());
            request.status = Some(Status::Open);
            request.priorities = vec![Priority::Medium, Priority::High, Priority::Urgent];
            request.due_after = Some(now() - chrono::Duration::days(30));
            request.due_before = Some(now() + chrono::Duration::days(60));
        }
        Kind::TagByPriority => {
            request.tags = vec![q.tag.clone()];
            request.sort = Sort::parse("-priority,due").unwrap();
        }
    }
    request
}

fn http_query(q: &Query) -> String {
    let word = &q.word;
    let after = (now() - chrono::Duration::days(30)).to_rfc3339().replace('+', "%2B");
    let before = (now() + chrono::Duration::days(60)).to_rfc3339().replace('+', "%2B");
    match q.kind {
        Kind::StatusByDue => "?sort=due&limit=50".to_string(),
        Kind::WordByRelevance | Kind::Prefix | Kind::Typo => format!("?q={word}&status=all&limit=50"),
        Kind::WordStatusPriorityDueRange => {
            format!("?q={word}&sort=due&priority=medium,high,urgent&due_after={after}&due_before={before}&limit=50")
        }
        Kind::TagByPriority => format!("?tag={}&status=all&sort=-priority,due&limit=50", q.tag),
    }
}

fn fts_match(q: &Query) -> String {
    let owner = format!("owner:u{}", q.user);
    match q.kind {
        Kind::Prefix => format!("{owner} AND \"{}\"*", q.word),
        Kind::TagByPriority => format!("{owner} AND tags:\"{}\"", q.tag),
        _ => format!("{owner} AND \"{}\"", q.word),
    }
}

const DUE_NONE: i64 = i64::MAX;

async fn sqlite_query(pool: &sqlx::SqlitePool, q: &Query) -> usize {
    let (from, to) = (
        (now() - chrono::Duration::days(30)).timestamp_millis(),
        (now() + chrono::Duration::days(60)).timestamp_millis(),
    );
    let rows = match q.kind {
        Kind::StatusByDue => sqlx::query("SELECT * FROM tasks WHERE owner = ? AND status = 0 ORDER BY due_key, id LIMIT 50")
            .bind(format!("u{}", q.user))
            .fetch_all(pool)
            .await,
        Kind::WordByRelevance | Kind::Prefix | Kind::Typo => sqlx::query(
            "SELECT t.* FROM fts JOIN tasks t ON t.rowid = fts.rowid WHERE fts MATCH ? ORDER BY rank LIMIT 50",
        )
        .bind(fts_match(q))
        .fetch_all(pool)
        .await,
        Kind::WordStatusPriorityDueRange => sqlx::query(
            "SELECT t.* FROM fts JOIN tasks t ON t.rowid = fts.rowid WHERE fts MATCH ? AND t.status = 0 \
             AND t.priority >= 2 AND t.due >= ? AND t.due < ? ORDER BY t.due_key, t.id LIMIT 50",
        )
        .bind(fts_match(q))
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await,
        Kind::TagByPriority => sqlx::query(
            "SELECT t.* FROM fts JOIN tasks t ON t.rowid = fts.rowid WHERE fts MATCH ? ORDER BY t.priority DESC, t.due_key, t.id DESC LIMIT 50",
        )
        .bind(fts_match(q))
        .fetch_all(pool)
        .await,
    };
    rows.map(|r| r.len()).unwrap_or_else(|e| panic!("sqlite {q:?}: {e}"))
}

async fn postgres_query(pool: &sqlx::PgPool, q: &Query, users: &[String]) -> usize {
    let (from, to) = (
        (now() - chrono::Duration::days(30)).timestamp_millis(),
        (now() + chrono::Duration::days(60)).timestamp_millis(),
    );
    let user = &users[q.user];
    let rows =
        match q.kind {
            Kind::StatusByDue => {
                sqlx::query("SELECT * FROM tasks WHERE user_id = $1 AND status = 0 ORDER BY due_key, id LIMIT 50")
                    .bind(user)
                    .fetch_all(pool)
                    .await
            }
            Kind::WordByRelevance | Kind::Typo => {
                sqlx::query(
                    "SELECT * FROM tasks WHERE user_id = $1 AND tsv @@ plainto_tsquery('simple', $2) \
             ORDER BY ts_rank(tsv, plainto_tsquery('simple', $2)) DESC LIMIT 50",
                )
                .bind(user)
                .bind(&q.word)
                .fetch_all(pool)
                .await
            }
            Kind::Prefix => {
                sqlx::query(
                    "SELECT * FROM tasks WHERE user_id = $1 AND tsv @@ to_tsquery('simple', $2 || ':*') \
             ORDER BY ts_rank(tsv, to_tsquery('simple', $2 || ':*')) DESC LIMIT 50",
                )
                .bind(user)
                .bind(&q.word)
                .fetch_all(pool)
                .await
            }
            Kind::WordStatusPriorityDueRange => {
                sqlx::query(
                    "SELECT * FROM tasks WHERE user_id = $1 AND tsv @@ plainto_tsquery('simple', $2) AND status = 0 \
             AND priority >= 2 AND due >= $3 AND due < $4 ORDER BY due_key, id LIMIT 50",
                )
                .bind(user)
                .bind(&q.word)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await
            }
            Kind::TagByPriority => sqlx::query(
                "SELECT * FROM tasks WHERE user_id = $1 AND tags @> ARRAY[$2] ORDER BY priority DESC, due_key, id DESC LIMIT 50",
            )
            .bind(user)
            .bind(&q.tag)
            .fetch_all(pool)
            .await,
        };
    rows.map(|r| r.len()).unwrap_or_else(|e| panic!("postgres {q:?}: {e}"))
}

#[derive(Default, Clone)]
struct Latencies(Vec<Duration>);

impl Latencies {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        sorted[((sorted.len() - 1) as f64 * p).round() as usize]
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn measure<F, Fut>(queries: &[Query], mut run: F) -> Vec<Latencies>
where
    F: FnMut(Query) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut per_kind = vec![Latencies::default(); KINDS.len()];
    // Warm up caches with one pass over a tenth of the mix.
    for q in queries.iter().step_by(10) {
        run(q.clone()).await;
    }
    for q in queries {
        let start = Instant::now();
        run(q.clone()).await;
        per_kind[KINDS.iter().position(|k| *k == q.kind).unwrap()].0.push(start.elapsed());
    }
    per_kind
}

fn cell(l: Option<&Latencies>) -> String {
    match l {
        Some(l) => format!("{:>7.2} {:>8.2}", ms(l.percentile(0.5)), ms(l.percentile(0.99))),
        None => format!("{:>7} {:>8}", "-", "-"),
    }
}

fn ratio(other: Option<&Latencies>, errand: &Latencies) -> String {
    match other {
        Some(o) => {
            format!("{:>7.1}x", o.percentile(0.99).as_secs_f64() / errand.percentile(0.99).as_secs_f64().max(1e-9))
        }
        None => format!("{:>8}", "-"),
    }
}

fn all(per_kind: &[Latencies]) -> Latencies {
    Latencies(per_kind.iter().flat_map(|l| l.0.iter().copied()).collect())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let tasks_total = env_number("BENCH_TASKS", 1_000_000usize, 2_000);
    let per_kind = env_number("BENCH_QUERIES", 200usize, 5);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(20261126);
    let vocabulary = Vocabulary::new(&mut rng);
    println!("search benchmark: {tasks_total} tasks over {USERS} users, {per_kind} queries per kind");

    // The data: Errand's store, a SQLite FTS5 database and (when available) PostgreSQL.
    let store = Store::connect(&format!("sqlite://{}/errand.db", dir.path().display())).await.unwrap();
    store.migrate().await.unwrap();
    let mut users = Vec::new();
    for n in 0..USERS {
        let id = errand_domain::new_id();
        let new = NewUser {
            id: id.clone(),
            email: format!("user{n}@example.com"),
            name: None,
            password_hash: "x".into(),
            timezone: "UTC".into(),
            created_at: now(),
        };
        store.create_user(&new).await.unwrap();
        users.push(id);
    }
    let fts = sqlx::SqlitePool::connect(&format!("sqlite://{}/fts.db?mode=rwc", dir.path().display())).await.unwrap();
    for statement in [
        "PRAGMA journal_mode = WAL",
        "CREATE TABLE tasks (rowid INTEGER PRIMARY KEY, id TEXT, owner TEXT, status INTEGER, priority INTEGER, due INTEGER, \
         due_key INTEGER, created INTEGER, tags TEXT, title TEXT, description TEXT)",
    ] {
        sqlx::query(statement).execute(&fts).await.unwrap();
    }
    let postgres = match std::env::var("ERRAND_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            let admin = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query("DROP DATABASE IF EXISTS errand_search_bench").execute(&admin).await.unwrap();
            sqlx::query("CREATE DATABASE errand_search_bench").execute(&admin).await.unwrap();
            admin.close().await;
            let root = &url[..url.rfind('/').unwrap()];
            let pool = sqlx::PgPool::connect(&format!("{root}/errand_search_bench")).await.unwrap();
            sqlx::query(
                "CREATE TABLE tasks (id TEXT PRIMARY KEY, user_id TEXT, status SMALLINT, priority SMALLINT, due BIGINT, \
                 due_key BIGINT, created BIGINT, tags TEXT[], tags_text TEXT, title TEXT, description TEXT, \
                 tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || description || ' ' || tags_text)) STORED)",
            )
            .execute(&pool)
            .await
            .unwrap();
            Some(pool)
        }
        _ => {
            println!("(no ERRAND_TEST_POSTGRES_URL: the PostgreSQL column is skipped; `make bench` provides one)");
            None
        }
    };

    let load_started = Instant::now();
    let chunk = 20_000;
    let mut rowid = 0i64;
    let mut made = 0;
    while made < tasks_total {
        let n = chunk.min(tasks_total - made);
        let batch: Vec<Task> = (0..n).map(|i| random_task(&mut rng, &vocabulary, &users[(made + i) % USERS])).collect();
        store.insert_tasks_bulk(&batch).await.unwrap();
        let mut tx = fts.begin().await.unwrap();
        for task in &batch {
            rowid += 1;
            let owner = users.iter().position(|u| *u == task.user_id).unwrap();
            let due = task.due_at.map(|d| d.timestamp_millis());
            sqlx::query("INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(rowid)
                .bind(&task.id)
                .bind(format!("u{owner}"))
                .bind(i64::from(task.status == Status::Done))
                .bind(task.priority.rank())
                .bind(due)
                .bind(due.unwrap_or(DUE_NONE))
                .bind(task.created_at.timestamp_millis())
                .bind(task.tags.join(" "))
                .bind(&task.title)
                .bind(&task.description)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        if let Some(pg) = &postgres {
            let mut copy = pg
                .copy_in_raw("COPY tasks (id, user_id, status, priority, due, due_key, created, tags, tags_text, title, description) FROM STDIN")
                .await
                .unwrap();
            let mut text = String::new();
            for task in &batch {
                let due = task.due_at.map(|d| d.timestamp_millis().to_string()).unwrap_or_else(|| "\\N".into());
                let due_key = task.due_at.map(|d| d.timestamp_millis()).unwrap_or(DUE_NONE);
                text.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{{{}}}\t{}\t{}\t{}\n",
                    task.id,
                    task.user_id,
                    i32::from(task.status == Status::Done),
                    task.priority.rank(),
                    due,
                    due_key,
                    task.created_at.timestamp_millis(),
                    task.tags.join(","),
                    task.tags.join(" "),
                    task.title,
                    task.description
                ));
            }
            copy.send(text.into_bytes()).await.unwrap();
            copy.finish().await.unwrap();
        }
        made += n;
    }
    println!(
        "loaded {made} tasks into the store, SQLite and PostgreSQL tables in {:.1} s",
        load_started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    for statement in [
        "CREATE INDEX tasks_owner_status_due ON tasks (owner, status, due_key, id)",
        "CREATE VIRTUAL TABLE fts USING fts5(owner, title, description, tags, content='tasks', content_rowid='rowid', prefix='3')",
        "INSERT INTO fts(fts) VALUES ('rebuild')",
        "ANALYZE",
    ] {
        sqlx::query(statement).execute(&fts).await.unwrap();
    }
    println!("SQLite FTS5 index built in {:.1} s", started.elapsed().as_secs_f64());
    if let Some(pg) = &postgres {
        let started = Instant::now();
        for statement in [
            "CREATE INDEX tasks_tsv ON tasks USING GIN (tsv)",
            "CREATE INDEX tasks_tags ON tasks USING GIN (tags)",
            "CREATE INDEX tasks_user_status_due ON tasks (user_id, status, due_key, id)",
            "CREATE INDEX tasks_user_priority ON tasks (user_id, priority, due_key, id)",
            "VACUUM ANALYZE tasks",
        ] {
            sqlx::query(statement).execute(pg).await.unwrap();
        }
        println!("PostgreSQL GIN and btree indexes built in {:.1} s", started.elapsed().as_secs_f64());
    }
    let started = Instant::now();
    let index = SearchIndex::open(&dir.path().join("search"), &store).await.unwrap();
    println!("Errand index built in {:.1} s ({} documents)", started.elapsed().as_secs_f64(), index.num_docs());

    let queries = query_mix(&mut rng, &vocabulary, per_kind);
    let errand = {
        let index = index.clone();
        let users = users.clone();
        measure(&queries, move |q| {
            let page = index.search(&errand_request(&q, &users)).unwrap();
            std::future::ready(page.items.len())
        })
        .await
    };
    let sqlite = measure(&queries, |q| {
        let fts = fts.clone();
        async move { sqlite_query(&fts, &q).await }
    })
    .await;
    let pg = match &postgres {
        Some(pool) => Some(
            measure(&queries, |q| {
                let pool = pool.clone();
                let users = users.clone();
                async move { postgres_query(&pool, &q, &users).await }
            })
            .await,
        ),
        None => None,
    };

    // Write-to-visible under a steady write stream (100 writes/s for 10 s).
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let indexer = tokio::spawn(run_indexer(index.clone(), store.clone(), shutdown));
    let mut visible = Latencies::default();
    let writes = env_number("BENCH_WRITES", 1000usize, 20);
    let interval = Duration::from_millis(10);
    let stream_started = Instant::now();
    let mut waits = Vec::new();
    for i in 0..writes {
        tokio::time::sleep_until((stream_started + interval * i as u32).into()).await;
        let user = users[i % USERS].clone();
        let store = store.clone();
        let index = index.clone();
        let mut task_rng = StdRng::seed_from_u64(i as u64);
        let task = random_task(&mut task_rng, &vocabulary, &user);
        waits.push(tokio::spawn(async move {
            let start = Instant::now();
            let event = task_event(TaskEventKind::Created, &task, &Actor::User, None, Utc::now());
            store.insert_task(&task, &[event], None).await.unwrap();
            let position = store.last_write_position(&user).unwrap();
            assert!(index.wait_for(position, Duration::from_secs(10)).await, "write {i} never became visible");
            start.elapsed()
        }));
    }
    for wait in waits {
        visible.0.push(wait.await.unwrap());
    }
    stop.send(true).unwrap();
    indexer.await.unwrap();
    let (segments, deleted) = index.segment_stats();
    drop(index);

    // The same mix over HTTP against the real server on this data.
    let http = http_mix(dir.path(), &users, &queries).await;

    println!();
    println!(
        "{:<28} {:>16} {:>16} {:>16} {:>16} {:>9} {:>9}",
        "query (p50 / p99 ms)", "errand", "errand HTTP", "SQLite FTS5", "PostgreSQL", "FTS5/err", "PG/err"
    );
    for (i, kind) in KINDS.iter().enumerate() {
        println!(
            "{:<28} {} {} {} {} {} {}",
            kind.name(),
            cell(Some(&errand[i])),
            cell(Some(&http[i])),
            cell(Some(&sqlite[i])),
            cell(pg.as_ref().map(|p| &p[i])),
            ratio(Some(&sqlite[i]), &errand[i]),
            ratio(pg.as_ref().map(|p| &p[i]), &errand[i]),
        );
    }
    let (errand_all, http_all, sqlite_all) = (all(&errand), all(&http), all(&sqlite));
    let pg_all = pg.as_ref().map(|p| all(p));
    println!(
        "{:<28} {} {} {} {} {} {}",
        "whole mix",
        cell(Some(&errand_all)),
        cell(Some(&http_all)),
        cell(Some(&sqlite_all)),
        cell(pg_all.as_ref()),
        ratio(Some(&sqlite_all), &errand_all),
        ratio(pg_all.as_ref(), &errand_all),
    );
    println!();
    println!(
        "write -> visible in search ({writes} writes at 100/s): p50 {:.1} ms  p99 {:.1} ms  (index: {segments} segments, {deleted} deleted docs)",
        ms(visible.percentile(0.5)),
        ms(visible.percentile(0.99))
    );
    println!(
        "targets: in-process p99 < 5 ms: {}; HTTP p99 < 25 ms: {}; write->visible p99 < 200 ms: {}",
        verdict(errand_all.percentile(0.99) < Duration::from_millis(5)),
        verdict(http_all.percentile(0.99) < Duration::from_millis(25)),
        verdict(visible.percentile(0.99) < Duration::from_millis(200)),
    );
    println!("note: SQLite FTS5 and PostgreSQL full-text have no typo tolerance: their typo row runs the misspelt word as is.");
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

async fn http_mix(data_dir: &std::path::Path, users: &[String], queries: &[Query]) -> Vec<Latencies> {
    let url = store_url(data_dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_errand"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url, "--data-dir"])
        .arg(data_dir)
        .env("ERRAND_JWT_SECRET", SECRET)
        .env("RUST_LOG", "error")
        .env("ERRAND_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("errand listening on ").unwrap().to_string();
    // Sessions straight in the store: the accounts have no passwords to log in with.
    let store = Store::connect(&url).await.unwrap();
    let sessions = Sessions::new(store.clone(), Tokens::new(SECRET.as_bytes(), chrono::Duration::hours(1)));
    let mut tokens = Vec::new();
    for user in users {
        tokens.push(sessions.start(user, Utc::now()).await.unwrap().0);
    }
    let client = reqwest::Client::new();
    let tokens = Arc::new(tokens);
    let result = measure(queries, |q| {
        let client = client.clone();
        let tokens = tokens.clone();
        let url = format!("{base}/api/v1/tasks{}", http_query(&q));
        async move {
            let response = client.get(url).bearer_auth(&tokens[q.user]).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().await.unwrap().len()
        }
    })
    .await;
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    result
}

fn store_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}/errand.db", data_dir.display())
}
