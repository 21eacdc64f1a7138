//! Search over HTTP against the real binary: `q`, `filter`, read-your-writes,
//! isolation, and an index that survives crashes and deletion.

mod common;

use common::{Backend, Server, Session};
use errand_store::on_every_backend;
use serde_json::{json, Value};

on_every_backend!(text_and_filters_over_http, lists_reflect_each_write_at_once, no_query_reaches_another_users_tasks);

fn titles(reply: &common::Reply) -> Vec<String> {
    let mut titles: Vec<String> =
        reply.body["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_string()).collect();
    titles.sort();
    titles
}

async fn list(session: &Session, query: &str) -> common::Reply {
    let reply = session.get(&format!("/tasks{query}")).await;
    assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
    reply
}

async fn text_and_filters_over_http(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else { return };
    let ada = server.signup("ada@example.com").await;
    for (title, extra) in [
        ("Buy oat milk", json!({"tags": ["shopping"], "priority": "high", "due": "today 5pm"})),
        (
            "Quarterly invoices",
            json!({"tags": ["work"], "priority": "urgent", "description": "send them to accounting"}),
        ),
        ("Call the plumber", json!({"tags": ["home"], "due": "tomorrow"})),
        ("Invoice template", json!({"tags": ["work"]})),
    ] {
        let mut body = extra.clone();
        body["title"] = json!(title);
        ada.create(body).await;
    }
    let done = ada.create(json!({"title": "Old invoice", "tags": ["work"]})).await;
    ada.post(&format!("/tasks/{}/complete", done["id"].as_str().unwrap()), json!({})).await;

    let cases: &[(&str, &[&str])] = &[
        ("?q=milk", &["Buy oat milk"]),
        ("?q=invoice", &["Invoice template", "Quarterly invoices"]),
        ("?q=invo", &["Invoice template", "Quarterly invoices"]),
        ("?q=quartrly", &["Quarterly invoices"]),
        ("?q=accounting%20quarterly", &["Quarterly invoices"]),
        ("?q=invoice&status=all", &["Invoice template", "Old invoice", "Quarterly invoices"]),
        ("?filter=p1%20%7C%20p2", &["Buy oat milk", "Quarterly invoices"]),
        ("?filter=%40work%20%26%20!p1", &["Invoice template"]),
        ("?filter=done", &["Old invoice"]),
        ("?filter=today%20%7C%20tomorrow", &["Buy oat milk", "Call the plumber"]),
        ("?filter=no%20date&tag=work", &["Invoice template", "Quarterly invoices"]),
        ("?filter=search%3A%20plumber", &["Call the plumber"]),
        ("?q=invoice&filter=%40work&priority=urgent", &["Quarterly invoices"]),
        ("?q=nothing-like-this", &[]),
    ];
    for (query, want) in cases {
        assert_eq!(titles(&list(&ada, query).await), *want, "{query}");
    }
    // With q the default order is relevance: the title match ranks first.
    let ranked = list(&ada, "?q=invoice").await;
    assert_eq!(ranked.body["items"][0]["title"], "Invoice template");
    // Paging a search.
    let first = list(&ada, "?q=invoice&status=all&limit=2").await;
    assert_eq!(first.body["total"], 3);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = list(&ada, &format!("?q=invoice&status=all&limit=2&cursor={cursor}")).await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    let other_sort = ada.get(&format!("/tasks?q=invoice&status=all&limit=2&sort=due&cursor={cursor}")).await;
    assert_eq!(other_sort.status, 400, "a cursor belongs to its sort");

    let bad = ada.get("/tasks?filter=(today%20%7C").await;
    assert_eq!((bad.status, bad.error_code()), (422, "invalid_filter"));
    assert_eq!(bad.body["error"]["details"]["parameter"], "filter");
    assert_eq!(bad.body["error"]["details"]["position"], 8);
    assert!(bad.body["error"]["details"]["expected"].as_str().unwrap().starts_with("a filter"));
    let unknown = ada.get("/tasks?filter=someday").await;
    assert_eq!((unknown.status, unknown.body["error"]["details"]["position"].as_u64()), (422, Some(0)));
}

async fn lists_reflect_each_write_at_once(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else { return };
    let ada = server.signup("ada@example.com").await;
    for i in 0..15 {
        let title = format!("rapid task {i}");
        let task = ada.create(json!({"title": title})).await;
        let id = task["id"].as_str().unwrap().to_string();
        assert!(titles(&list(&ada, "?limit=200").await).contains(&title), "created {i} is listed at once");
        let renamed = format!("renamed {i}");
        ada.patch(&format!("/tasks/{id}"), json!({"title": renamed})).await;
        assert_eq!(
            titles(&list(&ada, &format!("?q=renamed%20{i}")).await),
            std::slice::from_ref(&renamed),
            "update {i} at once"
        );
        ada.post(&format!("/tasks/{id}/complete"), json!({})).await;
        assert!(!titles(&list(&ada, "?limit=200").await).contains(&renamed), "completion {i} at once");
        ada.delete(&format!("/tasks/{id}")).await;
        assert!(!titles(&list(&ada, "?status=all&limit=200").await).contains(&renamed), "deletion {i} at once");
    }
}

async fn no_query_reaches_another_users_tasks(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else { return };
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let secret = ada.create(json!({"title": "ada secret plan", "tags": ["private"], "priority": "urgent"})).await;
    let ada_id = ada.user["id"].as_str().unwrap();
    let secret_id = secret["id"].as_str().unwrap();
    let queries = [
        "?status=all".to_string(),
        "?q=secret".to_string(),
        format!("?q={ada_id}"),
        format!("?q={secret_id}"),
        "?filter=%40private".to_string(),
        "?filter=p1%20%7C%20!p1".to_string(),
        format!("?filter=search%3A%20{ada_id}"),
        "?filter=!(done)%20%7C%20done&status=all".to_string(),
        "?tag=private&status=all".to_string(),
    ];
    for query in queries {
        let reply = list(&bob, &query).await;
        assert_eq!(reply.body["total"], 0, "{query}: {:?}", reply.body);
        assert!(!reply.body.to_string().contains("secret"), "{query}");
    }
    assert_eq!(list(&ada, "?q=secret").await.body["total"], 1);
}

#[tokio::test]
async fn the_index_survives_crashes_deletion_and_damage() {
    let Some((server, db)) = Server::fresh(Backend::Sqlite).await else { return };
    let ada = server.signup("ada@example.com").await;
    for i in 0..40 {
        ada.create(json!({"title": format!("durable {i}")})).await;
    }
    server.kill();

    let expect_all = |server: &Server, session: &Session| {
        let mut session = session.clone();
        session.base = server.base.clone();
        async move {
            let reply = list(&session, "?q=durable&limit=200").await;
            assert_eq!(reply.body["total"], 40, "{:?}", reply.body["total"]);
        }
    };
    // After a crash mid-indexing the index catches up from its last commit.
    let restarted = Server::start(&db.url, db.dir.path());
    common::eventually("the index to catch up", 10, || async {
        let mut session = ada.clone();
        session.base = restarted.base.clone();
        session.get("/tasks?q=durable&limit=200").await.body["total"] == 40
    })
    .await;
    expect_all(&restarted, &ada).await;

    // `errand reindex` refuses while the server holds the index.
    let reindex = || common::run_errand(&["reindex"], &db);
    let refused = reindex();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("in use"));
    assert!(restarted.stop().success());
    let done = reindex();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(String::from_utf8_lossy(&done.stdout).contains("40 tasks"));

    // A deleted index is rebuilt on start.
    std::fs::remove_dir_all(db.dir.path().join("search")).unwrap();
    let rebuilt = Server::start(&db.url, db.dir.path());
    expect_all(&rebuilt, &ada).await;
    assert!(rebuilt.stop().success());

    // So is a damaged one.
    let search = db.dir.path().join("search");
    let current = std::fs::read_to_string(search.join("CURRENT")).unwrap();
    let meta = search.join(current.trim()).join("meta.json");
    std::fs::write(&meta, b"{ not json").unwrap();
    let repaired = Server::start(&db.url, db.dir.path());
    expect_all(&repaired, &ada).await;
    let mut session = ada.clone();
    session.base = repaired.base.clone();
    let value: Value = session.get("/tasks?q=durable%2039").await.body;
    assert_eq!(value["items"][0]["title"], "durable 39");
}

/// Logs `email` in on `server` (an account made on another replica).
async fn log_in(server: &Server, email: &str) -> Session {
    let body: Value = reqwest::Client::new()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": "correct horse battery" }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    Session {
        client: server.client.clone(),
        base: server.base.clone(),
        token: body["token"].as_str().expect("token").to_string(),
        user: body["user"].clone(),
    }
}

/// Waits until every one of `consumers` has passed the whole outbox.
async fn consumers_caught_up(store: &errand_store::Store, consumers: &[&str]) {
    common::eventually("every consumer past the writes", 10, || async {
        let head = store.outbox_head().await.unwrap();
        let mut behind = false;
        for consumer in consumers {
            behind |= store.consumer_position(consumer).await.unwrap() < head;
        }
        !behind
    })
    .await;
}

/// Two replicas on one PostgreSQL database, each with its own index: a write on either
/// is searchable on both, and the outbox is pruned only past what every replica's index
/// has read, so a replica that was stopped catches up; one away so long that its cursor
/// counts as stale rebuilds its index instead of missing what was pruned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replica_finds_every_write() {
    let Some(db) = common::fresh_db(Backend::Postgres).await else { return };
    let b_dir = tempfile::tempdir().unwrap();
    let a = Server::start(&db.url, db.dir.path());
    let mut b = Some(Server::start(&db.url, b_dir.path()));
    let on_a = a.signup("ada@example.com").await;
    let on_b = log_in(b.as_ref().unwrap(), "ada@example.com").await;
    let mut latencies = Vec::new();
    let words = [
        "aardvark", "badger", "camel", "dingo", "eland", "ferret", "gazelle", "heron", "ibis", "jackal", "koala",
        "lemur", "marmot", "narwhal", "ocelot", "pelican", "quokka", "raccoon", "tapir", "walrus",
    ];
    for (n, word) in words.iter().enumerate() {
        let (writer, reader) = if n % 2 == 0 { (&on_a, &on_b) } else { (&on_b, &on_a) };
        writer.create(json!({ "title": format!("feed the {word}") })).await;
        let written = std::time::Instant::now();
        common::eventually(&format!("{word} on the other replica"), 10, || async { reader.found(word).await == 1 })
            .await;
        latencies.push(written.elapsed());
    }
    latencies.sort();
    println!("a write searchable on the other replica after p50 {:?}, max {:?}", latencies[10], latencies[19]);

    // B stopped while A writes, and the outbox pruned: B's cursor holds it back.
    b.take().unwrap().stop();
    for n in 0..10 {
        on_a.create(json!({ "title": format!("while away {n}") })).await;
    }
    let store = errand_store::Store::connect(&db.url).await.unwrap();
    let readers = ["audit", "notification", "workflow-trigger", errand_search::SEARCH_READERS];
    consumers_caught_up(&store, &readers[..3]).await;
    store.prune_outbox(&readers).await.unwrap();
    let b_server = Server::start(&db.url, b_dir.path());
    let on_b = log_in(&b_server, "ada@example.com").await;
    common::eventually("B caught up", 10, || async { on_b.found("away").await == 10 }).await;

    // B away long enough to be stale: pruning passes it, and B rebuilds its index.
    b_server.stop();
    for n in 0..10 {
        on_a.create(json!({ "title": format!("long gone {n}") })).await;
    }
    let stale = (chrono::Utc::now() - errand_store::READER_STALE_AFTER - chrono::Duration::hours(1)).timestamp_millis();
    let replica = std::fs::read_to_string(b_dir.path().join("search/replica")).unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE consumer_cursors SET updated_at = $1 WHERE consumer = $2")
        .bind(stale)
        .bind(format!("search:{}", replica.trim()))
        .execute(&pool)
        .await
        .unwrap();
    consumers_caught_up(&store, &readers[..3]).await;
    // A's index saves its cursor once a second while it works: prune until the outbox is
    // pruned past B's (stale) cursor.
    let b_cursor = store.consumer_position(&format!("search:{}", replica.trim())).await.unwrap();
    common::eventually("pruned past the stale replica", 10, || async {
        store.prune_outbox(&readers).await.unwrap();
        store.outbox_pruned_up_to().await.unwrap() > b_cursor
    })
    .await;
    let b_server = Server::start(&db.url, b_dir.path());
    let on_b = log_in(&b_server, "ada@example.com").await;
    common::eventually("B rebuilt", 10, || async { on_b.found("gone").await == 10 }).await;
    assert_eq!(on_b.found("aardvark").await, 1);
    store.close().await;
}
