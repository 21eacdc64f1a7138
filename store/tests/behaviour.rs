//! The store behaviour suite: every behaviour runs against SQLite and PostgreSQL.

use chrono::{Duration, TimeZone, Utc};
use chrono_tz::Tz;
use errand_domain::event::{task_event, Actor, TaskEventKind};
use errand_domain::{NewTask, Priority, RecurrenceInput, ReminderInput, Task, TaskPatch};
use errand_store::on_every_backend;
use errand_store::testing::{fresh_db, fresh_store as store, outbox_settled, Backend};
use errand_store::{
    ConfirmationRecord, ConversationRecord, IdempotentResponse, InsertOutcome, Modification, Modified, NewUser,
    OutboxPosition, Store, StoreError,
};

on_every_backend!(
    users_are_unique_regardless_of_case,
    exactly_one_first_admin_under_concurrent_signups,
    grant_admin_promotes_existing_accounts_only,
    tasks_round_trip_every_field,
    modify_changes_a_task_in_one_transaction,
    concurrent_modifications_queue_instead_of_racing,
    every_write_commits_its_event_atomically,
    deletes_emit_events,
    rebuild_scans_see_every_task_in_id_order,
    idempotency_keys_claim_once,
    readiness_reflects_migrations,
    confirmations_and_conversations_page_newest_first,
    concurrent_creations_commit_together_and_fail_alone,
);

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
}

async fn user(store: &Store, email: &str) -> String {
    errand_store::testing::create_user(store, email).await
}

async fn add(store: &Store, user_id: &str, input: NewTask, at: chrono::DateTime<Utc>) -> Task {
    let task = Task::create(errand_domain::new_id(), user_id.into(), &input, Tz::UTC, at).unwrap();
    let events = [task_event(TaskEventKind::Created, &task, &Actor::User, None, at)];
    assert_eq!(store.insert_task(&task, &events, None).await.unwrap(), InsertOutcome::Inserted);
    task
}

fn titled(title: &str) -> NewTask {
    NewTask { title: title.into(), ..Default::default() }
}

async fn users_are_unique_regardless_of_case(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    user(&store, "Ada@Example.com").await;
    let again = NewUser {
        id: errand_domain::new_id(),
        email: "ada@example.COM".into(),
        name: None,
        password_hash: "x".into(),
        timezone: "UTC".into(),
        created_at: t0(),
    };
    assert!(store.create_user(&again).await.unwrap().is_none());
    let found = store.user_by_email("ADA@EXAMPLE.COM").await.unwrap().expect("found");
    assert_eq!(found.profile.email, "Ada@Example.com");
    assert!(store.user_by_email("bob@example.com").await.unwrap().is_none());
}

async fn exactly_one_first_admin_under_concurrent_signups(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let signups = (0..12).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { user(&store, &format!("u{i}@example.com")).await })
    });
    let ids: Vec<String> = futures_join(signups).await;
    let mut admins = 0;
    for id in &ids {
        let u = store.user_by_id(id).await.unwrap().unwrap();
        if u.profile.role == errand_domain::Role::Admin {
            admins += 1;
        }
    }
    assert_eq!(admins, 1);
}

async fn futures_join<T: Send + 'static>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

async fn grant_admin_promotes_existing_accounts_only(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    user(&store, "first@example.com").await;
    let second = user(&store, "second@example.com").await;
    assert_eq!(store.user_by_id(&second).await.unwrap().unwrap().profile.role, errand_domain::Role::User);
    assert!(store.grant_admin("SECOND@example.com").await.unwrap());
    assert_eq!(store.user_by_id(&second).await.unwrap().unwrap().profile.role, errand_domain::Role::Admin);
    assert!(!store.grant_admin("nobody@example.com").await.unwrap());
}

async fn tasks_round_trip_every_field(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let owner = user(&store, "a@example.com").await;
    let input = NewTask {
        title: "File taxes".into(),
        description: Some("all the receipts\nand forms ✓".into()),
        priority: Some(Priority::Urgent),
        tags: Some(vec!["Money".into(), "#home".into()]),
        due_at: Some(t0() + Duration::days(3)),
        all_day: None,
        due: None,
        reminders: Some(vec![
            ReminderInput { before_due_minutes: Some(60), ..Default::default() },
            ReminderInput { at: Some("2026-11-27T08:00:00Z".into()), ..Default::default() },
        ]),
        recurrence: Some(RecurrenceInput { rule: Some("FREQ=YEARLY".into()), count: Some(3), ..Default::default() }),
        series_id: None,
    };
    let task = add(&store, &owner, input, t0()).await;
    let back = store.get_task(&owner, &task.id).await.unwrap().expect("stored");
    assert_eq!(back, task);
    let other = user(&store, "b@example.com").await;
    assert!(store.get_task(&other, &task.id).await.unwrap().is_none(), "another user's task is invisible");
}

async fn modify_changes_a_task_in_one_transaction(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let owner = user(&store, "a@example.com").await;
    let task = add(&store, &owner, titled("one"), t0()).await;
    let patch = TaskPatch { title: Some("two".into()), tags: Some(vec!["x".into()]), ..Default::default() };
    let (next, _) = task.patched(&patch, Tz::UTC, t0() + Duration::seconds(1)).unwrap().unwrap();
    assert_eq!(put(&store, &next, TaskEventKind::Updated).await, Some(Modified::Updated(next.clone())));
    let back = store.get_task(&owner, &task.id).await.unwrap().unwrap();
    assert_eq!((back.title.as_str(), back.version, back.tags.clone()), ("two", 2, vec!["x".to_string()]));
    // Unchanged writes nothing; another user's task is not found.
    let unchanged =
        store.modify_task(&owner, &task.id, |_| Ok::<_, StoreError>(Modification::Unchanged)).await.unwrap();
    assert_eq!(unchanged, Some(Modified::Unchanged(back)));
    let stranger = user(&store, "b@example.com").await;
    let missing = store.modify_task(&stranger, &task.id, |_| Ok::<_, StoreError>(Modification::Unchanged)).await;
    assert_eq!(missing.unwrap(), None);
    assert_eq!(outbox_settled(&store, OutboxPosition::default(), 2).await.len(), 2, "created + updated only");
}

/// Writes `next` in place of the stored task through `modify_task`, with one event.
async fn put(store: &Store, next: &Task, kind: TaskEventKind) -> Option<Modified> {
    let next = next.clone();
    let (user_id, id) = (next.user_id.clone(), next.id.clone());
    let change = move |_current: Task| {
        let events = vec![task_event(kind, &next, &Actor::User, None, t0())];
        Ok::<_, StoreError>(Modification::Update { task: next, events })
    };
    store.modify_task(&user_id, &id, change).await.unwrap()
}

async fn concurrent_modifications_queue_instead_of_racing(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let owner = user(&store, "a@example.com").await;
    let task = add(&store, &owner, titled("counter"), t0()).await;
    let writers = (0..20).map(|i| {
        let (store, owner, id) = (store.clone(), owner.clone(), task.id.clone());
        tokio::spawn(async move {
            store
                .modify_task(&owner, &id, move |mut current| {
                    current.description.push_str(&format!("{i};"));
                    current.version += 1;
                    let events = vec![task_event(TaskEventKind::Updated, &current, &Actor::User, None, t0())];
                    Ok::<_, StoreError>(Modification::Update { task: current, events })
                })
                .await
                .unwrap()
        })
    });
    for w in writers.collect::<Vec<_>>() {
        assert!(matches!(w.await.unwrap(), Some(Modified::Updated(_))));
    }
    let back = store.get_task(&owner, &task.id).await.unwrap().unwrap();
    assert_eq!(back.version, 21, "no lost update");
    assert_eq!(back.description.matches(';').count(), 20);
    assert_eq!(outbox_settled(&store, OutboxPosition::default(), 21).await.len(), 21);
}

async fn every_write_commits_its_event_atomically(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let owner = user(&store, "a@example.com").await;
    let task = add(&store, &owner, titled("one"), t0()).await;
    let (done, _) = task.completed(t0()).unwrap();
    let Some(Modified::Updated(_)) = put(&store, &done, TaskEventKind::Completed).await else { panic!("updated") };
    // A change that fails commits neither the change nor an event.
    let failed =
        store.modify_task(&owner, &task.id, |_| Err::<Modification, _>(StoreError::Corrupt("refused".into()))).await;
    assert!(failed.is_err());
    // A failing insert (duplicate id) commits no event either.
    let events = [task_event(TaskEventKind::Created, &task, &Actor::User, None, t0())];
    assert!(store.insert_task(&task, &events, None).await.is_err());

    let outbox = outbox_settled(&store, OutboxPosition::default(), 2).await;
    let types: Vec<&str> = outbox.iter().map(|r| r.event_type.as_str()).collect();
    assert_eq!(types, ["task.created", "task.completed"]);
    assert!(outbox.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(outbox[1].topic, "todo.events");
    assert_eq!(outbox[1].subject.as_deref(), Some(task.id.as_str()));
    let envelope: serde_json::Value = serde_json::from_str(&outbox[1].payload).unwrap();
    assert_eq!(envelope["id"], outbox[1].event_id);
    assert_eq!(envelope["data"]["task"]["status"], "done");
    assert_eq!(outbox_settled(&store, outbox[0].position(), 1).await.len(), 1);
}

async fn deletes_emit_events(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let owner = user(&store, "a@example.com").await;
    let task = add(&store, &owner, NewTask { tags: Some(vec!["t".into()]), ..titled("one") }, t0()).await;
    let delete = |task: Task| {
        let events = vec![task_event(TaskEventKind::Deleted, &task, &Actor::User, None, t0())];
        Ok::<_, StoreError>(Modification::Delete { events })
    };
    let stranger = user(&store, "b@example.com").await;
    assert_eq!(store.modify_task(&stranger, &task.id, delete).await.unwrap(), None);
    assert_eq!(store.modify_task(&owner, &task.id, delete).await.unwrap(), Some(Modified::Deleted(task.clone())));
    assert!(store.get_task(&owner, &task.id).await.unwrap().is_none());
    assert_eq!(store.modify_task(&owner, &task.id, delete).await.unwrap(), None);
    add(&store, &owner, NewTask { tags: Some(vec!["t".into()]), ..titled("two") }, t0()).await;
    let types: Vec<String> =
        outbox_settled(&store, OutboxPosition::default(), 3).await.into_iter().map(|r| r.event_type).collect();
    assert_eq!(types, ["task.created", "task.deleted", "task.created"]);
}

async fn idempotency_keys_claim_once(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let owner = user(&store, "a@example.com").await;
    let response = IdempotentResponse { request_hash: "h1".into(), status: 201, body: "{}".into() };
    let first = Task::create(errand_domain::new_id(), owner.clone(), &titled("one"), Tz::UTC, t0()).unwrap();
    let second = Task::create(errand_domain::new_id(), owner.clone(), &titled("one"), Tz::UTC, t0()).unwrap();
    assert_eq!(store.insert_task(&first, &[], Some(("k1", &response))).await.unwrap(), InsertOutcome::Inserted);
    assert_eq!(store.insert_task(&second, &[], Some(("k1", &response))).await.unwrap(), InsertOutcome::KeyTaken);
    assert!(store.get_task(&owner, &second.id).await.unwrap().is_none(), "the loser wrote nothing");
    assert_eq!(store.idempotent_response(&owner, "k1", t0()).await.unwrap(), Some(response.clone()));
    // Keys are per user and expire after a day.
    let other = user(&store, "b@example.com").await;
    assert_eq!(store.idempotent_response(&other, "k1", t0()).await.unwrap(), None);
    assert_eq!(store.idempotent_response(&owner, "k1", t0() + Duration::hours(25)).await.unwrap(), None);
    // Expired keys are pruned; fresh ones stay.
    assert_eq!(store.prune_idempotency_keys(t0() + Duration::hours(23)).await.unwrap(), 0);
    assert_eq!(store.prune_idempotency_keys(t0() + Duration::hours(25)).await.unwrap(), 1);
    assert_eq!(store.idempotent_response(&owner, "k1", t0()).await.unwrap(), None);
    let later =
        Task::create(errand_domain::new_id(), owner.clone(), &titled("two"), Tz::UTC, t0() + Duration::hours(25))
            .unwrap();
    assert_eq!(store.insert_task(&later, &[], Some(("k1", &response))).await.unwrap(), InsertOutcome::Inserted);
}

async fn readiness_reflects_migrations(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let store = Store::connect(&db.url).await.unwrap();
    assert!(!store.ready().await.unwrap(), "not ready before migrations");
    store.migrate().await.unwrap();
    assert!(store.ready().await.unwrap());
    store.migrate().await.unwrap();
    assert!(store.ready().await.unwrap(), "migrating twice is harmless");
    store.close().await;
}

async fn rebuild_scans_see_every_task_in_id_order(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let ada = user(&store, "a@example.com").await;
    let bob = user(&store, "b@example.com").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let owner = if i % 2 == 0 { &ada } else { &bob };
        ids.push(add(&store, owner, titled(&format!("t{i}")), t0()).await.id);
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let batch = store.tasks_after(after.as_deref(), 3).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = Some(last.id.clone());
        seen.extend(batch.into_iter().map(|t| t.id));
    }
    assert_eq!(seen, ids);
    // Once all seven events are visible (PostgreSQL may hold them back while other
    // transactions run), the head is the last of them.
    let visible = outbox_settled(&store, OutboxPosition::default(), 7).await;
    assert_eq!(store.outbox_head().await.unwrap(), visible[6].position());
    // ada wrote last (task 6), bob just before (task 5).
    assert!(store.last_write_position(&ada).unwrap() > store.last_write_position(&bob).unwrap());
}

/// Keyset pages: newest first, each page after the last item of the one before, ties
/// on the time broken by id, nothing seen twice or skipped.
async fn confirmations_and_conversations_page_newest_first(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let ada = user(&store, "ada@example.com").await;
    for i in 0..5 {
        // Two share each time, so the id decides between them.
        let at = t0() + Duration::seconds(i / 2);
        let confirmation = ConfirmationRecord {
            id: format!("c{i}"),
            user_id: ada.clone(),
            status: "pending".into(),
            decision: None,
            action: serde_json::json!({ "kind": "clear_completed" }),
            summary: format!("confirmation {i}"),
            created_at: at,
            expires_at: at + Duration::minutes(10),
            decided_at: None,
            result: None,
        };
        store.insert_confirmation(&confirmation).await.unwrap();
        let conversation = ConversationRecord {
            id: format!("v{i}"),
            user_id: ada.clone(),
            title: format!("conversation {i}"),
            memory: "{}".into(),
            created_at: at,
            updated_at: at,
        };
        store.save_conversation(&conversation, &[]).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store.confirmations(&ada, Some("pending"), before.clone(), 2).await.unwrap();
        seen.extend(page.iter().map(|c| c.id.clone()));
        match page.last() {
            Some(last) if page.len() == 2 => before = Some((last.created_at, last.id.clone())),
            _ => break,
        }
    }
    assert_eq!(seen, ["c4", "c3", "c2", "c1", "c0"]);
    assert!(store.confirmations(&ada, Some("approved"), None, 10).await.unwrap().is_empty());
    let first = store.conversations(&ada, None, 3).await.unwrap();
    let last = first.last().map(|c| (c.updated_at, c.id.clone()));
    let rest = store.conversations(&ada, last, 3).await.unwrap();
    let ids: Vec<&str> = first.iter().chain(&rest).map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["v4", "v3", "v2", "v1", "v0"]);
}

/// Creations that arrive together are committed together (on SQLite, in groups);
/// each keeps its own outcome: one that cannot be stored (its owner is gone) fails
/// alone, and every other one is committed with its event, at its own position.
async fn concurrent_creations_commit_together_and_fail_alone(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let owner = user(&store, "a@example.com").await;
    let handles = (0..40).map(|i| {
        let store = store.clone();
        let owner = if i == 17 { "no-such-user".to_string() } else { owner.clone() };
        tokio::spawn(async move {
            let task =
                Task::create(errand_domain::new_id(), owner, &titled(&format!("task {i}")), Tz::UTC, t0()).unwrap();
            let events = [task_event(TaskEventKind::Created, &task, &Actor::User, None, t0())];
            (task.id.clone(), store.insert_task(&task, &events, None).await)
        })
    });
    let results = futures_join(handles).await;
    let failed: Vec<usize> = results.iter().enumerate().filter(|(_, (_, r))| r.is_err()).map(|(i, _)| i).collect();
    assert_eq!(failed, [17]);
    for (id, _) in results.iter().filter(|(_, r)| r.is_ok()) {
        assert!(store.get_task(&owner, id).await.unwrap().is_some());
    }
    let outbox = outbox_settled(&store, OutboxPosition::default(), 39).await;
    assert_eq!(outbox.len(), 39);
    let subjects: std::collections::HashSet<_> = outbox.iter().filter_map(|r| r.subject.clone()).collect();
    assert_eq!(subjects.len(), 39, "one event per committed task");
    assert!(outbox.windows(2).all(|w| w[0].position() < w[1].position()));
    assert_eq!(store.last_write_position(&owner), outbox.last().map(|r| r.position()));
}
