//! End-to-end tests: the real `errand` binary on a free port, over HTTP, on each
//! store backend.

mod common;

use common::{Backend, Server};
use errand_store::on_every_backend;
use reqwest::Method;
use serde_json::{json, Value};

on_every_backend!(
    signup_login_and_me,
    full_task_lifecycle_with_every_field,
    list_filters_sorts_and_paging,
    paging_while_inserting_has_no_duplicates_or_gaps,
    users_never_see_each_others_tasks,
    idempotent_create,
    stale_writes_get_412,
    concurrent_patches_of_one_version_have_one_winner,
    tasks_survive_a_restart,
    saved_filters_and_tag_counts,
);

async fn signup_login_and_me(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else {
        return;
    };
    let ada = server
        .signup_with(json!({"email": "Ada@Example.com", "password": "correct horse", "name": "Ada", "timezone": "Europe/Berlin"}))
        .await;
    assert_eq!(ada.user["role"], "admin", "the first account is the admin");
    assert_eq!(ada.user["timezone"], "Europe/Berlin");
    let bob = server.signup("bob@example.com").await;
    assert_eq!(bob.user["role"], "user");

    let me = ada.get("/auth/me").await;
    assert_eq!((me.status, me.body["email"].as_str()), (200, Some("Ada@Example.com")));

    let login = |email: &str, password: &str| {
        server.client.post(server.url("/api/v1/auth/login")).json(&json!({"email": email, "password": password})).send()
    };
    let ok = common::reply(login("ADA@example.com", "correct horse").await.unwrap()).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["user"]["id"], ada.user["id"]);
    let token = ok.body["token"].as_str().unwrap();
    let me =
        common::reply(server.client.get(server.url("/api/v1/auth/me")).bearer_auth(token).send().await.unwrap()).await;
    assert_eq!(me.status, 200);

    // Wrong password and unknown email are indistinguishable.
    let wrong = common::reply(login("ada@example.com", "wrong horse").await.unwrap()).await;
    let unknown = common::reply(login("nobody@example.com", "correct horse").await.unwrap()).await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong.body, unknown.body);

    // Email uniqueness ignores case.
    let dup = server
        .client
        .post(server.url("/api/v1/auth/signup"))
        .json(&json!({"email": "ada@EXAMPLE.com", "password": "another one"}))
        .send()
        .await
        .unwrap();
    let dup = common::reply(dup).await;
    assert_eq!((dup.status, dup.error_code()), (409, "email_taken"));

    for (body, field) in [
        (json!({"email": "not-an-email", "password": "long enough"}), "email"),
        (json!({"email": "c@example.com", "password": "short"}), "password"),
        (json!({"email": "c@example.com", "password": "long enough", "timezone": "Mars/Base"}), "timezone"),
    ] {
        let r = common::reply(server.client.post(server.url("/api/v1/auth/signup")).json(&body).send().await.unwrap())
            .await;
        assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (422, Some(field)), "{body}");
    }

    // Missing, malformed and forged tokens.
    let none = common::reply(server.client.get(server.url("/api/v1/auth/me")).send().await.unwrap()).await;
    assert_eq!((none.status, none.error_code()), (401, "unauthorized"));
    assert_eq!(none.headers["www-authenticate"], "Bearer");
    for token in ["garbage", &format!("{}x", ada.token)] {
        let r =
            common::reply(server.client.get(server.url("/api/v1/auth/me")).bearer_auth(token).send().await.unwrap())
                .await;
        assert_eq!(r.status, 401);
    }
}

async fn full_task_lifecycle_with_every_field(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else {
        return;
    };
    let ada = server
        .signup_with(json!({"email": "ada@example.com", "password": "correct horse", "timezone": "America/New_York"}))
        .await;
    let created = ada
        .create(json!({
            "title": "  Pay rent  ",
            "description": "transfer to landlord",
            "priority": "urgent",
            "tags": ["#Home", "money", "home"],
            "due_at": "2030-03-01T14:00:00Z",
            "reminders": [{"before_due_minutes": 60}, {"at": "2030-02-28T12:00:00Z"}],
            "recurrence": {"rule": "FREQ=MONTHLY;BYMONTHDAY=1", "until": "2030-12-31"}
        }))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["title"], "Pay rent");
    assert_eq!(created["status"], "open");
    assert_eq!(created["tags"], json!(["home", "money"]));
    assert_eq!(created["due_at"], "2030-03-01T14:00:00Z");
    assert_eq!(created["all_day"], false);
    assert_eq!(created["reminders"][0]["before_due_minutes"], 60);
    assert_eq!(created["reminders"][0]["at"], "2030-03-01T13:00:00Z");
    assert_eq!(created["reminders"][1]["at"], "2030-02-28T12:00:00Z");
    assert_eq!(created["recurrence"]["rule"], "FREQ=MONTHLY;BYMONTHDAY=1");
    assert_eq!(created["recurrence"]["until"], "2030-12-31");
    // 09:00 New York on the 1st of each month: EST in March, EDT from April.
    assert_eq!(
        created["recurrence"]["next"],
        json!(["2030-03-01T14:00:00Z", "2030-04-01T13:00:00Z", "2030-05-01T13:00:00Z"])
    );
    assert_eq!(created["version"], 1);
    assert!(created["completed_at"].is_null());
    assert_eq!(created["series_id"], created["id"], "a recurring task starts its own series");

    let got = ada.get(&format!("/tasks/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, created);
    assert_eq!(got.headers["etag"], "\"1\"");

    // Natural-language due dates resolve in the user's timezone.
    let nl = ada.create(json!({"title": "call mom", "due": "tomorrow 5pm"})).await;
    let due = chrono::DateTime::parse_from_rfc3339(nl["due_at"].as_str().unwrap()).unwrap();
    let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
    assert_eq!(due.with_timezone(&ny).format("%H:%M").to_string(), "17:00");
    let all_day = ada.create(json!({"title": "holiday", "due": "2030-07-04"})).await;
    let standup = ada
        .create(json!({"title": "standup", "due": "2030-03-04 09:00", "recurrence": {"text": "every weekday"}}))
        .await;
    assert_eq!(standup["recurrence"]["rule"], "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR");
    assert_eq!(standup["recurrence"]["text"], "every weekday");
    let vague = ada.post("/tasks", json!({"title": "x", "recurrence": {"text": "now and then"}})).await;
    assert_eq!((vague.status, vague.body["error"]["details"]["field"].as_str()), (422, Some("recurrence.text")));
    let half = ada.post("/tasks", json!({"title": "x", "recurrence": {"text": "every monday when it rains"}})).await;
    let message = half.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("understood \"every monday\" but not \"when it rains\""), "{message}");
    // Words with a time, a first day and `every!` (count from completion), shown normalised.
    let gym = ada
        .create(json!({"title": "gym", "due": "2030-03-04 07:00",
                       "recurrence": {"text": "Every! Mon, Thu at 7am starting 2030-03-07"}}))
        .await;
    assert_eq!(gym["recurrence"]["rule"], "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=7;BYMINUTE=0;BYSECOND=0");
    assert_eq!(
        gym["recurrence"]["text"],
        "every monday and thursday at 7:00, counted from completion starting 2030-03-07"
    );
    assert_eq!(gym["recurrence"]["from_completion"], true);
    assert_eq!(gym["recurrence"]["next"][0].as_str().unwrap_or_default()[..10], *"2030-03-07");
    assert_eq!((all_day["all_day"].as_bool(), all_day["due_at"].as_str()), (Some(true), Some("2030-07-04T04:00:00Z")));

    // Moving the due date moves the relative reminder with it.
    let patched = ada
        .patch(
            &format!("/tasks/{id}"),
            json!({"due_at": "2030-03-02T14:00:00Z", "title": "Pay the rent", "priority": "high", "version": 1}),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["reminders"][0]["at"], "2030-03-02T13:00:00Z");
    assert_eq!(patched.body["reminders"][0]["id"], created["reminders"][0]["id"]);
    assert_eq!(patched.body["reminders"][1]["at"], "2030-02-28T12:00:00Z");
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.headers["etag"], "\"2\"");

    // Clearing: recurrence and reminders via null / empty, then the due date.
    let cleared =
        ada.patch(&format!("/tasks/{id}"), json!({"recurrence": null, "reminders": [], "due_at": null})).await;
    assert_eq!(cleared.status, 200, "{:?}", cleared.body);
    assert!(cleared.body["recurrence"].is_null() && cleared.body["due_at"].is_null());
    assert_eq!(cleared.body["reminders"], json!([]));

    // A patch that changes nothing keeps the version.
    let same = ada.patch(&format!("/tasks/{id}"), json!({"title": "Pay the rent"})).await;
    assert_eq!(same.body["version"], cleared.body["version"]);

    let done = ada.post(&format!("/tasks/{id}/complete"), json!({})).await;
    assert_eq!((done.status, done.body["status"].as_str()), (200, Some("done")));
    assert!(done.body["completed_at"].is_string());
    let again = ada.post(&format!("/tasks/{id}/complete"), json!({})).await;
    assert_eq!(again.body["version"], done.body["version"], "completing twice changes nothing");
    let open = ada.post(&format!("/tasks/{id}/reopen"), json!({})).await;
    assert_eq!((open.status, open.body["status"].as_str()), (200, Some("open")));
    assert!(open.body["completed_at"].is_null());

    let deleted = ada.delete(&format!("/tasks/{id}")).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(ada.get(&format!("/tasks/{id}")).await.status, 404);
    assert_eq!(ada.delete(&format!("/tasks/{id}")).await.status, 404);
}

async fn list_filters_sorts_and_paging(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let specs = [
        ("alpha", "low", Some("2030-01-03T00:00:00Z"), vec!["work"]),
        ("bravo", "urgent", Some("2030-01-01T00:00:00Z"), vec!["work", "home"]),
        ("charlie", "none", None, vec![]),
        ("delta", "high", Some("2030-01-02T00:00:00Z"), vec!["home"]),
        ("echo", "urgent", None, vec!["work"]),
    ];
    let mut ids = std::collections::HashMap::new();
    for (title, priority, due, tags) in &specs {
        let t = ada.create(json!({"title": title, "priority": priority, "due_at": due, "tags": tags})).await;
        ids.insert(*title, t["id"].as_str().unwrap().to_string());
    }
    // Millisecond timestamps: make the completion strictly the latest change.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    ada.post(&format!("/tasks/{}/complete", ids["alpha"]), json!({})).await;

    let titles = |r: &common::Reply| -> Vec<String> {
        r.body["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_string()).collect()
    };
    let cases = [
        ("", vec!["bravo", "delta", "charlie", "echo"]),
        ("?status=all", vec!["bravo", "delta", "alpha", "charlie", "echo"]),
        ("?status=done", vec!["alpha"]),
        ("?sort=-due", vec!["delta", "bravo", "echo", "charlie"]),
        ("?sort=-priority", vec!["echo", "bravo", "delta", "charlie"]),
        ("?sort=priority", vec!["charlie", "delta", "bravo", "echo"]),
        ("?sort=-priority,due", vec!["bravo", "echo", "delta", "charlie"]),
        ("?sort=-priority,-created", vec!["echo", "bravo", "delta", "charlie"]),
        ("?sort=title&status=all", vec!["alpha", "bravo", "charlie", "delta", "echo"]),
        ("?sort=-created", vec!["echo", "delta", "charlie", "bravo"]),
        ("?sort=created", vec!["bravo", "charlie", "delta", "echo"]),
        ("?priority=urgent", vec!["bravo", "echo"]),
        ("?priority=urgent,high&sort=title", vec!["bravo", "delta", "echo"]),
        ("?tag=work", vec!["bravo", "echo"]),
        ("?tag=work,home", vec!["bravo"]),
        ("?tag=%23Home", vec!["bravo", "delta"]),
        ("?due_after=2030-01-02T00:00:00Z", vec!["delta"]),
        ("?due_before=2030-01-02T00:00:00Z", vec!["bravo"]),
        ("?due_before=2030-01-04&status=all", vec!["bravo", "delta", "alpha"]),
    ];
    for (query, want) in cases {
        let r = ada.get(&format!("/tasks{query}")).await;
        assert_eq!(r.status, 200, "{query}: {:?}", r.body);
        assert_eq!(titles(&r), want, "{query}");
        assert_eq!(r.body["total"], want.len(), "{query}");
    }
    let sort_updated = ada.get("/tasks?sort=-updated&status=all&limit=1").await;
    assert_eq!(titles(&sort_updated), ["alpha"], "the completed task changed last");
    assert_eq!(sort_updated.body["total"], 5);
    assert!(sort_updated.body["next_cursor"].is_string());

    // Paging by two in priority order visits everything once.
    let mut path = "/tasks?sort=-priority&status=all&limit=2".to_string();
    let mut seen = Vec::new();
    loop {
        let r = ada.get(&path).await;
        assert!(r.body["items"].as_array().unwrap().len() <= 2);
        seen.extend(titles(&r));
        match r.body["next_cursor"].as_str() {
            Some(c) => path = format!("/tasks?sort=-priority&status=all&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["echo", "bravo", "delta", "alpha", "charlie"]);

    for (query, parameter) in [
        ("?status=maybe", "status"),
        ("?priority=p9", "priority"),
        ("?sort=colour", "sort"),
        ("?sort=due,due", "sort"),
        ("?sort=due,priority,title", "sort"),
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?limit=ten", "limit"),
        ("?cursor=%%%", "cursor"),
        ("?due_before=someday", "due_before"),
        ("?tag=a%20b", "tag"),
        ("?colour=red", "colour"),
    ] {
        let r = ada.get(&format!("/tasks{query}")).await;
        assert_eq!(
            (r.status, r.body["error"]["details"]["parameter"].as_str()),
            (400, Some(parameter)),
            "{query}: {:?}",
            r.body
        );
    }
}

async fn paging_while_inserting_has_no_duplicates_or_gaps(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let mut originals = std::collections::HashSet::new();
    for i in 0..30 {
        let due = if i % 3 == 0 { Value::Null } else { json!(format!("2030-01-{:02}T00:00:00Z", 1 + i % 7)) };
        let t = ada.create(json!({"title": format!("original {i}"), "due_at": due})).await;
        originals.insert(t["id"].as_str().unwrap().to_string());
    }
    for sort in ["due", "-due", "created", "-created", "title", "priority"] {
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut n = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/tasks?sort={sort}&limit=7&cursor={c}"),
                None => format!("/tasks?sort={sort}&limit=7"),
            };
            let r = ada.get(&path).await;
            assert_eq!(r.status, 200);
            seen.extend(r.body["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()));
            // Someone adds tasks between page loads: some sort before, some after the position.
            ada.create(json!({"title": format!("zz new {sort} {n}"), "due_at": "2029-12-31T00:00:00Z"})).await;
            ada.create(json!({"title": format!("aa new {sort} {n}")})).await;
            n += 1;
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let unique: std::collections::HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "sort {sort}: duplicates");
        assert!(originals.iter().all(|id| unique.contains(id)), "sort {sort}: an original task was skipped");
    }
}

async fn users_never_see_each_others_tasks(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let task = ada.create(json!({"title": "ada's secret", "tags": ["private"]})).await;
    let id = task["id"].as_str().unwrap();
    bob.create(json!({"title": "bob's own", "tags": ["private"]})).await;

    let attempts = [
        (Method::GET, format!("/tasks/{id}"), None),
        (Method::PATCH, format!("/tasks/{id}"), Some(json!({"title": "hacked"}))),
        (Method::DELETE, format!("/tasks/{id}"), None),
        (Method::POST, format!("/tasks/{id}/complete"), Some(json!({}))),
        (Method::POST, format!("/tasks/{id}/reopen"), Some(json!({}))),
    ];
    for (method, path, body) in attempts {
        let mut req = bob.request(method.clone(), &path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = bob.send(req).await;
        assert_eq!((r.status, r.error_code()), (404, "not_found"), "{method} {path}");
        assert!(!r.body.to_string().contains("ada"), "the 404 reveals nothing");
    }
    for query in ["", "?status=all", "?tag=private", "?sort=-created&limit=200"] {
        let list = bob.get(&format!("/tasks{query}")).await;
        let titles: Vec<&str> =
            list.body["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["bob's own"], "{query}");
        assert_eq!(list.body["total"], 1);
    }
    let unchanged = ada.get(&format!("/tasks/{id}")).await;
    assert_eq!(unchanged.body, task, "nothing bob did touched ada's task");
}

async fn idempotent_create(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let post = |key: &str, body: Value| {
        let req = ada.request(Method::POST, "/tasks").header("Idempotency-Key", key).json(&body);
        ada.send(req)
    };
    let first = post("key-1", json!({"title": "once", "priority": "low"})).await;
    assert_eq!(first.status, 201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    // Same key, same body (keys reordered): the original response.
    let second = post("key-1", json!({"priority": "low", "title": "once"})).await;
    assert_eq!(second.status, 201);
    assert_eq!(second.body, first.body);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    // Same key, different body: refused.
    let other = post("key-1", json!({"title": "twice"})).await;
    assert_eq!((other.status, other.error_code()), (422, "idempotency_key_reused"));
    // Concurrent requests with one key create one task.
    let racers: Vec<_> = (0..8).map(|_| post("key-2", json!({"title": "raced"}))).collect();
    let mut ids = std::collections::HashSet::new();
    for r in futures_join(racers).await {
        assert_eq!(r.status, 201, "{:?}", r.body);
        ids.insert(r.body["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1);
    let list = ada.get("/tasks?limit=200").await;
    assert_eq!(list.body["total"], 2);
    // Another user's identical key is independent.
    let bob = server.signup("bob@example.com").await;
    let bobs = bob
        .send(bob.request(Method::POST, "/tasks").header("Idempotency-Key", "key-1").json(&json!({"title": "bob"})))
        .await;
    assert_eq!(bobs.status, 201);
    assert_ne!(bobs.body["id"], first.body["id"]);
    let bad =
        ada.send(ada.request(Method::POST, "/tasks").header("Idempotency-Key", "").json(&json!({"title": "x"}))).await;
    assert_eq!(bad.status, 400);
}

async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut handles = Vec::new();
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    // Poll all concurrently without extra dependencies.
    let outputs = std::future::poll_fn(|cx| {
        let mut all_ready = true;
        for (i, f) in pinned.iter_mut().enumerate() {
            if handles.len() <= i {
                handles.resize_with(i + 1, || None);
            }
            if handles[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => handles[i] = Some(v),
                    std::task::Poll::Pending => all_ready = false,
                }
            }
        }
        if all_ready {
            std::task::Poll::Ready(handles.drain(..).map(|h| h.unwrap()).collect::<Vec<_>>())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs
}

async fn stale_writes_get_412(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let task = ada.create(json!({"title": "v1"})).await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());
    assert_eq!(ada.patch(&path, json!({"title": "v2", "version": 1})).await.status, 200);
    let stale = ada.patch(&path, json!({"title": "v3", "version": 1})).await;
    assert_eq!((stale.status, stale.error_code()), (412, "stale_version"));
    assert_eq!(stale.body["error"]["details"]["current_version"], 2);
    let stale_header =
        ada.send(ada.request(Method::PATCH, &path).header("If-Match", "\"1\"").json(&json!({"title": "v3"}))).await;
    assert_eq!(stale_header.status, 412);
    let fresh_header =
        ada.send(ada.request(Method::PATCH, &path).header("If-Match", "\"2\"").json(&json!({"title": "v3"}))).await;
    assert_eq!(fresh_header.status, 200);
    let stale_delete = ada.send(ada.request(Method::DELETE, &path).header("If-Match", "2")).await;
    assert_eq!(stale_delete.status, 412);
    assert_eq!(ada.get(&path).await.body["title"], "v3", "the stale writes changed nothing");
    let mismatch = ada
        .send(ada.request(Method::PATCH, &path).header("If-Match", "3").json(&json!({"title": "x", "version": 2})))
        .await;
    assert_eq!(mismatch.status, 400);
}

async fn concurrent_patches_of_one_version_have_one_winner(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let task = ada.create(json!({"title": "contended"})).await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());
    let writers: Vec<_> =
        (0..10).map(|i| ada.patch(&path, json!({"title": format!("writer {i}"), "version": 1}))).collect();
    let replies = futures_join(writers).await;
    let winners: Vec<&common::Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| r.status == 200 || r.status == 412));
    let now = ada.get(&path).await;
    assert_eq!(now.body["title"], winners[0].body["title"]);
    assert_eq!(now.body["version"], 2);
    // Without a version, concurrent patches all apply, one after another.
    let writers: Vec<_> = (0..10).map(|i| ada.patch(&path, json!({"description": format!("d{i}")}))).collect();
    assert!(futures_join(writers).await.iter().all(|r| r.status == 200));
    assert_eq!(ada.get(&path).await.body["version"], 12);
}

async fn tasks_survive_a_restart(backend: Backend) {
    let Some((server, db)) = Server::fresh(backend).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let task = ada
        .create(json!({"title": "durable", "description": "über ✓", "tags": ["a"], "due": "2030-05-05 10:00",
                       "reminders": [{"before_due_minutes": 15}], "recurrence": {"rule": "FREQ=DAILY", "count": 4}}))
        .await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());
    let status = server.stop();
    assert!(status.success(), "graceful shutdown exits cleanly: {status:?}");
    let restarted = Server::start(&db.url, db.dir.path());
    let mut session = ada.clone();
    session.base = restarted.base.clone();
    let back = session.get(&path).await;
    assert_eq!(back.status, 200, "the old token still works: the secret persisted");
    let mut want = task.clone();
    let mut got = back.body.clone();
    // `next` previews are relative to now; compare everything else exactly.
    want["recurrence"]["next"] = Value::Null;
    got["recurrence"]["next"] = Value::Null;
    assert_eq!(got, want);
}

#[tokio::test]
async fn error_statuses_and_bodies() {
    let Some((server, _db)) = Server::fresh(Backend::Sqlite).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let raw = |content_type: &str, body: Vec<u8>| {
        ada.send(ada.request(Method::POST, "/tasks").header("content-type", content_type).body(body))
    };
    let malformed = raw("application/json", b"{\"title\": ".to_vec()).await;
    assert_eq!((malformed.status, malformed.error_code()), (400, "malformed_json"));
    let trailing = raw("application/json", b"{\"title\": \"x\"} x".to_vec()).await;
    assert_eq!(trailing.status, 400);
    let wrong_type = raw("text/plain", b"{\"title\": \"x\"}".to_vec()).await;
    assert_eq!((wrong_type.status, wrong_type.error_code()), (415, "unsupported_media_type"));
    let too_big = raw(
        "application/json",
        format!("{{\"title\":\"x\",\"description\":\"{}\"}}", "a".repeat(300 * 1024)).into_bytes(),
    )
    .await;
    assert_eq!((too_big.status, too_big.error_code()), (413, "payload_too_large"));
    let unknown = ada.post("/tasks", json!({"title": "x", "colour": "red"})).await;
    assert_eq!((unknown.status, unknown.body["error"]["details"]["field"].as_str()), (422, Some("colour")));
    let wrong_kind = ada.post("/tasks", json!({"title": 5})).await;
    assert_eq!((wrong_kind.status, wrong_kind.body["error"]["details"]["field"].as_str()), (422, Some("title")));
    let bad_enum = ada.post("/tasks", json!({"title": "x", "priority": "p0"})).await;
    assert_eq!((bad_enum.status, bad_enum.body["error"]["details"]["field"].as_str()), (422, Some("priority")));

    let many_tags: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let reminders: Vec<Value> = (0..11).map(|_| json!({"at": "2030-01-01T00:00:00Z"})).collect();
    for (body, field) in [
        (json!({"title": ""}), "title"),
        (json!({"title": "x".repeat(501)}), "title"),
        (json!({"title": "x", "description": "d".repeat(20_001)}), "description"),
        (json!({"title": "x", "tags": many_tags}), "tags"),
        (json!({"title": "x", "tags": ["y".repeat(51)]}), "tags[0]"),
        (json!({"title": "x", "reminders": reminders}), "reminders"),
        (json!({"title": "x", "reminders": [{"before_due_minutes": 5}]}), "reminders[0].before_due_minutes"),
        (json!({"title": "x", "due": "when pigs fly"}), "due"),
        (json!({"title": "x", "due_at": "tomorrow"}), "due_at"),
        (json!({"title": "x", "recurrence": {"rule": "FREQ=SOMETIMES"}}), "recurrence.rule"),
        (json!({"title": "x", "recurrence": {"rule": "FREQ=DAILY", "colour": 1}}), "recurrence.colour"),
    ] {
        let r = ada.post("/tasks", body.clone()).await;
        assert_eq!(r.status, 422, "{body}");
        assert_eq!(r.body["error"]["details"]["field"].as_str(), Some(field), "{:?}", r.body);
        assert!(!r.body["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(ada.post("/tasks", json!({"title": "x".repeat(500)})).await.status, 201);

    let not_found = ada.get("/tasks/no-such-task").await;
    assert_eq!((not_found.status, not_found.error_code()), (404, "not_found"));
    let no_route = ada.get("/nowhere").await;
    assert_eq!((no_route.status, no_route.error_code()), (404, "not_found"));
    let method = ada.send(ada.request(Method::PUT, "/tasks")).await;
    assert_eq!((method.status, method.error_code()), (405, "method_not_allowed"));
    let unauth = common::reply(server.client.get(server.url("/api/v1/tasks")).send().await.unwrap()).await;
    assert_eq!((unauth.status, unauth.error_code()), (401, "unauthorized"));
    let bad_if_match = ada.send(ada.request(Method::DELETE, "/tasks/x").header("If-Match", "abc")).await;
    assert_eq!(bad_if_match.status, 400);
}

#[tokio::test]
async fn health_readiness_and_openapi() {
    let Some((server, _db)) = Server::fresh(Backend::Sqlite).await else {
        return;
    };
    let get = |path: &str| {
        let url = server.url(path);
        let client = server.client.clone();
        async move { common::reply(client.get(url).send().await.unwrap()).await }
    };
    assert_eq!(get("/healthz").await.body, json!({"status": "ok"}));
    assert_eq!(get("/readyz").await.body, json!({"status": "ready"}));
    let doc = get("/api/v1/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc.body["paths"].as_object().unwrap();
    let expected = [
        ("/api/v1/auth/signup", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/me", "patch"),
        ("/api/v1/auth/password", "post"),
        ("/api/v1/tasks", "post"),
        ("/api/v1/tasks", "get"),
        ("/api/v1/tasks/{id}", "get"),
        ("/api/v1/tasks/{id}", "patch"),
        ("/api/v1/tasks/{id}", "delete"),
        ("/api/v1/tasks/{id}/complete", "post"),
        ("/api/v1/tasks/{id}/reopen", "post"),
        ("/api/v1/audit", "get"),
        ("/api/v1/notifications", "get"),
        ("/api/v1/notifications/stream", "get"),
        ("/api/v1/notifications/{id}/read", "post"),
        ("/api/v1/tasks/bulk-delete", "post"),
        ("/api/v1/workflows", "get"),
        ("/api/v1/workflows/{id}", "get"),
        ("/api/v1/workflows/{id}/history", "get"),
        ("/api/v1/workflows/{id}/events/{name}", "post"),
        ("/api/v1/confirmations", "get"),
        ("/api/v1/confirmations/{id}", "post"),
        ("/api/v1/confirmations/{id}", "get"),
        ("/api/v1/filters/check", "post"),
        ("/api/v1/notifications/{id}/snooze", "post"),
        ("/api/v1/chat", "post"),
        ("/api/v1/chat/stream", "post"),
        ("/api/v1/chat/conversations", "get"),
        ("/api/v1/chat/conversations/{id}", "get"),
        ("/api/v1/ops/dead-letters", "get"),
        ("/api/v1/ops/dead-letters/{id}/replay", "post"),
        ("/api/v1/ops/users", "get"),
        ("/api/v1/ops/users/{id}/disable", "post"),
        ("/api/v1/ops/users/{id}/enable", "post"),
        ("/api/v1/parse", "post"),
        ("/api/v1/filters", "get"),
        ("/api/v1/filters", "post"),
        ("/api/v1/filters/{id}", "patch"),
        ("/api/v1/filters/{id}", "delete"),
        ("/api/v1/tags", "get"),
        ("/api/v1/series/{series_id}/{action}", "post"),
        ("/api/v1/ops/workflows", "get"),
        ("/api/v1/ops/workflows/histogram", "get"),
        ("/api/v1/ops/workflows/stats", "get"),
        ("/api/v1/ops/workflows/stream", "get"),
        ("/api/v1/ops/workflows/batch", "post"),
        ("/api/v1/ops/workflows/{id}", "get"),
        ("/api/v1/ops/workflows/{id}/history", "get"),
        ("/api/v1/ops/workflows/{id}/{action}", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ];
    for (path, method) in expected {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "openapi lacks {method} {path}");
    }
    assert_eq!(
        paths.values().map(|p| p.as_object().unwrap().len()).sum::<usize>(),
        expected.len(),
        "no undocumented extras"
    );
    let schemas = doc.body["components"]["schemas"].as_object().unwrap();
    for schema in ["TaskView", "NewTask", "TaskPatch", "ErrorBody", "UserProfile", "TaskList", "AuthResponse"] {
        assert!(schemas.contains_key(schema), "openapi lacks schema {schema}");
    }
    let create = &paths["/api/v1/tasks"]["post"]["responses"];
    for status in ["201", "400", "401", "413", "415", "422"] {
        assert!(create.get(status).is_some(), "POST /tasks documents {status}");
    }
}

#[tokio::test]
async fn readyz_fails_when_the_database_goes_away() {
    let Some(db) = common::fresh_db(Backend::Sqlite).await else {
        return;
    };
    let server = Server::start(&db.url, db.dir.path());
    let ready = common::reply(server.client.get(server.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(ready.status, 200);
    // Dropping the migrations table makes the schema unknown: not ready.
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    sqlx::query("DROP TABLE _sqlx_migrations").execute(&pool).await.unwrap();
    pool.close().await;
    let not_ready = common::reply(server.client.get(server.url("/readyz")).send().await.unwrap()).await;
    assert_eq!((not_ready.status, not_ready.error_code()), (503, "unavailable"));
    assert_eq!(common::reply(server.client.get(server.url("/healthz")).send().await.unwrap()).await.status, 200);
}

#[tokio::test]
async fn admin_grant_and_migrate_commands() {
    let Some((server, db)) = Server::fresh(Backend::Sqlite).await else {
        return;
    };
    server.signup("first@example.com").await;
    let bob = server.signup("bob@example.com").await;
    assert_eq!(bob.user["role"], "user");
    let errand = |args: &[&str]| common::run_errand(args, &db);
    let granted = errand(&["admin", "grant", "BOB@example.com"]);
    assert!(granted.status.success(), "{}", String::from_utf8_lossy(&granted.stderr));
    assert_eq!(bob.get("/auth/me").await.body["role"], "admin");
    let missing = errand(&["admin", "grant", "nobody@example.com"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no account"));
    let migrated = errand(&["migrate"]);
    assert!(migrated.status.success());
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_errand")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for word in ["serve", "migrate", "admin"] {
        assert!(help.contains(word), "--help explains {word}");
    }
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_errand"))
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid listen"));
}

/// Random and hostile inputs on every body and query field never produce a 5xx.
#[tokio::test]
async fn hostile_inputs_never_cause_server_errors() {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let Some((server, _db)) = Server::fresh(Backend::Sqlite).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let task = ada.create(json!({"title": "target", "due_at": "2030-01-01T00:00:00Z"})).await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());

    let mut rng = StdRng::seed_from_u64(0x00E2_2A4D);
    let fields =
        ["title", "description", "priority", "tags", "due", "due_at", "all_day", "reminders", "recurrence", "version"];
    let strings = [
        "",
        " ",
        "x",
        "tomorrow 5pm",
        "FREQ=DAILY",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO",
        "FREQ=YEARLY;BYWEEKNO=53;BYDAY=SU",
        "FREQ=DAILY;INTERVAL=999999",
        "FREQ=DAILY;UNTIL=19000101",
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "-1",
        "\u{0}",
        "💥",
        "@home*",
        "urgent",
        "next monday at 25:99",
        "in 99999999 days",
    ];
    for round in 0..300 {
        let mut body = serde_json::Map::new();
        for _ in 0..rng.gen_range(0..5) {
            body.insert(fields[rng.gen_range(0..fields.len())].to_string(), random_value(&mut rng, 0, &strings));
        }
        let body = Value::Object(body);
        let reply =
            if round % 2 == 0 { ada.post("/tasks", body.clone()).await } else { ada.patch(&path, body.clone()).await };
        assert!(reply.status < 500, "{body} -> {} {:?}", reply.status, reply.body);
        if reply.status >= 400 {
            assert!(reply.body["error"]["code"].is_string(), "{body} -> {:?}", reply.body);
        }
    }
    let params = ["status", "priority", "tag", "due_before", "due_after", "sort", "limit", "cursor", "q", "filter"];
    let raw = [
        "",
        "%00",
        "-1",
        "99999999999999999999",
        "all",
        "-due",
        "p1",
        "eyJzIjoiZHVlIiwiayI6MSwiaSI6IngifQ",
        "%ZZ",
        "a,b,,c",
        "-priority,due",
        "(today%20%7C%20(p1%20%26%20!%40x*))",
        "%40%2A",
        "search%3A%20%E2%9C%93%20inv",
        "due%20before%3A%2099999-01-01",
        "%21%21%21%28%28%28",
        "z%C3%A9%C3%A9%C3%A9zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
    ];
    for _ in 0..200 {
        let query: Vec<String> = (0..rng.gen_range(1..4))
            .map(|_| format!("{}={}", params[rng.gen_range(0..params.len())], raw[rng.gen_range(0..raw.len())]))
            .collect();
        let reply = ada.get(&format!("/tasks?{}", query.join("&"))).await;
        assert!(reply.status < 500, "{query:?} -> {} {:?}", reply.status, reply.body);
    }
    assert_eq!(ada.get("/healthz/../../tasks").await.status / 100, 4);
}

/// The inputs that once killed the process (a stack overflow is not a panic) and every
/// parser's limits: each a 4xx with the JSON error body naming what broke it, and the
/// server still answers afterwards.
#[tokio::test]
async fn parser_limits_answer_4xx_and_the_server_lives_on() {
    let Some((server, _db)) = Server::fresh(Backend::Sqlite).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let encode = |text: &str| -> String { form_urlencoded::byte_serialize(text.as_bytes()).collect() };
    let hostile_filters = ["(".repeat(2_500), "!".repeat(10_000) + "p1", "(!".repeat(300), vec!["p1"; 65].join(" | ")];
    for filter in &hostile_filters {
        let reply = ada.get(&format!("/tasks?filter={}", encode(filter))).await;
        assert_eq!(reply.status, 422, "{:?}", reply.body);
        assert_eq!(reply.body["error"]["details"]["parameter"], "filter");
        assert!(reply.body["error"]["details"]["position"].is_u64());
    }
    let checks = [
        (format!("/tasks?q={}", encode(&"milk ".repeat(21))), "q"),
        (format!("/tasks?q={}", "a".repeat(501)), "q"),
        (format!("/tasks?cursor={}", "a".repeat(1025)), "cursor"),
    ];
    for (path, parameter) in checks {
        let reply = ada.get(&path).await;
        assert_eq!(reply.status, 422, "{path}: {:?}", reply.body);
        assert_eq!(reply.body["error"]["details"]["parameter"], parameter);
    }
    let long_due = ada.get(&format!("/tasks?due_before={}", encode(&"tomorrow ".repeat(20)))).await;
    assert_eq!(long_due.status, 400);
    assert_eq!(long_due.body["error"]["details"]["parameter"], "due_before");
    let key = "k".repeat(256);
    let reply = ada
        .send(ada.request(Method::POST, "/tasks").header("Idempotency-Key", &key).json(&json!({"title": "x"})))
        .await;
    assert_eq!((reply.status, reply.body["error"]["details"]["parameter"].as_str()), (422, Some("Idempotency-Key")));
    let bodies = [
        (json!({"title": "x", "due": "next ".repeat(30)}), "due"),
        (json!({"title": "x", "recurrence": {"text": "every 0 days"}}), "recurrence.text"),
        (json!({"title": "x", "recurrence": {"text": "every day ".repeat(25)}}), "recurrence.text"),
        (json!({"title": "x", "recurrence": {"rule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}}), "recurrence.rule"),
        (
            json!({"title": "x", "recurrence": {"rule": format!("FREQ=DAILY;{}", "BYHOUR=1;".repeat(40))}}),
            "recurrence.rule",
        ),
    ];
    for (body, field) in bodies {
        let reply = ada.post("/tasks", body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {:?}", reply.body);
        assert_eq!(reply.body["error"]["details"]["field"], field, "{body}");
    }
    let chat = ada.post("/chat", json!({ "message": "x".repeat(4_001) })).await;
    assert_eq!(chat.status, 422);
    // Arbitrary JSON (an event's payload) is parsed with a depth limit.
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let request =
        ada.request(Method::POST, "/workflows/none/events/decision").header("content-type", "application/json");
    let reply = ada.send(request.body(nested)).await;
    assert_eq!((reply.status, reply.body["error"]["code"].as_str()), (400, Some("malformed_json")), "{:?}", reply.body);
    // What schemathesis found: a struct body given as an array of its fields, explicit
    // nulls where a field may only be absent, a version no task has, a control
    // character in an event name; and blank parameters mean absent ones.
    let task = ada.create(json!({"title": "kept"})).await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());
    let array = ada
        .send(ada.request(Method::PATCH, &path).header("content-type", "application/json").body("[null, null]"))
        .await;
    assert_eq!((array.status, array.error_code()), (422, "validation_failed"), "{:?}", array.body);
    let nulls = ada.post("/tasks/bulk-delete", json!({"filter": "done", "ids": null})).await;
    assert_eq!(nulls.status, 422, "{:?}", nulls.body);
    assert_eq!(ada.patch(&path, json!({"version": 0})).await.body["error"]["details"]["field"], "version");
    let control = ada.post("/workflows/none/events/%C2%88", json!({})).await;
    assert_eq!(control.status, 400);
    let blank = ada.get("/tasks?q=&filter=&status=&priority=&sort=&cursor=").await;
    assert_eq!((blank.status, blank.body["total"].as_i64()), (200, Some(1)));
    // Still serving everyone.
    assert_eq!(server.client.get(server.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(ada.get("/tasks").await.status, 200);
}

/// Todoist's rule for a recurring task without a date: it starts today, all day.
#[tokio::test]
async fn an_undated_recurring_task_starts_today_and_stays_on_days() {
    let Some((server, _db)) = Server::fresh(Backend::Sqlite).await else {
        return;
    };
    let ada = server
        .signup_with(
            json!({"email": "ada@example.com", "password": "correct horse battery", "timezone": "Pacific/Kiritimati"}),
        )
        .await;
    let task = ada.create(json!({"title": "water the plants", "recurrence": {"text": "every 3 days"}})).await;
    let tz: chrono_tz::Tz = "Pacific/Kiritimati".parse().unwrap();
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let due: chrono::DateTime<chrono::Utc> = task["due_at"].as_str().expect("dated").parse().unwrap();
    assert_eq!((due.with_timezone(&tz).date_naive(), task["all_day"].as_bool()), (today, Some(true)));
    assert_eq!(due.with_timezone(&tz).format("%H:%M").to_string(), "00:00");
}

/// A random JSON value: scalars of every type, awkward strings, and nested
/// reminder/recurrence-shaped objects.
fn random_value(rng: &mut rand::rngs::StdRng, depth: u32, strings: &[&str]) -> Value {
    use rand::Rng;
    match rng.gen_range(0..if depth > 2 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.gen::<bool>()),
        2 => json!(rng.gen::<i64>()),
        3 => json!(rng.gen_range(-2i64..600_000)),
        4 => json!(rng.gen::<f64>() * 1e12),
        5 => json!(strings[rng.gen_range(0..strings.len())]),
        6 => Value::Array((0..rng.gen_range(0..4)).map(|_| random_value(rng, depth + 1, strings)).collect()),
        _ => {
            let keys = ["at", "before_due_minutes", "id", "rule", "text", "count", "until", "from_completion"];
            let mut map = serde_json::Map::new();
            for _ in 0..rng.gen_range(0..4) {
                map.insert(keys[rng.gen_range(0..keys.len())].to_string(), random_value(rng, depth + 1, strings));
            }
            Value::Object(map)
        }
    }
}

/// The web UI answers every path outside /api/: its files, and index.html for the
/// app's routes; an unknown API path is still the JSON 404.
#[tokio::test]
async fn the_ui_is_served_beside_the_api() {
    let Some(db) = common::fresh_db(Backend::Sqlite).await else { return };
    let ui = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(ui.path().join("assets")).unwrap();
    std::fs::write(ui.path().join("index.html"), "<!doctype html><title>Errand</title>").unwrap();
    std::fs::write(ui.path().join("assets/index-abc123.js"), "export {}").unwrap();
    let dir = ui.path().to_str().unwrap();
    let server = Server::start_with(&db.url, db.dir.path(), &[], &[("ERRAND_UI_DIR", dir)]);
    let get = |path: &str| server.client.get(server.url(path)).send();
    let page = get("/upcoming").await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    assert!(page.text().await.unwrap().contains("<title>Errand</title>"));
    let asset = get("/assets/index-abc123.js").await.unwrap();
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(get("/assets/gone.js").await.unwrap().status(), 404);
    let api = get("/api/v1/nothing-here").await.unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(api.headers()["content-type"], "application/json");
}

async fn saved_filters_and_tag_counts(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;

    let work = ada.post("/filters", json!({"name": " Work today ", "query": "(today | overdue) & @work"})).await;
    assert_eq!(
        (work.status, work.body["name"].as_str(), work.body["position"].as_i64()),
        (201, Some("Work today"), Some(0))
    );
    let urgent = ada.post("/filters", json!({"name": "Urgent", "query": "p1", "color": "#dc2626"})).await;
    assert_eq!((urgent.status, urgent.body["position"].as_i64()), (201, Some(1)));
    let check = ada.post("/filters/check", json!({"query": "today & (p1"})).await;
    assert_eq!((check.status, check.body["ok"].as_bool()), (200, Some(false)), "{}", check.body);
    assert_eq!(check.body["error"]["position"], 11);
    assert_eq!(check.body["error"]["found"], "end of filter");
    let fine = ada.post("/filters/check", json!({"query": "  today | @work"})).await;
    assert_eq!(fine.body, json!({"ok": true, "error": null}));
    let bad = ada.post("/filters", json!({"name": "Broken", "query": "today & (p1"})).await;
    assert_eq!((bad.status, bad.error_code()), (422, "invalid_filter"));
    assert_eq!(bad.body["error"]["details"]["field"], "query");
    assert!(bad.body["error"]["details"]["position"].as_u64().is_some(), "{}", bad.body);
    for (body, field) in
        [(json!({"name": "  ", "query": "p1"}), "name"), (json!({"name": "x", "query": "p1", "color": "red"}), "color")]
    {
        let r = ada.post("/filters", body.clone()).await;
        assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (422, Some(field)), "{body}");
    }

    // Reordering, renaming and clearing a colour; another user sees none of it.
    let id = urgent.body["id"].as_str().unwrap();
    let moved = ada.patch(&format!("/filters/{id}"), json!({"position": 0, "color": null, "name": "Now"})).await;
    assert_eq!(
        (moved.status, moved.body["color"].clone(), moved.body["name"].as_str()),
        (200, Value::Null, Some("Now"))
    );
    let bad_query = ada.patch(&format!("/filters/{id}"), json!({"query": "due before"})).await;
    assert_eq!(bad_query.status, 422);
    let list = ada.get("/filters").await;
    let names: Vec<_> = list.body["items"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"Now") && names.contains(&"Work today"));
    assert!(!list.body["items"][0]["query"].as_str().unwrap().is_empty());
    assert_eq!(bob.get("/filters").await.body["items"], json!([]));
    assert_eq!(bob.patch(&format!("/filters/{id}"), json!({"name": "mine"})).await.status, 404);
    assert_eq!(bob.delete(&format!("/filters/{id}")).await.status, 404);
    assert_eq!(ada.delete(&format!("/filters/{id}")).await.status, 204);
    assert_eq!(ada.delete(&format!("/filters/{id}")).await.status, 404);
    assert_eq!(ada.get("/filters").await.body["items"].as_array().unwrap().len(), 1);

    // Tags: open tasks counted, a tag only done tasks carry still listed, per user.
    ada.create(json!({"title": "a", "tags": ["work", "urgent"]})).await;
    ada.create(json!({"title": "b", "tags": ["work"]})).await;
    let done = ada.create(json!({"title": "c", "tags": ["garden"]})).await;
    let done_id = done["id"].as_str().unwrap();
    assert_eq!(ada.post(&format!("/tasks/{done_id}/complete"), json!({})).await.status, 200);
    bob.create(json!({"title": "d", "tags": ["secret"]})).await;
    let tags = ada.get("/tags").await;
    assert_eq!(
        tags.body["items"],
        json!([{"name": "garden", "count": 0}, {"name": "urgent", "count": 1}, {"name": "work", "count": 2}])
    );
}

#[tokio::test]
async fn quick_add_text_parses_into_spans_and_a_preview() {
    let Some((server, _db)) = Server::fresh(Backend::Sqlite).await else {
        return;
    };
    let ada = server
        .signup_with(
            json!({"email": "ada@example.com", "password": "correct horse battery", "timezone": "Europe/Berlin"}),
        )
        .await;
    let text = "Pay rent 🏠 tomorrow 5pm #home p1 every month";
    let read = ada.post("/parse", json!({"text": text})).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["title"], "Pay rent 🏠");
    let spans = read.body["spans"].as_array().unwrap();
    let kinds: Vec<_> = spans.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["date", "tag", "priority", "recurrence"]);
    // Offsets are UTF-16 code units, as a browser counts them: the emoji is two.
    let utf16: Vec<u16> = text.encode_utf16().collect();
    for span in spans {
        let (start, end) = (span["start"].as_u64().unwrap() as usize, span["end"].as_u64().unwrap() as usize);
        assert_eq!(String::from_utf16(&utf16[start..end]).unwrap(), span["text"].as_str().unwrap());
    }
    assert_eq!(read.body["task"]["tags"], json!(["home"]));
    assert_eq!(read.body["preview"]["priority"], "urgent");
    assert_eq!(read.body["error"], Value::Null);
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let due: chrono::DateTime<chrono::Utc> = read.body["preview"]["due_at"].as_str().unwrap().parse().unwrap();
    let tomorrow = chrono::Utc::now().with_timezone(&tz).date_naive().succ_opt().unwrap();
    assert_eq!(due.with_timezone(&tz).naive_local(), tomorrow.and_hms_opt(17, 0, 0).unwrap());
    assert!(read.body["preview"]["recurrence"]["next"].as_array().is_some_and(|n| !n.is_empty()), "{}", read.body);

    // Quoted text stays title; nothing was created.
    let quoted = ada.post("/parse", json!({"text": "read \"next friday\" by Lem"})).await;
    assert_eq!(
        (quoted.body["title"].as_str(), quoted.body["spans"].as_array().map(Vec::len)),
        (Some("read next friday by Lem"), Some(0))
    );
    assert_eq!(ada.get("/tasks").await.body["items"], json!([]));

    // What would be refused says why; too long is a 422.
    let empty = ada.post("/parse", json!({"text": "#only-a-tag"})).await;
    assert_eq!(
        (empty.status, empty.body["preview"].clone(), empty.body["task"].clone()),
        (200, Value::Null, Value::Null)
    );
    assert_eq!(empty.body["error"]["field"], "title");
    let long = ada.post("/parse", json!({"text": "x".repeat(1001)})).await;
    assert_eq!((long.status, long.body["error"]["details"]["field"].as_str()), (422, Some("text")));
}
