//! The index on disk: rebuilt when it is missing or of another schema version,
//! resumed from its last commit, and kept in step by the indexer.

use std::time::Duration;

use chrono::Utc;
use errand_domain::event::{task_event, Actor, TaskEventKind};
use errand_domain::{NewTask, Task};
use errand_search::{run_indexer, SearchIndex, SearchRequest, Sort, SortKey};
use errand_store::Store;

async fn store_with_user(dir: &std::path::Path) -> (Store, String) {
    let store = Store::connect(&format!("sqlite://{}/t.db", dir.display())).await.unwrap();
    store.migrate().await.unwrap();
    let user = errand_store::testing::create_user(&store, "a@example.com").await;
    (store, user)
}

async fn write(store: &Store, user: &str, title: &str) -> Task {
    let task = Task::create(
        errand_domain::new_id(),
        user.into(),
        &NewTask { title: title.into(), ..Default::default() },
        chrono_tz::Tz::UTC,
        Utc::now(),
    )
    .unwrap();
    let event = task_event(TaskEventKind::Created, &task, &Actor::User, None, Utc::now());
    store.insert_task(&task, &[event], None).await.unwrap();
    task
}

fn everything(user: &str) -> SearchRequest {
    SearchRequest::new(user, Sort::by(SortKey::Created, false), 200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_of_another_schema_version_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let (store, user) = store_with_user(dir.path()).await;
    write(&store, &user, "kept").await;
    // An index from another build: a different schema and no Errand payload.
    let root = dir.path().join("search");
    let old = root.join("index-old");
    std::fs::create_dir_all(&old).unwrap();
    let mut builder = tantivy::schema::Schema::builder();
    builder.add_text_field("something_else", tantivy::schema::TEXT);
    let index = tantivy::Index::create_in_dir(&old, builder.build()).unwrap();
    let mut writer: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
    writer.commit().unwrap();
    drop(writer);
    std::fs::write(root.join("CURRENT"), "index-old").unwrap();

    let index = SearchIndex::open(&root, &store).await.unwrap();
    assert_eq!(index.search(&everything(&user)).unwrap().total, 1);
    assert!(!old.exists(), "the outdated directory is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_index_resumes_from_its_last_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (store, user) = store_with_user(dir.path()).await;
    let root = dir.path().join("search");
    let index = SearchIndex::open(&root, &store).await.unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let indexer = tokio::spawn(run_indexer(index.clone(), store.clone(), shutdown));
    for i in 0..5 {
        write(&store, &user, &format!("before {i}")).await;
    }
    let position = store.last_write_position(&user).unwrap();
    assert!(index.wait_for(position, Duration::from_secs(5)).await);
    stop.send(true).unwrap();
    indexer.await.unwrap();
    let applied = index.applied();
    drop(index);

    // Written while no indexer runs.
    for i in 0..3 {
        write(&store, &user, &format!("after {i}")).await;
    }
    let reopened = SearchIndex::open(&root, &store).await.unwrap();
    assert_eq!(reopened.applied(), applied, "the position comes from the commit payload");
    assert_eq!(reopened.search(&everything(&user)).unwrap().total, 5, "not rebuilt: only what was committed");
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let indexer = tokio::spawn(run_indexer(reopened.clone(), store.clone(), shutdown));
    let position = store.last_write_position(&user).unwrap();
    assert!(reopened.wait_for(position, Duration::from_secs(5)).await);
    assert_eq!(reopened.search(&everything(&user)).unwrap().total, 8);
    stop.send(true).unwrap();
    indexer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_do_not_pile_up_segments_or_deleted_documents() {
    let dir = tempfile::tempdir().unwrap();
    let (store, user) = store_with_user(dir.path()).await;
    let index = SearchIndex::open(&dir.path().join("search"), &store).await.unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let indexer = tokio::spawn(run_indexer(index.clone(), store.clone(), shutdown));
    let task = write(&store, &user, "hot").await;
    // Many small commits of the same task: each replaces the document.
    for i in 0..120 {
        store
            .modify_task(&user, &task.id, |mut current| {
                current.title = format!("hot {i}");
                current.version += 1;
                let events = vec![task_event(TaskEventKind::Updated, &current, &Actor::User, None, Utc::now())];
                Ok::<_, errand_store::StoreError>(errand_store::Modification::Update { task: current, events })
            })
            .await
            .unwrap();
        let position = store.last_write_position(&user).unwrap();
        assert!(index.wait_for(position, Duration::from_secs(5)).await);
    }
    stop.send(true).unwrap();
    indexer.await.unwrap();
    // Merges run in the background; give them a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (segments, deleted) = index.segment_stats();
    assert_eq!(index.num_docs(), 1);
    assert!(segments <= 12, "{segments} segments after 120 commits");
    assert!(deleted <= 60, "{deleted} deleted documents linger");
    let page = index.search(&everything(&user)).unwrap();
    assert_eq!(page.items[0].title, "hot 119");
}
