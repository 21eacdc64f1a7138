//! Workflow-engine conformance, driven only through the durabletask SDK's client and
//! worker (via `errand-workflows`), against Errand's engine on SQLite, on PostgreSQL,
//! and against the durabletask-go sidecar that Dapr's runtime embeds.

mod common;
mod sidecars;

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use dapr_durabletask::client::TaskHubGrpcClient;
use errand_workflows::sdk::{
    when_all, ActivityOptions, FetchOptions, Registry, RegistryExt, RetryPolicy, RuntimeStatus, ScheduleOptions,
    SubWorkflowOptions, WorkflowContextExt, WorkflowError, WorkflowMetadata, WorkflowSchedulingClient,
};
use errand_workflows::WorkflowRuntime;
use serde_json::{json, Value};
use sidecars::{Kind, Sidecar};

/// Executions per key (orchestration id + activity), for counting attempts and runs.
static RUNS: LazyLock<Mutex<HashMap<String, u32>>> = LazyLock::new(Default::default);

fn count_run(key: String) -> u32 {
    let mut runs = RUNS.lock().unwrap();
    let n = runs.entry(key).or_default();
    *n += 1;
    *n
}

fn runs(key: &str) -> u32 {
    RUNS.lock().unwrap().get(key).copied().unwrap_or(0)
}

fn json_out(value: impl serde::Serialize) -> errand_workflows::sdk::Result<Option<String>> {
    Ok(Some(serde_json::to_string(&value)?))
}

fn register(registry: &mut Registry) {
    registry.add_activity("hello", |_ctx, input| async move {
        let name: String = serde_json::from_str(input.as_deref().unwrap_or("null"))?;
        json_out(format!("Hello, {name}!"))
    });
    registry.add_activity("double", |_ctx, input| async move {
        let n: u64 = serde_json::from_str(input.as_deref().unwrap_or("0"))?;
        json_out(n * 2)
    });
    // Fails until its third attempt; counts attempts per orchestration.
    registry.add_activity("flaky", |ctx, _input| async move {
        let attempt = count_run(format!("{}/flaky", ctx.orchestration_id()));
        if attempt < 3 {
            return Err(WorkflowError::Other(format!("attempt {attempt} failed")));
        }
        json_out(attempt)
    });
    registry.add_activity("always_fails", |ctx, _input| async move {
        count_run(format!("{}/always_fails", ctx.orchestration_id()));
        Err(WorkflowError::Other("the payment service said no".into()))
    });
    // Sleeps, counting executions: a crash test checks an activity is not lost.
    registry.add_activity("slow", |ctx, input| async move {
        count_run(format!("{}/slow/{}", ctx.orchestration_id(), ctx.task_id()));
        let ms: u64 = serde_json::from_str(input.as_deref().unwrap_or("0"))?;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        json_out(ms)
    });
    registry.add_activity("count", |ctx, _input| async move {
        json_out(count_run(format!("{}/count/{}", ctx.orchestration_id(), ctx.task_id())))
    });

    registry.add_workflow("sequence", |ctx| async move {
        let mut greetings = Vec::new();
        for city in ["Tokyo", "Seattle", "London"] {
            greetings.push(ctx.call_activity_typed::<String, _>("hello", city).await?);
        }
        json_out(greetings)
    });
    registry.add_workflow("chain", |ctx| async move {
        // Five chained activities, each counted, so a test can see that none ran twice.
        let mut total = 0u32;
        for _ in 0..5 {
            total += ctx.call_activity_typed::<u32, _>("count", ()).await?;
        }
        json_out(total)
    });
    registry.add_workflow("fan_out", |ctx| async move {
        let n: u64 = ctx.get_input_typed()?;
        let tasks = (1..=n).map(|i| ctx.call_activity("double", i)).collect();
        let results = when_all(tasks).await?;
        let sum: u64 = results.iter().map(|r| r.as_deref().unwrap_or("0").parse::<u64>().unwrap_or(0)).sum();
        json_out(sum)
    });
    registry.add_workflow("timer", |ctx| async move {
        let ms: u64 = ctx.get_input_typed()?;
        let due = ctx.current_utc_datetime() + chrono::Duration::milliseconds(ms as i64);
        ctx.create_timer(Duration::from_millis(ms)).await?;
        json_out(json!({ "due": due.timestamp_millis(), "woke": ctx.current_utc_datetime().timestamp_millis() }))
    });
    registry.add_workflow("concurrent_timers", |ctx| async move {
        let timers = [300, 100, 200].iter().map(|ms| ctx.create_timer(Duration::from_millis(*ms))).collect();
        when_all(timers).await?;
        json_out("all fired")
    });
    registry.add_workflow("approval", |ctx| async move {
        let timeout_ms: Option<u64> = ctx.get_input_typed()?;
        let decision =
            ctx.wait_for_external_event_typed::<String>("decision", timeout_ms.map(Duration::from_millis)).await;
        match decision {
            Ok(decision) => json_out(decision),
            Err(WorkflowError::Timeout) => json_out("timed out"),
            Err(e) => Err(e),
        }
    });
    registry.add_workflow("collect", |ctx| async move {
        let n: usize = ctx.get_input_typed()?;
        let mut items = Vec::new();
        for _ in 0..n {
            items.push(ctx.wait_for_external_event_typed::<u32>("item", None).await?);
        }
        json_out(items)
    });
    registry.add_workflow("parent", |ctx| async move {
        let input: Value = ctx.get_input_typed()?;
        let child = input["child"].as_str().unwrap_or("child_ok").to_string();
        let mut options = SubWorkflowOptions::new().with_input(input["input"].clone());
        if let Some(attempts) = input["attempts"].as_u64() {
            options = options.with_retry_policy(RetryPolicy::new(attempts as u32, Duration::from_millis(50)));
        }
        if let Some(id) = input["child_id"].as_str() {
            options = options.with_instance_id(id);
        }
        let result: Value = ctx.call_sub_workflow_with_options_typed(&child, options).await?;
        json_out(json!({ "child": result }))
    });
    registry.add_workflow("child_ok", |ctx| async move {
        let n: u64 = ctx.get_input_typed().unwrap_or(0);
        json_out(n + 1)
    });
    registry.add_workflow("child_fail", |_ctx| async move {
        Err::<Option<String>, _>(WorkflowError::Other("Child failed: out of coffee".into()))
    });
    // Fails until the third attempt (counted by an activity, which runs once per attempt).
    registry.add_workflow("child_flaky", |ctx| async move {
        let key: String = ctx.get_input_typed()?;
        let attempt: u32 = ctx.call_activity_typed("count_key", key).await?;
        if attempt < 3 {
            return Err(WorkflowError::Other(format!("child attempt {attempt} failed")));
        }
        json_out(attempt)
    });
    registry.add_activity("count_key", |_ctx, input| async move {
        let key: String = serde_json::from_str(input.as_deref().unwrap_or("\"\""))?;
        json_out(count_run(key))
    });
    registry.add_workflow("waits_forever", |ctx| async move {
        ctx.wait_for_external_event("never").await?;
        json_out("impossible")
    });
    registry.add_workflow("tree", |ctx| async move {
        let depth: u32 = ctx.get_input_typed()?;
        if depth == 0 {
            ctx.wait_for_external_event("never").await?;
        } else {
            ctx.call_sub_workflow_with_options_typed::<Value>("tree", SubWorkflowOptions::new().with_input(depth - 1))
                .await?;
        }
        json_out("impossible")
    });
    registry.add_workflow("count_to_ten", |ctx| async move {
        let n: u32 = ctx.get_input_typed()?;
        if n < 10 {
            ctx.continue_as_new(n + 1, false);
            return Ok(None);
        }
        json_out(n)
    });
    // Takes one "tick" per execution and continues as new, carrying unread ticks over.
    registry.add_workflow("ticks", |ctx| async move {
        let mut seen: Vec<String> = ctx.get_input_typed::<Option<Vec<String>>>()?.unwrap_or_default();
        seen.push(ctx.wait_for_external_event_typed("tick", None).await?);
        if seen.len() < 3 {
            ctx.continue_as_new(seen, true);
            return Ok(None);
        }
        json_out(seen)
    });
    registry.add_workflow("retry_activity", |ctx| async move {
        let options = ActivityOptions::new().with_retry_policy(RetryPolicy::new(3, Duration::from_millis(100)));
        let attempts: u32 = ctx.call_activity_with_options_typed("flaky", options).await?;
        json_out(attempts)
    });
    registry.add_workflow("retry_exhausted", |ctx| async move {
        let options = ActivityOptions::new().with_retry_policy(RetryPolicy::new(3, Duration::from_millis(50)));
        let _: Value = ctx.call_activity_with_options_typed("always_fails", options).await?;
        json_out("impossible")
    });
    registry.add_workflow("fails", |ctx| async move {
        ctx.set_custom_status("about to fail");
        Err::<Option<String>, _>(WorkflowError::Other("invoice 42 could not be sent".into()))
    });
    registry.add_workflow("timer_then_event", |ctx| async move {
        ctx.create_timer(Duration::from_millis(300)).await?;
        let payload: String = ctx.wait_for_external_event_typed("go", None).await?;
        json_out(payload)
    });
    registry.add_workflow("slow_activity", |ctx| async move {
        let ms: u64 = ctx.get_input_typed()?;
        let slept: u64 = ctx.call_activity_typed("slow", ms).await?;
        json_out(slept)
    });
}

/// A sidecar of `kind` with a worker running every test workflow; `None` when unavailable.
async fn setup(kind: Kind) -> Option<(Sidecar, WorkflowRuntime)> {
    let sidecar = Sidecar::start(kind).await?;
    let runtime = start_worker(&sidecar).await;
    Some((sidecar, runtime))
}

async fn start_worker(sidecar: &Sidecar) -> WorkflowRuntime {
    // Generous: the suite runs many sidecars at once on two cores, and a clean-clone
    // run once saw a fresh durabletask-go take over 10 s to accept the worker.
    WorkflowRuntime::start(&sidecar.address(), Duration::from_secs(30), register).await.expect("worker")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7())
}

async fn schedule(client: &mut WorkflowSchedulingClient, name: &str, id: &str, input: Value) -> String {
    let options = ScheduleOptions::new().with_instance_id(id).with_input(input);
    client.schedule_workflow(name, options).await.unwrap_or_else(|e| panic!("schedule {name}: {e}"))
}

async fn finished(client: &mut WorkflowSchedulingClient, id: &str, seconds: u64) -> WorkflowMetadata {
    client
        .wait_for_workflow_completion_with_options(
            id,
            FetchOptions::new().with_fetch_payloads(true),
            Some(Duration::from_secs(seconds)),
        )
        .await
        .unwrap_or_else(|e| panic!("{id} did not finish within {seconds}s: {e}"))
}

fn output(state: &WorkflowMetadata) -> Value {
    assert_eq!(state.runtime_status, RuntimeStatus::Completed, "{:?}", state.failure_details);
    serde_json::from_str(state.serialized_output.as_deref().unwrap_or("null")).expect("json output")
}

async fn status(client: &mut WorkflowSchedulingClient, id: &str) -> RuntimeStatus {
    client.fetch_workflow_metadata(id, FetchOptions::new()).await.expect("metadata").runtime_status
}

async fn raw_client(sidecar: &Sidecar) -> TaskHubGrpcClient {
    TaskHubGrpcClient::new(&sidecar.address()).await.expect("client")
}

async fn activity_sequence(kind: Kind) {
    let Some((_sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();
    let id = schedule(&mut client, "sequence", &unique("seq"), json!(null)).await;
    let state = finished(&mut client, &id, 20).await;
    assert_eq!(output(&state), json!(["Hello, Tokyo!", "Hello, Seattle!", "Hello, London!"]));
    runtime.shutdown().await;
}

async fn fan_out_fan_in_of_100(kind: Kind) {
    let Some((_sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();
    let id = schedule(&mut client, "fan_out", &unique("fan"), json!(100)).await;
    let state = finished(&mut client, &id, 30).await;
    assert_eq!(output(&state), json!(100 * 101));
    runtime.shutdown().await;
}

async fn timers_fire_after_their_time(kind: Kind) {
    let Some((_sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();
    let started = Instant::now();
    let id = schedule(&mut client, "timer", &unique("timer"), json!(500)).await;
    let concurrent = schedule(&mut client, "concurrent_timers", &unique("timers"), json!(null)).await;
    let state = finished(&mut client, &id, 20).await;
    let out = output(&state);
    assert!(out["woke"].as_i64() >= out["due"].as_i64(), "the timer turn's clock is not before the due time: {out}");
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(output(&finished(&mut client, &concurrent, 20).await), json!("all fired"));
    runtime.shutdown().await;
}

async fn a_long_timer_survives_a_sidecar_restart(kind: Kind) {
    let Some((mut sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();
    let id = schedule(&mut client, "timer", &unique("long-timer"), json!(3000)).await;
    sidecar.restart();
    let state = finished(&mut client, &id, 30).await;
    let out = output(&state);
    assert!(out["woke"].as_i64() >= out["due"].as_i64());
    runtime.shutdown().await;
}

async fn external_events(kind: Kind) {
    let Some((_sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();
    let raise = |payload: &str| errand_workflows::sdk::EventOptions::new().with_payload(payload.to_string());

    // Raised right after the start, before the workflow waits: buffered.
    let early = schedule(&mut client, "approval", &unique("early"), json!(null)).await;
    client.raise_event(&early, "decision", raise("approve")).await.unwrap();
    assert_eq!(output(&finished(&mut client, &early, 20).await), json!("approve"));

    // Raised while it waits.
    let late = schedule(&mut client, "approval", &unique("late"), json!(null)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&mut client, &late).await, RuntimeStatus::Running);
    client.raise_event(&late, "decision", raise("reject")).await.unwrap();
    assert_eq!(output(&finished(&mut client, &late, 20).await), json!("reject"));

    // With a timeout, arriving in time; and not arriving at all.
    let in_time = schedule(&mut client, "approval", &unique("in-time"), json!(5000)).await;
    client.raise_event(&in_time, "decision", raise("approve")).await.unwrap();
    assert_eq!(output(&finished(&mut client, &in_time, 20).await), json!("approve"));
    let timed_out = schedule(&mut client, "approval", &unique("timeout"), json!(300)).await;
    assert_eq!(output(&finished(&mut client, &timed_out, 20).await), json!("timed out"));

    // Many, in order.
    let many = schedule(&mut client, "collect", &unique("many"), json!(50)).await;
    for i in 0..50u32 {
        let options = errand_workflows::sdk::EventOptions::new().with_payload(i);
        client.raise_event(&many, "item", options).await.unwrap();
    }
    assert_eq!(output(&finished(&mut client, &many, 30).await), json!((0..50).collect::<Vec<u32>>()));
    runtime.shutdown().await;
}

async fn child_workflows(kind: Kind) {
    let Some((_sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();

    let ok = schedule(&mut client, "parent", &unique("parent-ok"), json!({ "child": "child_ok", "input": 41 })).await;
    assert_eq!(output(&finished(&mut client, &ok, 20).await), json!({ "child": 42 }));

    let failed = unique("parent-fail");
    schedule(&mut client, "parent", &failed, json!({ "child": "child_fail" })).await;
    let state = finished(&mut client, &failed, 20).await;
    assert_eq!(state.runtime_status, RuntimeStatus::Failed);
    let failure = state.failure_details.expect("failure details");
    assert!(failure.message.contains("Child failed: out of coffee"), "{failure:?}");

    // Retried with automatic child ids: three attempts, each its own failed instance.
    let retried = unique("parent-retry");
    schedule(&mut client, "parent", &retried, json!({ "child": "child_fail", "attempts": 3 })).await;
    assert_eq!(finished(&mut client, &retried, 30).await.runtime_status, RuntimeStatus::Failed);
    for suffix in ["0000", "0002", "0004"] {
        let child = format!("{retried}:{suffix}");
        assert_eq!(status(&mut client, &child).await, RuntimeStatus::Failed, "{child}");
    }

    // Retried until it succeeds, under one fixed child id (replaced on each attempt).
    let recovered = unique("parent-recover");
    let key = unique("child-attempts");
    let input =
        json!({ "child": "child_flaky", "attempts": 5, "input": key, "child_id": format!("{recovered}-child") });
    schedule(&mut client, "parent", &recovered, input).await;
    assert_eq!(output(&finished(&mut client, &recovered, 30).await), json!({ "child": 3 }));
    assert_eq!(runs(&key), 3);
    runtime.shutdown().await;
}

async fn continue_as_new_resets_history_and_carries_events(kind: Kind) {
    let Some((sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();
    let id = schedule(&mut client, "count_to_ten", &unique("can"), json!(0)).await;
    assert_eq!(output(&finished(&mut client, &id, 30).await), json!(10));
    let history = raw_client(&sidecar).await.get_instance_history(&id).await.expect("history");
    assert!(history.len() <= 4, "only the last execution's history is kept: {} events", history.len());

    let ticks = schedule(&mut client, "ticks", &unique("ticks"), json!(null)).await;
    for tick in ["a", "b", "c"] {
        let options = errand_workflows::sdk::EventOptions::new().with_payload(tick);
        client.raise_event(&ticks, "tick", options).await.unwrap();
    }
    assert_eq!(output(&finished(&mut client, &ticks, 30).await), json!(["a", "b", "c"]));
    runtime.shutdown().await;
}

async fn activity_retries_and_failure_details(kind: Kind) {
    let Some((_sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();
    let id = schedule(&mut client, "retry_activity", &unique("retry"), json!(null)).await;
    assert_eq!(output(&finished(&mut client, &id, 30).await), json!(3));
    assert_eq!(runs(&format!("{id}/flaky")), 3);

    let exhausted = schedule(&mut client, "retry_exhausted", &unique("exhausted"), json!(null)).await;
    let state = finished(&mut client, &exhausted, 30).await;
    assert_eq!(state.runtime_status, RuntimeStatus::Failed);
    assert_eq!(runs(&format!("{exhausted}/always_fails")), 3);
    let failure = state.failure_details.expect("failure details");
    assert!(failure.message.contains("the payment service said no"), "{failure:?}");

    let fails = schedule(&mut client, "fails", &unique("fails"), json!(null)).await;
    let state = finished(&mut client, &fails, 20).await;
    assert_eq!(state.runtime_status, RuntimeStatus::Failed);
    let failure = state.failure_details.expect("failure details");
    assert!(failure.message.contains("invoice 42 could not be sent"), "{failure:?}");
    assert!(!failure.error_type.is_empty());
    assert_eq!(state.serialized_custom_status.as_deref(), Some("about to fail"));
    runtime.shutdown().await;
}

async fn suspend_holds_events_and_timers_until_resume(kind: Kind) {
    let Some((_sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();
    let id = schedule(&mut client, "timer_then_event", &unique("suspend"), json!(null)).await;
    client.suspend_workflow(&id, "maintenance").await.unwrap();
    // The timer fires and the event arrives while suspended; neither moves the workflow on.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let options = errand_workflows::sdk::EventOptions::new().with_payload("resumed with this");
    client.raise_event(&id, "go", options).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status(&mut client, &id).await, RuntimeStatus::Suspended);
    client.resume_workflow(&id, "done").await.unwrap();
    assert_eq!(output(&finished(&mut client, &id, 20).await), json!("resumed with this"));
    runtime.shutdown().await;
}

async fn terminate_recursively_and_not(kind: Kind) {
    let Some((_sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();
    let root = schedule(&mut client, "tree", &unique("tree"), json!(2)).await;
    let (child, grandchild) = (format!("{root}:0000"), format!("{root}:0000:0000"));
    wait_for_status(&mut client, &grandchild, RuntimeStatus::Running).await;
    client.terminate_workflow_recursive(&root, true).await.unwrap();
    for id in [&root, &child, &grandchild] {
        assert_eq!(finished(&mut client, id, 20).await.runtime_status, RuntimeStatus::Terminated, "{id}");
    }

    let lone = schedule(&mut client, "tree", &unique("lone"), json!(1)).await;
    let lone_child = format!("{lone}:0000");
    wait_for_status(&mut client, &lone_child, RuntimeStatus::Running).await;
    client.terminate_workflow(&lone).await.unwrap();
    assert_eq!(finished(&mut client, &lone, 20).await.runtime_status, RuntimeStatus::Terminated);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&mut client, &lone_child).await, RuntimeStatus::Running, "a plain terminate spares children");
    runtime.shutdown().await;
}

async fn wait_for_status(client: &mut WorkflowSchedulingClient, id: &str, wanted: RuntimeStatus) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(state) = client.fetch_workflow_metadata(id, FetchOptions::new()).await {
            if state.runtime_status == wanted {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{id} never reached {wanted:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn purge_by_id_recursively_and_by_filter(kind: Kind) {
    let Some((sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();
    let mut raw = raw_client(&sidecar).await;

    let done = schedule(&mut client, "sequence", &unique("purge"), json!(null)).await;
    finished(&mut client, &done, 20).await;
    assert_eq!(raw.purge_orchestration(&done, false).await.expect("purge"), 1);
    assert!(raw.get_orchestration_state(&done, false).await.expect("get").is_none());
    let err = raw.purge_orchestration(&done, false).await.expect_err("already gone");
    assert!(err.to_string().contains("no such instance exists"), "{err}");

    let running = schedule(&mut client, "waits_forever", &unique("running"), json!(null)).await;
    let err = raw.purge_orchestration(&running, false).await.expect_err("running");
    assert!(err.to_string().contains("has not yet completed"), "{err}");

    let parent = schedule(&mut client, "parent", &unique("purge-tree"), json!({ "child": "child_ok" })).await;
    finished(&mut client, &parent, 20).await;
    assert_eq!(raw.purge_orchestration(&parent, true).await.expect("recursive purge"), 2);
    assert!(raw.get_orchestration_state(&format!("{parent}:0000"), false).await.expect("get").is_none());

    let filtered = schedule(&mut client, "fails", &unique("filtered"), json!(null)).await;
    finished(&mut client, &filtered, 20).await;
    let filter = errand_workflows::sdk::PurgeInstanceFilter::new().with_runtime_status([RuntimeStatus::Failed]);
    match kind {
        Kind::DurabletaskGo => {
            // The standalone Go sidecar does not implement multi-instance purges.
            assert!(raw.purge_orchestrations_by_filter(filter, false).await.is_err());
        }
        _ => {
            assert_eq!(raw.purge_orchestrations_by_filter(filter, false).await.expect("filter purge"), 1);
            assert!(raw.get_orchestration_state(&filtered, false).await.expect("get").is_none());
            assert!(raw.get_orchestration_state(&running, false).await.expect("get").is_some());
        }
    }
    runtime.shutdown().await;
}

async fn instance_ids_are_not_reused_and_are_listed_with_history(kind: Kind) {
    let Some((sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();
    let id = schedule(&mut client, "sequence", &unique("reuse"), json!(null)).await;
    finished(&mut client, &id, 20).await;
    let again = client.schedule_workflow("sequence", ScheduleOptions::new().with_instance_id(&id)).await;
    let err = again.expect_err("an existing id is refused");
    assert!(err.to_string().contains("already exists"), "{err}");

    let mut raw = raw_client(&sidecar).await;
    let page = raw.list_instance_ids(Default::default()).await.expect("list");
    assert!(page.instance_ids.contains(&id));
    assert!(page.continuation_token.is_none(), "one page, no continuation token");
    // Three sequential activities take four turns, each recording WorkflowStarted, what
    // arrived (the start or a result) and what was asked for (an activity or the
    // completion): exactly 12 events, nothing extra.
    let history = raw.get_instance_history(&id).await.expect("history");
    assert_eq!(history.len(), 12, "{history:?}");
    runtime.shutdown().await;
}

async fn scheduled_start_waits_for_its_time(kind: Kind) {
    let Some((_sidecar, runtime)) = setup(kind).await else { return };
    let mut client = runtime.client();
    let start_at = std::time::SystemTime::now() + Duration::from_millis(1500);
    let options = ScheduleOptions::new().with_instance_id(unique("later")).with_start_time(start_at);
    let id = client.schedule_workflow("sequence", options).await.expect("schedule");
    assert_eq!(status(&mut client, &id).await, RuntimeStatus::Pending);
    let state = finished(&mut client, &id, 20).await;
    output(&state);
    let started: std::time::SystemTime = state.started_at.expect("started_at").into();
    assert!(started >= start_at - Duration::from_millis(5), "started before its scheduled time");
    runtime.shutdown().await;
}

async fn a_thousand_concurrent_instances(kind: Kind) {
    let Some((_sidecar, runtime)) = setup(kind).await else { return };
    let ids: Vec<String> = (0..1000).map(|i| unique(&format!("many-{i}"))).collect();
    let started = futures_util::future::join_all(ids.iter().map(|id| {
        let mut client = runtime.client();
        async move { schedule(&mut client, "sequence", id, json!(null)).await }
    }))
    .await;
    assert_eq!(started.len(), 1000);
    let states = futures_util::future::join_all(ids.iter().map(|id| {
        let mut client = runtime.client();
        async move { finished(&mut client, id, 120).await }
    }))
    .await;
    assert!(states.iter().all(|s| s.runtime_status == RuntimeStatus::Completed));
    runtime.shutdown().await;
}

on_every_sidecar!(
    activity_sequence,
    fan_out_fan_in_of_100,
    timers_fire_after_their_time,
    a_long_timer_survives_a_sidecar_restart,
    external_events,
    child_workflows,
    continue_as_new_resets_history_and_carries_events,
    activity_retries_and_failure_details,
    suspend_holds_events_and_timers_until_resume,
    terminate_recursively_and_not,
    purge_by_id_recursively_and_by_filter,
    instance_ids_are_not_reused_and_are_listed_with_history,
    scheduled_start_waits_for_its_time,
    a_thousand_concurrent_instances,
);

/// Crash safety and shared databases: Errand's engine only.
mod errand_engine {
    use super::*;

    async fn engine_and_worker(kind: Kind) -> Option<(Sidecar, WorkflowRuntime)> {
        setup(kind).await
    }

    async fn survives_sigkill_mid_activity(kind: Kind) {
        let Some((mut sidecar, runtime)) = engine_and_worker(kind).await else { return };
        let mut client = runtime.client();
        let id = schedule(&mut client, "slow_activity", &unique("crash-activity"), json!(1500)).await;
        let key = format!("{id}/slow/0");
        let deadline = Instant::now() + Duration::from_secs(10);
        while runs(&key) == 0 {
            assert!(Instant::now() < deadline, "the activity never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sidecar.restart();
        let mut client = runtime.client();
        assert_eq!(output(&finished(&mut client, &id, 60).await), json!(1500));
        // Its completion may have been refused while the engine was down, so at most one re-run.
        assert!(runs(&key) <= 2, "ran {} times", runs(&key));
        runtime.shutdown().await;
    }

    async fn survives_sigkill_mid_timer(kind: Kind) {
        let Some((mut sidecar, runtime)) = engine_and_worker(kind).await else { return };
        let mut client = runtime.client();
        let mut ids = Vec::new();
        for i in 0..20 {
            ids.push(schedule(&mut client, "timer", &unique(&format!("crash-timer-{i}")), json!(1000)).await);
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        sidecar.restart();
        let mut client = runtime.client();
        for id in &ids {
            let out = output(&finished(&mut client, id, 60).await);
            assert!(out["woke"].as_i64() >= out["due"].as_i64(), "{id}: {out}");
        }
        runtime.shutdown().await;
    }

    async fn survives_sigkill_mid_turn(kind: Kind) {
        let Some((mut sidecar, runtime)) = engine_and_worker(kind).await else { return };
        let ids: Vec<String> = (0..200).map(|i| unique(&format!("crash-turn-{i}"))).collect();
        for id in &ids {
            let mut client = runtime.client();
            let options = ScheduleOptions::new().with_instance_id(id).with_start_time(std::time::SystemTime::now());
            client.schedule_workflow("chain", options).await.expect("schedule");
        }
        // Kill while turns and activities are in flight, twice.
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            sidecar.restart();
        }
        let mut client = runtime.client();
        for id in &ids {
            let total = output(&finished(&mut client, id, 90).await).as_u64().expect("count");
            // Five activities; one whose completion was lost in the crash runs again.
            assert!((5..=10).contains(&total), "{id}: {total}");
        }
        runtime.shutdown().await;
    }

    async fn acknowledged_events_survive_sigkill(kind: Kind) {
        let Some((mut sidecar, runtime)) = engine_and_worker(kind).await else { return };
        let mut client = runtime.client();
        let id = schedule(&mut client, "collect", &unique("crash-events"), json!(40)).await;
        for i in 0..40u32 {
            if i == 20 {
                // Every event raised so far was acknowledged, so each must be delivered.
                sidecar.restart();
                client = runtime.client();
            }
            let options = errand_workflows::sdk::EventOptions::new().with_payload(i);
            client.raise_event(&id, "item", options).await.expect("raise");
        }
        assert_eq!(output(&finished(&mut client, &id, 60).await), json!((0..40).collect::<Vec<u32>>()));
        runtime.shutdown().await;
    }

    /// Two engine processes on one PostgreSQL database, a worker on each: every
    /// instance completes, every activity runs exactly once, every history has exactly
    /// the events of one run (no turn ran twice), and both engines did work.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_engines_share_one_postgres_database() {
        let Some(first) = Sidecar::start(Kind::ErrandPostgres).await else { return };
        let second = first.sibling();
        let label = unique("shared");
        let worker = |sidecar: &Sidecar, side: &'static str| {
            let address = sidecar.address();
            let label = label.clone();
            async move {
                WorkflowRuntime::start(&address, Duration::from_secs(10), move |registry| {
                    register_chain(registry, format!("{label}/{side}"))
                })
                .await
                .expect("worker")
            }
        };
        let (a, b) = (worker(&first, "a").await, worker(&second, "b").await);
        let ids: Vec<String> = (0..500).map(|i| unique(&format!("shared-{i}"))).collect();
        futures_util::future::join_all(ids.iter().enumerate().map(|(i, id)| {
            let mut client = if i % 2 == 0 { a.client() } else { b.client() };
            async move {
                let options = ScheduleOptions::new().with_instance_id(id).with_start_time(std::time::SystemTime::now());
                client.schedule_workflow("shared_chain", options).await.expect("schedule");
            }
        }))
        .await;
        let mut raw = raw_client(&first).await;
        for id in &ids {
            let mut client = a.client();
            assert_eq!(output(&finished(&mut client, id, 120).await), json!(5), "{id}");
            assert_eq!(raw.get_instance_history(id).await.expect("history").len(), 18, "{id}");
        }
        let (on_a, on_b) = (runs(&format!("{label}/a")), runs(&format!("{label}/b")));
        assert_eq!(on_a + on_b, 500 * 5);
        assert!(on_a > 0 && on_b > 0, "both engines did work: {on_a} / {on_b}");
        a.shutdown().await;
        b.shutdown().await;
    }

    /// `errand serve --runtime dapr` runs its workflow worker and client against daprd's
    /// gRPC endpoint (here the durabletask-go sidecar Dapr embeds): /readyz answers
    /// ready once that sidecar answers, and 503 while it is down.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serve_in_dapr_mode_connects_to_daprds_workflow_engine() {
        let Some(mut go) = Sidecar::start(Kind::DurabletaskGo).await else { return };
        let db = common::fresh_db(common::Backend::Sqlite).await.expect("sqlite");
        let grpc = go.address();
        let envs = [("DAPR_GRPC_ENDPOINT", grpc.as_str()), ("DAPR_HTTP_ENDPOINT", "http://127.0.0.1:9")];
        let server = common::Server::start_with(&db.url, db.dir.path(), &["--runtime", "dapr"], &envs);
        let ready =
            || async { server.client.get(server.url("/readyz")).send().await.map(|r| r.status().as_u16()).ok() };
        common::eventually("ready against the Go sidecar", 20, || async { ready().await == Some(200) }).await;
        go.kill();
        common::eventually("not ready without it", 20, || async { ready().await == Some(503) }).await;
        let body = common::reply(server.client.get(server.url("/readyz")).send().await.unwrap()).await;
        assert_eq!(body.body["error"]["code"], "unavailable");
        go.restart();
        common::eventually("ready again once it is back", 30, || async { ready().await == Some(200) }).await;
        server.stop();
    }

    /// Finished instances are purged once they are older than `--retention`; running
    /// ones stay.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finished_instances_are_purged_after_the_retention_period() {
        let Some(sidecar) = Sidecar::start_with(Kind::ErrandSqlite, &["--retention", "2s"]).await else { return };
        let runtime = start_worker(&sidecar).await;
        let mut client = runtime.client();
        let done = schedule(&mut client, "sequence", &unique("retained"), json!(null)).await;
        finished(&mut client, &done, 20).await;
        let running = schedule(&mut client, "waits_forever", &unique("kept"), json!(null)).await;
        let mut raw = raw_client(&sidecar).await;
        assert!(raw.get_orchestration_state(&done, false).await.expect("get").is_some(), "kept at first");
        let deadline = Instant::now() + Duration::from_secs(10);
        while raw.get_orchestration_state(&done, false).await.expect("get").is_some() {
            assert!(Instant::now() < deadline, "never purged");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(raw.get_orchestration_state(&running, false).await.expect("get").is_some());
        runtime.shutdown().await;
    }

    /// `errand engine --db sqlite::memory:` is a complete engine for as long as it runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_on_an_in_memory_database() {
        activity_sequence(Kind::ErrandMemory).await;
        child_workflows(Kind::ErrandMemory).await;
    }

    /// `shared_chain`: five activities, each counting its own executions (so a second
    /// execution shows as a count of 2) and which worker ran it.
    fn register_chain(registry: &mut Registry, label: String) {
        registry.add_activity("once", move |ctx, _input| {
            let label = label.clone();
            async move {
                count_run(label);
                json_out(count_run(format!("{}/once/{}", ctx.orchestration_id(), ctx.task_id())))
            }
        });
        registry.add_workflow("shared_chain", |ctx| async move {
            let mut total = 0u32;
            for _ in 0..5 {
                total += ctx.call_activity_typed::<u32, _>("once", ()).await?;
            }
            json_out(total)
        });
    }

    mod errand_sqlite {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn survives_sigkill_mid_activity() {
            super::survives_sigkill_mid_activity(super::Kind::ErrandSqlite).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn survives_sigkill_mid_timer() {
            super::survives_sigkill_mid_timer(super::Kind::ErrandSqlite).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn survives_sigkill_mid_turn() {
            super::survives_sigkill_mid_turn(super::Kind::ErrandSqlite).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn acknowledged_events_survive_sigkill() {
            super::acknowledged_events_survive_sigkill(super::Kind::ErrandSqlite).await
        }
    }

    mod errand_postgres {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn survives_sigkill_mid_activity() {
            super::survives_sigkill_mid_activity(super::Kind::ErrandPostgres).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn survives_sigkill_mid_timer() {
            super::survives_sigkill_mid_timer(super::Kind::ErrandPostgres).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn survives_sigkill_mid_turn() {
            super::survives_sigkill_mid_turn(super::Kind::ErrandPostgres).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn acknowledged_events_survive_sigkill() {
            super::acknowledged_events_survive_sigkill(super::Kind::ErrandPostgres).await
        }
    }
}
