//! Authentication under attack and clients that misbehave, against the real binary:
//! sessions that end, throttled log-ins, slow and greedy clients, event-stream caps,
//! and the headers a browser gets.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, Server, Session, TestDb};
use errand_store::on_every_backend;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

on_every_backend!(sessions_end_on_logout_password_change_and_disable);

fn session_of(server: &Server, body: &Value) -> Session {
    Session {
        client: server.client.clone(),
        base: server.base.clone(),
        token: body["token"].as_str().expect("token").to_string(),
        user: body["user"].clone(),
    }
}

async fn login(server: &Server, email: &str, password: &str) -> common::Reply {
    let res = server
        .client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("login");
    common::reply(res).await
}

async fn sessions_end_on_logout_password_change_and_disable(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else {
        return;
    };
    let ada = server.signup("ada@example.com").await;
    let bob_first = server.signup("bob@example.com").await;
    let bob_second = session_of(&server, &login(&server, "bob@example.com", "correct horse battery").await.body);

    // Logging out ends that session only, at once.
    assert_eq!(bob_first.post("/auth/logout", json!({})).await.status, 204);
    let ended = bob_first.get("/tasks").await;
    assert_eq!((ended.status, ended.error_code()), (401, "unauthorized"));
    assert_eq!(bob_second.get("/tasks").await.status, 200);

    // A password change needs the current password, and ends every other session.
    let bob_third = session_of(&server, &login(&server, "bob@example.com", "correct horse battery").await.body);
    let wrong = bob_second
        .post("/auth/password", json!({ "current_password": "not it at all", "new_password": "new horse battery" }))
        .await;
    assert_eq!(wrong.status, 401);
    let short = bob_second
        .post("/auth/password", json!({ "current_password": "correct horse battery", "new_password": "short" }))
        .await;
    assert_eq!((short.status, short.body["error"]["details"]["field"].as_str()), (422, Some("new_password")));
    let changed = bob_second
        .post(
            "/auth/password",
            json!({ "current_password": "correct horse battery", "new_password": "new horse battery" }),
        )
        .await;
    assert_eq!(changed.status, 204, "{:?}", changed.body);
    assert_eq!(bob_second.get("/tasks").await.status, 200, "the session that changed it goes on");
    assert_eq!(bob_third.get("/tasks").await.status, 401, "every other session ended");
    assert_eq!(login(&server, "bob@example.com", "correct horse battery").await.status, 401);
    let bob = session_of(&server, &login(&server, "bob@example.com", "new horse battery").await.body);

    // An admin disables an account: its tokens stop working at once, log-in is refused.
    let found = ada.get("/ops/users?email=BOB@").await;
    assert_eq!(found.body["items"].as_array().map(Vec::len), Some(1), "{:?}", found.body);
    let bob_id = found.body["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(bob.get("/ops/users").await.status, 403, "admins only");
    let disabled = ada.post(&format!("/ops/users/{bob_id}/disable"), json!({})).await;
    assert_eq!(disabled.status, 200);
    assert!(disabled.body["disabled_at"].is_string());
    assert_eq!(bob.get("/tasks").await.status, 401);
    assert_eq!(bob_second.get("/tasks").await.status, 401);
    let refused = login(&server, "bob@example.com", "new horse battery").await;
    assert_eq!((refused.status, refused.error_code()), (403, "forbidden"));
    let ada_id = ada.user["id"].as_str().unwrap();
    assert_eq!(ada.post(&format!("/ops/users/{ada_id}/disable"), json!({})).await.status, 409);
    assert_eq!(ada.post("/ops/users/nobody/disable", json!({})).await.status, 404);
    // Enabled again, it logs in afresh; the old sessions stay ended.
    let enabled = ada.post(&format!("/ops/users/{bob_id}/enable"), json!({})).await;
    assert!(enabled.body["disabled_at"].is_null());
    assert_eq!(bob.get("/tasks").await.status, 401);
    assert_eq!(login(&server, "bob@example.com", "new horse battery").await.status, 200);
}

/// Per account and per client address; the 429s say when to come back. The address is
/// the TCP peer: X-Forwarded-For is ignored unless configured.
#[tokio::test]
async fn logins_are_throttled_per_account_and_per_address() {
    let Some(db) = common::fresh_db(Backend::Sqlite).await else { return };
    let server = Server::start_with(&db.url, db.dir.path(), &[], &[("ERRAND_AUTH_ATTEMPTS_PER_MINUTE", "15")]);
    server.signup("ada@example.com").await;
    for _ in 0..10 {
        assert_eq!(login(&server, "ada@example.com", "wrong password!").await.status, 401);
    }
    let limited = login(&server, "ADA@example.com", "correct horse battery").await;
    assert_eq!((limited.status, limited.error_code()), (429, "rate_limited"));
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Other accounts are not locked out by ada's attacker, until the address runs out.
    for _ in 0..3 {
        assert_eq!(login(&server, "carol@example.com", "whatever it is").await.status, 401);
    }
    let res = server
        .client
        .post(server.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({ "email": "dave@example.com", "password": "whatever it is" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "the address is out of attempts, whatever X-Forwarded-For says");
    let signup = server
        .client
        .post(server.url("/api/v1/auth/signup"))
        .json(&json!({ "email": "eve@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 429, "sign-ups count against the address too");
}

/// Behind a proxy that is trusted, each client's address is the last X-Forwarded-For entry.
#[tokio::test]
async fn a_trusted_proxy_names_the_client() {
    let Some(db) = common::fresh_db(Backend::Sqlite).await else { return };
    let envs = [("ERRAND_AUTH_ATTEMPTS_PER_MINUTE", "2"), ("ERRAND_TRUST_FORWARDED_FOR", "true")];
    let server = Server::start_with(&db.url, db.dir.path(), &[], &envs);
    let attempt = |from: &'static str| {
        let request = server
            .client
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("198.51.100.1, {from}"))
            .json(&json!({ "email": "nobody@example.com", "password": "whatever it is" }));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        [attempt("203.0.113.1").await, attempt("203.0.113.1").await, attempt("203.0.113.1").await],
        [401, 401, 429]
    );
    assert_eq!(attempt("203.0.113.2").await, 401, "another client has its own quota");
}

async fn raw_connection(server: &Server) -> TcpStream {
    let address = server.base.trim_start_matches("http://").to_string();
    TcpStream::connect(address).await.expect("connect")
}

/// Whether the server closed `stream` (read returns 0 or fails) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Slowloris and trickled bodies are cut off after the client timeout, and while they
/// hang on, everyone else is served; one address cannot take every connection.
#[tokio::test]
async fn slow_and_greedy_clients_do_not_hold_the_server() {
    let Some(db) = common::fresh_db(Backend::Sqlite).await else { return };
    let envs = [("ERRAND_CLIENT_TIMEOUT_SECS", "1"), ("ERRAND_MAX_CONNECTIONS_PER_ADDRESS", "24")];
    let server = Server::start_with(&db.url, db.dir.path(), &[], &envs);
    let ada = server.signup("ada@example.com").await;
    let mut slow = Vec::new();
    for _ in 0..12 {
        let mut stream = raw_connection(&server).await;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: errand\r\nx-slow: ").await.unwrap();
        slow.push(stream);
    }
    let started = Instant::now();
    assert_eq!(server.client.get(server.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(ada.get("/tasks").await.status, 200);
    assert!(started.elapsed() < Duration::from_millis(500), "answered while the slow ones hang");
    for stream in &mut slow {
        assert!(closed_within(stream, Duration::from_secs(3)).await, "a header that never ends is cut off");
    }

    // A body that trickles in is a 408.
    let mut trickle = raw_connection(&server).await;
    let head = format!(
        "POST /api/v1/tasks HTTP/1.1\r\nhost: errand\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"title\":",
        ada.token
    );
    trickle.write_all(head.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(4), trickle.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");

    // Connections per address are capped: the next one is told so and closed.
    let mut held = Vec::new();
    for _ in 0..24 {
        let mut stream = raw_connection(&server).await;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: errand\r\n\r\n").await.unwrap();
        let mut buffer = [0u8; 512];
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(std::str::from_utf8(&buffer[..n]).unwrap().starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut extra = raw_connection(&server).await;
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), extra.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("too_many_connections"), "{answer}");
    drop(held);
    common::eventually("a free connection slot", 5, || async {
        server.client.get(server.url("/healthz")).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
}

/// Each user has a few event streams at once; a stream ends with its session.
#[tokio::test]
async fn event_streams_are_capped_per_user_and_end_with_the_session() {
    let Some(db) = common::fresh_db(Backend::Sqlite).await else { return };
    let server = Server::start_with(&db.url, db.dir.path(), &[], &[("ERRAND_STREAMS_PER_USER", "2")]);
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let open = |session: &Session| session.request(reqwest::Method::GET, "/notifications/stream").send();
    let first = open(&ada).await.unwrap();
    let second = open(&ada).await.unwrap();
    assert_eq!((first.status(), second.status()), (reqwest::StatusCode::OK, reqwest::StatusCode::OK));
    let third = open(&ada).await.unwrap();
    assert_eq!(third.status(), 429);
    assert_eq!(open(&bob).await.unwrap().status(), 200, "bob has slots of his own");
    drop(second);
    common::eventually("a freed stream slot", 5, || async { open(&ada).await.unwrap().status() == 200 }).await;

    // Logging out ends the open stream.
    let mut stream = first;
    assert_eq!(ada.post("/auth/logout", json!({})).await.status, 204);
    let ended =
        tokio::time::timeout(Duration::from_secs(10), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(ended.is_ok(), "the stream of an ended session closes");
}

/// Every response carries the browser-facing headers; CORS is closed unless configured.
#[tokio::test]
async fn security_headers_and_cors() {
    let Some(db) = common::fresh_db(Backend::Sqlite).await else { return };
    check_headers(&db).await;
}

async fn check_headers(db: &TestDb) {
    let closed = Server::start(&db.url, db.dir.path());
    for path in ["/healthz", "/api/v1/tasks", "/api/v1/nowhere"] {
        let res = closed.client.get(closed.url(path)).header("origin", "https://evil.example").send().await.unwrap();
        let headers = res.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert!(headers.get("access-control-allow-origin").is_none(), "{path}");
    }
    closed.stop();
    let open = Server::start_with(&db.url, db.dir.path(), &[], &[("ERRAND_CORS_ORIGINS", "https://tasks.example")]);
    let preflight = |origin: &'static str| {
        open.client
            .request(reqwest::Method::OPTIONS, open.url("/api/v1/tasks"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let allowed = preflight("https://tasks.example").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://tasks.example");
    assert!(allowed.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
}

/// `errand admin disable` and `enable` work on a stopped server's database.
#[tokio::test]
async fn admin_disable_and_enable_commands() {
    let Some(db) = common::fresh_db(Backend::Sqlite).await else { return };
    let server = Server::start(&db.url, db.dir.path());
    server.signup("ada@example.com").await;
    server.stop();
    let out = common::run_errand(&["admin", "disable", "ada@example.com"], &db);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 sessions ended"));
    let server = Server::start(&db.url, db.dir.path());
    assert_eq!(login(&server, "ada@example.com", "correct horse battery").await.status, 403);
    server.stop();
    assert!(common::run_errand(&["admin", "enable", "ada@example.com"], &db).status.success());
    assert!(!common::run_errand(&["admin", "disable", "nobody@example.com"], &db).status.success());
    let server = Server::start(&db.url, db.dir.path());
    assert_eq!(login(&server, "ada@example.com", "correct horse battery").await.status, 200);
}

/// A browser's session is an HttpOnly cookie it cannot read; writes made with it must
/// come from the same origin; logging out clears it.
#[tokio::test]
async fn browser_sessions_are_cookies_with_an_origin_check() {
    let Some(db) = common::fresh_db(Backend::Sqlite).await else { return };
    let server = Server::start(&db.url, db.dir.path());
    let res = server
        .client
        .post(server.url("/api/v1/auth/signup"))
        .header("x-errand-session", "cookie")
        .json(&json!({ "email": "ada@example.com", "password": "correct horse battery", "timezone": "Europe/Berlin" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("errand_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains("Secure"), "no TLS here");
    let body: Value = res.json().await.unwrap();
    assert!(body["token"].is_null(), "the token never reaches script");
    let session = cookie.split(';').next().unwrap().to_string();
    let origin = server.base.clone();
    let get = server.client.get(server.url("/api/v1/tasks")).header("cookie", &session).send().await.unwrap();
    assert_eq!(get.status(), 200);
    let post = |origin: Option<&str>| {
        let mut request = server
            .client
            .post(server.url("/api/v1/tasks"))
            .header("cookie", &session)
            .json(&json!({ "title": "from the browser" }));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    assert_eq!(post(None).await.unwrap().status(), 403, "no Origin: refused");
    assert_eq!(post(Some("https://evil.example")).await.unwrap().status(), 403);
    assert_eq!(post(Some(&origin)).await.unwrap().status(), 201);
    let me = server
        .client
        .patch(server.url("/api/v1/auth/me"))
        .header("cookie", &session)
        .header("origin", &origin)
        .json(&json!({ "timezone": "Asia/Tokyo", "name": "Ada" }))
        .send()
        .await
        .unwrap();
    let profile: Value = me.json().await.unwrap();
    assert_eq!((profile["timezone"].as_str(), profile["name"].as_str()), (Some("Asia/Tokyo"), Some("Ada")));
    let out = server
        .client
        .post(server.url("/api/v1/auth/logout"))
        .header("cookie", &session)
        .header("origin", &origin)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let after = server.client.get(server.url("/api/v1/tasks")).header("cookie", &session).send().await.unwrap();
    assert_eq!(after.status(), 401);
}
