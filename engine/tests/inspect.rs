//! The engine's inspector on a real engine with no worker connected: an instance whose
//! start is ready but that nothing runs is found stuck once it has waited longer than
//! the threshold, and not before; the filters and the change feed see it.

use std::time::Duration;

use dapr_durabletask_proto::task_hub_sidecar_service_client::TaskHubSidecarServiceClient;
use dapr_durabletask_proto::CreateInstanceRequest;
use errand_engine::inspect::{Atom, Filter, Order};
use errand_engine::{EngineConfig, Sidecar};
use tokio::net::TcpListener;

fn micros(d: Duration) -> i64 {
    d.as_micros() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_worker_is_gone_is_stuck() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("engine.db").display());
    let sidecar = Sidecar::open(EngineConfig::new(url)).await.unwrap();
    let inspector = sidecar.inspector();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(sidecar.serve(listener, async move {
        let _ = stopped.await;
    }));
    let mut client = TaskHubSidecarServiceClient::connect(address).await.unwrap();
    // Scheduled for now: a start does not wait for a worker to take it (there is none).
    let now_ts = prost_types::Timestamp::from(std::time::SystemTime::now());
    let request = CreateInstanceRequest {
        instance_id: "orphan".into(),
        name: "reminder".into(),
        scheduled_start_timestamp: Some(now_ts),
        ..Default::default()
    };
    client.start_instance(request).await.unwrap();

    let now = || chrono::Utc::now().timestamp_micros();
    let stuck = |after: Duration| Filter::Atom(Atom::Stuck(micros(after)));
    let found = inspector.list(&stuck(Duration::from_secs(1)), Order::UpdatedAsc, None, 10, now()).await.unwrap();
    assert!(found.is_empty(), "not stuck before the threshold");
    let listed = inspector.list(&Filter::All, Order::CreatedDesc, None, 10, now()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].waiting(), None, "its start is ready work, not a wait");
    assert_eq!(listed[0].ready, 1);

    tokio::time::sleep(Duration::from_millis(1300)).await;
    let found = inspector.list(&stuck(Duration::from_secs(1)), Order::UpdatedAsc, None, 10, now()).await.unwrap();
    assert_eq!(found.iter().map(|s| s.instance_id.as_str()).collect::<Vec<_>>(), ["orphan"], "no worker runs it");
    let not_yet = inspector.list(&stuck(Duration::from_secs(60)), Order::UpdatedAsc, None, 10, now()).await.unwrap();
    assert!(not_yet.is_empty(), "a longer threshold is not reached");
    let counts = inspector.counts(&stuck(Duration::from_secs(1)), now()).await.unwrap();
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<i64>(), 1);
    let changed = inspector.changed_since(0, "", 10, now()).await.unwrap();
    assert_eq!(changed.len(), 1, "the change feed sees it");
    let named = Filter::And(
        Box::new(Filter::Atom(Atom::Name("reminder".into()))),
        Box::new(Filter::Not(Box::new(Filter::Atom(Atom::IdPrefix("orph".into()))))),
    );
    assert!(inspector.list(&named, Order::CreatedDesc, None, 10, now()).await.unwrap().is_empty());
    // LIKE's own characters are matched literally.
    assert!(inspector
        .list(&Filter::Atom(Atom::IdContains("%".into())), Order::CreatedDesc, None, 10, now())
        .await
        .unwrap()
        .is_empty());
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
