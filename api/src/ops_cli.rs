//! `errand workflows ...`: the ops inspection of workflows from a terminal, a client of a
//! running server's `/api/v1/ops/workflows` (URL and an admin's token from flags or
//! `ERRAND_URL` / `ERRAND_TOKEN`). Tables by default, `--output json` for scripts, and
//! exit codes scripts can branch on ([`Exit`]).

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

/// What a command's exit code says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// The server or the network failed (5xx, unreachable).
    Failed = 1,
    /// A bad argument or query (400, 422).
    Usage = 2,
    /// No such instance (404).
    NotFound = 3,
    /// Not signed in as an admin (401, 403).
    Refused = 4,
    /// The instance's state does not allow it (409).
    Conflict = 5,
}

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns.
    Table,
    /// The server's JSON.
    Json,
}

/// Where the server is and who asks.
#[derive(Debug, Args)]
pub struct Connection {
    /// The server [env: ERRAND_URL] [default: http://127.0.0.1:8080]
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// An admin's token [env: ERRAND_TOKEN]
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// table or json
    #[arg(long, short, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// `errand workflows <command>`.
#[derive(Debug, Subcommand)]
pub enum WorkflowsCommand {
    /// Instances matching a query (`kind:reminder & waiting:timer`), with counts.
    List {
        /// The ops query.
        #[arg(default_value = "")]
        query: String,
        /// created, -created, updated or -updated
        #[arg(long, default_value = "-created")]
        sort: String,
        /// Most instances to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One instance in full.
    Show {
        /// Instance id.
        id: String,
    },
    /// An instance's history.
    History {
        /// Instance id.
        id: String,
    },
    /// Terminate an instance.
    Terminate {
        /// Instance id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        /// Its children too.
        #[arg(long)]
        recursive: bool,
    },
    /// Suspend an instance.
    Suspend {
        /// Instance id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Resume a suspended instance.
    Resume {
        /// Instance id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Raise an event on an instance.
    Raise {
        /// Instance id.
        id: String,
        /// The event's name.
        name: String,
        /// Its payload, as JSON.
        #[arg(long)]
        data: Option<String>,
    },
    /// Purge a finished instance.
    Purge {
        /// Instance id.
        id: String,
    },
    /// Start a new instance with the same workflow and input.
    Rerun {
        /// Instance id.
        id: String,
    },
    /// Act on every instance a query matches: count first with --dry-run; otherwise a
    /// confirmation is requested, and approved at once with --yes.
    Batch {
        /// terminate, suspend, resume, purge or raise
        action: String,
        /// The ops query.
        query: String,
        /// Only count and show a sample.
        #[arg(long)]
        dry_run: bool,
        /// Approve the confirmation and wait for the batch to finish.
        #[arg(long)]
        yes: bool,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        /// For raise: the event's name.
        #[arg(long)]
        event: Option<String>,
    },
    /// Counts by kind and status, waits, stuck instances, lateness, dead letters.
    Stats {
        /// Seconds of untouched ready work that make an instance stuck.
        #[arg(long, default_value_t = 300)]
        stuck_after: i64,
    },
    /// Print changes as they happen, until interrupted.
    Watch {
        /// Only instances whose id contains this.
        #[arg(long)]
        filter: Option<String>,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    output: Output,
}

/// A failed call: the exit code and what to say.
struct Failure(Exit, String);

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, Failure> {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response =
            request.send().await.map_err(|e| Failure(Exit::Failed, format!("cannot reach {}: {e}", self.base)))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let message = body["error"]["message"].as_str().unwrap_or("the server refused").to_string();
        let exit = match status {
            400 | 422 => Exit::Usage,
            401 | 403 => Exit::Refused,
            404 => Exit::NotFound,
            409 => Exit::Conflict,
            _ => Exit::Failed,
        };
        Err(Failure(exit, format!("{message} ({status})")))
    }

    async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, Failure> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    fn print(&self, value: &Value, table: impl FnOnce(&Value) -> String) {
        match self.output {
            Output::Json => println!("{}", serde_json::to_string_pretty(value).unwrap_or_default()),
            Output::Table => print!("{}", table(value)),
        }
    }
}

/// Columns padded to their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn waiting(instance: &Value) -> String {
    let w = &instance["waiting"];
    if w.is_null() {
        return "-".into();
    }
    let mut out = text(&w["reason"]);
    if let Some(events) = w["events"].as_array().filter(|e| !e.is_empty()) {
        out.push_str(&format!(" {}", events.iter().map(text).collect::<Vec<_>>().join("|")));
    }
    if let Some(until) = w["until"].as_str() {
        out.push_str(&format!(" until {until}"));
    }
    out
}

fn instances_table(page: &Value) -> String {
    let rows: Vec<Vec<String>> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| vec![text(&i["id"]), text(&i["kind"]), text(&i["status"]), waiting(i), text(&i["updated_at"])])
        .collect();
    let counts =
        page["counts"].as_object().map(|c| c.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    let mut out = table(&["ID", "KIND", "STATUS", "WAITING", "UPDATED"], &rows);
    out.push_str(&format!("{} matching ({})\n", text(&page["total"]), counts.unwrap_or_default()));
    out
}

/// Runs `errand workflows <command>`.
pub async fn run(connection: Connection, command: WorkflowsCommand) -> ExitCode {
    let base = connection
        .url
        .or_else(|| std::env::var("ERRAND_URL").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8080".into())
        .trim_end_matches('/')
        .to_string();
    let Some(token) = connection.token.or_else(|| std::env::var("ERRAND_TOKEN").ok()).filter(|t| !t.is_empty()) else {
        eprintln!("errand: an admin's token is needed: --token or ERRAND_TOKEN (POST /api/v1/auth/login gives one)");
        return ExitCode::from(Exit::Usage as u8);
    };
    let http =
        reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(5)).build().unwrap_or_default();
    let client = Client { http, base, token, output: connection.output };
    match command_result(&client, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(exit, message)) => {
            eprintln!("errand: {message}");
            ExitCode::from(exit as u8)
        }
    }
}

fn instance_path(id: &str) -> String {
    format!("/ops/workflows/{}", encode(id))
}

async fn command_result(client: &Client, command: WorkflowsCommand) -> Result<(), Failure> {
    match command {
        WorkflowsCommand::List { query, sort, limit } => {
            let page = client
                .get(&format!("/ops/workflows?q={}&sort={}&limit={limit}", encode(&query), encode(&sort)))
                .await?;
            client.print(&page, instances_table);
        }
        WorkflowsCommand::Show { id } => {
            let detail = client.get(&instance_path(&id)).await?;
            client.print(&detail, |d| {
                let i = &d["instance"];
                let mut out = String::new();
                for (label, value) in [
                    ("id", text(&i["id"])),
                    ("kind", text(&i["kind"])),
                    ("status", text(&i["status"])),
                    ("waiting", waiting(i)),
                    ("custom status", text(&i["custom_status"])),
                    ("user", text(&i["user_id"])),
                    ("task", text(&i["task_id"])),
                    ("created", text(&i["created_at"])),
                    ("updated", text(&i["updated_at"])),
                    ("input", d["input"].to_string()),
                    ("output", d["output"].to_string()),
                    ("failure", text(&d["failure"])),
                    ("timers", d["timers"].to_string()),
                    ("activities", d["activities"].to_string()),
                    ("children", d["children"].to_string()),
                ] {
                    out.push_str(&format!("{label:<14} {value}\n"));
                }
                out
            });
        }
        WorkflowsCommand::History { id } => {
            let history = client.get(&format!("{}/history", instance_path(&id))).await?;
            client.print(&history, |h| {
                let rows: Vec<Vec<String>> = h["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        let took = e["duration_ms"].as_i64().map(|ms| format!("{ms} ms")).unwrap_or_default();
                        vec![text(&e["seq"]), text(&e["timestamp"]), text(&e["type"]), text(&e["name"]), took]
                    })
                    .collect();
                table(&["SEQ", "AT", "EVENT", "NAME", "TOOK"], &rows)
            });
        }
        WorkflowsCommand::Terminate { id, reason, recursive } => {
            act(client, &id, "terminate", json!({ "reason": reason, "recursive": recursive })).await?
        }
        WorkflowsCommand::Suspend { id, reason } => act(client, &id, "suspend", json!({ "reason": reason })).await?,
        WorkflowsCommand::Resume { id, reason } => act(client, &id, "resume", json!({ "reason": reason })).await?,
        WorkflowsCommand::Raise { id, name, data } => {
            let data = match data {
                Some(text) => {
                    serde_json::from_str(&text).map_err(|e| Failure(Exit::Usage, format!("--data is not JSON: {e}")))?
                }
                None => Value::Null,
            };
            act(client, &id, "raise", json!({ "name": name, "data": data })).await?
        }
        WorkflowsCommand::Purge { id } => act(client, &id, "purge", json!({})).await?,
        WorkflowsCommand::Rerun { id } => act(client, &id, "rerun", json!({})).await?,
        WorkflowsCommand::Batch { action, query, dry_run, yes, reason, event } => {
            let spec =
                json!({ "query": query, "action": action, "reason": reason, "event": event, "dry_run": dry_run });
            let answer = client.post("/ops/workflows/batch", spec).await?;
            let Some(confirmation) = answer["confirmation"]["id"].as_str().map(String::from) else {
                client.print(&answer, |a| {
                    let page = json!({ "items": a["sample"], "total": a["count"], "counts": {} });
                    format!("{}(a dry run: nothing was done)\n", instances_table(&page))
                });
                return Ok(());
            };
            if !yes {
                client.print(&answer, |a| {
                    format!(
                        "{}\nconfirmation {confirmation} waits for approval: POST /api/v1/confirmations/{confirmation} or run again with --yes\n",
                        text(&a["confirmation"]["summary"])
                    )
                });
                return Ok(());
            }
            client.post(&format!("/confirmations/{confirmation}"), json!({ "decision": "approve" })).await?;
            let instance = format!("confirmation:{confirmation}");
            loop {
                let detail = client.get(&instance_path(&instance)).await?;
                let status = detail["instance"]["status"].as_str().unwrap_or("").to_string();
                if status == "completed" || status == "failed" || status == "terminated" {
                    client.print(&detail["output"], |o| {
                        let r = &o["result"];
                        format!(
                            "batch {}: {} of {} done, {} skipped, {} failed\n",
                            text(&o["status"]),
                            text(&r["done"]),
                            text(&r["total"]),
                            text(&r["skipped"]),
                            r["failed"].as_array().map_or(0, Vec::len)
                        )
                    });
                    if status != "completed" {
                        return Err(Failure(Exit::Failed, format!("the batch's workflow is {status}")));
                    }
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        }
        WorkflowsCommand::Stats { stuck_after } => {
            let stats = client.get(&format!("/ops/workflows/stats?stuck_after={stuck_after}")).await?;
            client.print(&stats, |s| {
                let mut rows = Vec::new();
                for (kind, counts) in s["by_kind"].as_object().into_iter().flatten() {
                    let counts: Vec<String> =
                        counts.as_object().into_iter().flatten().map(|(k, v)| format!("{k} {v}")).collect();
                    rows.push(vec![kind.clone(), counts.join(", ")]);
                }
                let mut out = table(&["KIND", "INSTANCES"], &rows);
                let waits: Vec<Vec<String>> = s["waiting"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|w| vec![text(&w["reason"]), text(&w["count"]), text(&w["oldest"]["id"]), text(&w["oldest"]["since"])])
                    .collect();
                out.push('\n');
                out.push_str(&table(&["WAITING", "COUNT", "OLDEST", "SINCE"], &waits));
                out.push_str(&format!(
                    "\nstuck (ready work untouched for {} s): {}\ntimer lateness p50/p99: {}/{} ms; activity queue delay p50/p99: {}/{} ms\ndead letters: {}\n",
                    text(&s["stuck_after_seconds"]),
                    s["stuck"].as_array().map_or(0, Vec::len),
                    text(&s["timer_lateness"]["p50_ms"]),
                    text(&s["timer_lateness"]["p99_ms"]),
                    text(&s["activity_queue_delay"]["p50_ms"]),
                    text(&s["activity_queue_delay"]["p99_ms"]),
                    text(&s["dead_letters"]),
                ));
                for note in s["unavailable"].as_array().into_iter().flatten() {
                    out.push_str(&format!("note: {}\n", text(note)));
                }
                out
            });
        }
        WorkflowsCommand::Watch { filter } => watch(client, filter.as_deref()).await?,
    }
    Ok(())
}

async fn act(client: &Client, id: &str, action: &str, body: Value) -> Result<(), Failure> {
    let result = client.post(&format!("{}/{action}", instance_path(id)), body).await?;
    client.print(&result, |r| match r["new_id"].as_str() {
        Some(new_id) => format!("{action}: {id} -> {new_id}\n"),
        None => format!("{action}: {id}\n"),
    });
    Ok(())
}

/// Prints each change from the stream, resuming after a dropped connection.
async fn watch(client: &Client, filter: Option<&str>) -> Result<(), Failure> {
    use futures_util::StreamExt;
    let mut last: Option<String> = None;
    loop {
        let mut request = client.http.get(client.url("/ops/workflows/stream")).bearer_auth(&client.token);
        if let Some(id) = &last {
            request = request.header("Last-Event-ID", id);
        }
        let response =
            request.send().await.map_err(|e| Failure(Exit::Failed, format!("cannot reach {}: {e}", client.base)))?;
        match response.status().as_u16() {
            200 => {}
            401 | 403 => return Err(Failure(Exit::Refused, "the stream needs an admin's token".into())),
            status => return Err(Failure(Exit::Failed, format!("the stream answered {status}"))),
        }
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id: ").or_else(|| line.strip_prefix("id:")) {
                        id = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:")) {
                        data.push_str(v);
                    }
                }
                let Ok(instance) = serde_json::from_str::<Value>(&data) else { continue };
                last = id.or(last);
                if filter.is_some_and(|f| !text(&instance["id"]).contains(f)) {
                    continue;
                }
                match client.output {
                    Output::Json => println!("{instance}"),
                    Output::Table => println!(
                        "{}  {}  {}  {}  {}",
                        text(&instance["updated_at"]),
                        text(&instance["id"]),
                        text(&instance["kind"]),
                        text(&instance["status"]),
                        waiting(&instance)
                    ),
                }
            }
        }
        // The server went away: resume after what was seen.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
