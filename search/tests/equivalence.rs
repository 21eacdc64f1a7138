//! Randomised cases: every page of every result equals a brute-force evaluation of
//! the same request over the same tasks, and no request reaches another user's task.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use errand_domain::{NewTask, Priority, RecurrenceInput, Status, Task};
use errand_search::{eval, Filter, SearchIndex, SearchRequest, Sort, SortKey};
use errand_store::{NewUser, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const WORDS: &[&str] = &[
    "milk",
    "invoice",
    "report",
    "garden",
    "meeting",
    "dentist",
    "taxes",
    "passport",
    "groceries",
    "bike",
    "project",
    "review",
    "call",
    "email",
    "plan",
    "budget",
    "travel",
    "birthday",
    "laundry",
    "cleanup",
    "quarterly",
    "café",
];
const TAGS: &[&str] = &["home", "work", "money", "health", "errand", "home-office", "family"];
const FILTERS: &[&str] = &[
    "today",
    "tomorrow",
    "overdue",
    "no date",
    "7 days",
    "p1",
    "p2",
    "p3",
    "p4",
    "no priority",
    "@home",
    "@home*",
    "@work",
    "@money",
    "no tags",
    "recurring",
    "done",
    "open",
    "due before: nov 30",
    "due after: dec 5",
    "created after: nov 10",
    "search: invoice",
    "search: meet",
    "search: grocries",
    "search: plan budget",
];
const SORTS: &[&str] = &[
    "due",
    "-due",
    "priority",
    "-priority",
    "created",
    "-created",
    "updated",
    "-updated",
    "title",
    "-title",
    "-priority,due",
    "priority,-due",
    "due,-priority",
    "-due,title",
    "title,created",
    "relevance",
];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
}

fn tz() -> Tz {
    "America/New_York".parse().unwrap()
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.gen_range(0..items.len())]
}

fn random_task(rng: &mut StdRng, user: &str) -> Task {
    let words = |rng: &mut StdRng, n: usize| (0..n).map(|_| pick(rng, WORDS)).collect::<Vec<_>>().join(" ");
    let created = now() - Duration::minutes(rng.gen_range(0..60 * 24 * 30));
    let due = (rng.gen_bool(0.7)).then(|| {
        let at = now() + Duration::minutes(rng.gen_range(-60 * 24 * 20..60 * 24 * 20));
        if rng.gen_bool(0.3) {
            at.with_timezone(&tz()).format("%Y-%m-%d").to_string()
        } else {
            at.to_rfc3339()
        }
    });
    let tags: Vec<String> = (0..rng.gen_range(0..3)).map(|_| pick(rng, TAGS).to_string()).collect();
    let (title_len, description_len) = (rng.gen_range(1..4), rng.gen_range(0..6));
    let input = NewTask {
        title: words(rng, title_len),
        description: Some(words(rng, description_len)),
        priority: Some(Priority::ALL[rng.gen_range(0..5)]),
        tags: Some(tags),
        due,
        recurrence: rng
            .gen_bool(0.15)
            .then(|| RecurrenceInput { rule: Some("FREQ=DAILY".into()), ..Default::default() }),
        ..Default::default()
    };
    let mut task = Task::create(errand_domain::new_id(), user.into(), &input, tz(), created).unwrap();
    if rng.gen_bool(0.25) {
        task = task.completed(created + Duration::minutes(rng.gen_range(1..600))).unwrap().0;
    }
    task
}

/// The brute-force order of one sort key.
fn compare_key(a: &Task, b: &Task, key: SortKey, descending: bool) -> Ordering {
    let due = |t: &Task| t.due_at.map(|d| d.timestamp_millis()).unwrap_or(if descending { i64::MIN } else { i64::MAX });
    let natural = match key {
        SortKey::Due => due(a).cmp(&due(b)),
        SortKey::Priority => a.priority.cmp(&b.priority),
        SortKey::Created => a.created_at.cmp(&b.created_at),
        SortKey::Updated => a.updated_at.cmp(&b.updated_at),
        SortKey::Title => a.title.to_lowercase().cmp(&b.title.to_lowercase()),
        SortKey::Relevance => Ordering::Equal,
    };
    if descending {
        natural.reverse()
    } else {
        natural
    }
}

/// The brute-force order of a sort: first key, second key, then id.
fn compare(a: &Task, b: &Task, sort: Sort) -> Ordering {
    let id = if sort.descending { b.id.cmp(&a.id) } else { a.id.cmp(&b.id) };
    compare_key(a, b, sort.key, sort.descending)
        .then_with(|| sort.then.map_or(Ordering::Equal, |(key, descending)| compare_key(a, b, key, descending)))
        .then(id)
}

fn random_filter(rng: &mut StdRng, depth: u32) -> String {
    if depth == 0 || rng.gen_bool(0.4) {
        let atom = pick(rng, FILTERS).to_string();
        return if rng.gen_bool(0.2) { format!("!{atom}") } else { atom };
    }
    let op = if rng.gen_bool(0.5) { "&" } else { "|" };
    format!("({} {op} {})", random_filter(rng, depth - 1), random_filter(rng, depth - 1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_results_equal_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/t.db", dir.path().display())).await.unwrap();
    store.migrate().await.unwrap();
    let mut rng = StdRng::seed_from_u64(0x5EA4C4);
    let mut users = Vec::new();
    let mut tasks: Vec<Task> = Vec::new();
    for n in 0..3 {
        let id = errand_domain::new_id();
        let new = NewUser {
            id: id.clone(),
            email: format!("u{n}@example.com"),
            name: None,
            password_hash: "x".into(),
            timezone: "America/New_York".into(),
            created_at: now(),
        };
        store.create_user(&new).await.unwrap();
        for _ in 0..150 {
            let task = random_task(&mut rng, &id);
            store.insert_task(&task, &[], None).await.unwrap();
            tasks.push(task);
        }
        users.push(id);
    }
    let index = SearchIndex::open(&dir.path().join("search"), &store).await.unwrap();

    check_cases(&index, &users, &tasks, &mut rng, 250, true, None);
}

/// How many relevance-sorted requests a [`check_cases`] compared, and how many it left
/// out because they would wait for the index.
#[derive(Debug, Default)]
struct Checked {
    relevance: usize,
    waiting: usize,
}

/// `cases` random requests, each read page by page, against a brute-force
/// evaluation over `tasks`. With `last_writes` (each user's latest noted write),
/// relevance-sorted requests are checked when the index says it shows them without
/// waiting, and counted as waiting otherwise.
fn check_cases(
    index: &SearchIndex,
    users: &[String],
    tasks: &[Task],
    rng: &mut StdRng,
    cases: usize,
    relevance: bool,
    last_writes: Option<&HashMap<String, errand_store::OutboxPosition>>,
) -> Checked {
    let mut checked = Checked::default();
    let mut rng = rng;
    let rng = &mut rng;
    for case in 0..cases {
        let user = users[rng.gen_range(0..users.len())].clone();
        let status = [None, Some(Status::Open), Some(Status::Done)][rng.gen_range(0..3)];
        let text = rng.gen_bool(0.3).then(|| {
            let word = pick(rng, WORDS);
            // Sometimes a prefix for type-ahead, sometimes a typo.
            match rng.gen_range(0..3) {
                0 => word.chars().take(3).collect(),
                1 if word.len() >= 6 => format!("{}{}", &word[..2], &word[3..]),
                _ => word.to_string(),
            }
        });
        let filter_text = rng.gen_bool(0.7).then(|| random_filter(rng, 2));
        let filter = filter_text.as_ref().map(|f| Filter::parse(f, tz(), now()).unwrap_or_else(|e| panic!("{f}: {e}")));
        let sort_name =
            if relevance && text.is_some() && rng.gen_bool(0.5) { "relevance" } else { pick(rng, &SORTS[..15]) };
        let sort = Sort::parse(sort_name).unwrap();
        let limit = rng.gen_range(1..15);
        let describe =
            format!("case {case}: status {status:?} q {text:?} filter {filter_text:?} sort {sort_name} limit {limit}");

        let mut expected: Vec<&Task> = tasks
            .iter()
            .filter(|t| t.user_id == user)
            .filter(|t| eval::status_matches(status, t))
            .filter(|t| filter.as_ref().is_none_or(|f| eval::matches(f, t)))
            .filter(|t| text.as_ref().is_none_or(|q| eval::text_matches(q, t)))
            .collect();
        expected.sort_by(|a, b| compare(a, b, sort));

        let mut request = SearchRequest {
            status,
            text: text.clone(),
            filter: filter.clone(),
            ..SearchRequest::new(&user, sort, limit)
        };
        if sort.key == SortKey::Relevance {
            let last = last_writes.and_then(|writes| writes.get(&user));
            if last.is_some_and(|position| !index.shows(&request, *position)) {
                checked.waiting += 1;
                continue;
            }
            checked.relevance += 1;
        }
        let mut found: Vec<Task> = Vec::new();
        loop {
            let page = index.search(&request).unwrap();
            assert_eq!(page.total, expected.len(), "total, {describe}");
            assert!(page.items.len() <= limit);
            assert!(page.items.iter().all(|t| t.user_id == user), "another user's task, {describe}");
            found.extend(page.items);
            match page.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => break,
            }
            assert!(found.len() <= expected.len(), "more results than expected, {describe}");
        }
        let found_ids: Vec<&str> = found.iter().map(|t| t.id.as_str()).collect();
        let expected_ids: Vec<&str> = expected.iter().map(|t| t.id.as_str()).collect();
        if sort.key == SortKey::Relevance {
            let mut a = found_ids.clone();
            let mut b = expected_ids.clone();
            a.sort();
            b.sort();
            assert_eq!(a, b, "{describe}");
        } else {
            assert_eq!(found_ids, expected_ids, "{describe}");
        }
    }
    checked
}

/// Writes noted but not yet committed are in every page at once, and after the
/// commit that includes them the index alone gives the same results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noted_writes_are_listed_before_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/t.db", dir.path().display())).await.unwrap();
    store.migrate().await.unwrap();
    let mut rng = StdRng::seed_from_u64(0x0E0A_11ED);
    let mut users = Vec::new();
    let mut tasks: Vec<Task> = Vec::new();
    for n in 0..2 {
        let id = errand_domain::new_id();
        let new = NewUser {
            id: id.clone(),
            email: format!("u{n}@example.com"),
            name: None,
            password_hash: "x".into(),
            timezone: "America/New_York".into(),
            created_at: now(),
        };
        store.create_user(&new).await.unwrap();
        for _ in 0..120 {
            let task = random_task(&mut rng, &id);
            store.insert_task(&task, &[], None).await.unwrap();
            tasks.push(task);
        }
        users.push(id);
    }
    let index = SearchIndex::open(&dir.path().join("search"), &store).await.unwrap();
    let base = index.applied();
    // New tasks, changed ones (every field may move them between results and pages)
    // and deletions, noted at later positions.
    let mut changed: Vec<(usize, Option<Task>)> = Vec::new();
    let mut deleted = std::collections::HashSet::new();
    let mut last_writes = HashMap::new();
    for n in 1..=60 {
        let position = errand_store::OutboxPosition { tx: base.tx, seq: base.seq + n };
        let user = users[rng.gen_range(0..users.len())].clone();
        let written = match rng.gen_range(0..3) {
            0 => {
                let task = random_task(&mut rng, &user);
                tasks.push(task.clone());
                (tasks.len() - 1, Some(task))
            }
            1 => {
                // A deleted task is gone: only live ones change.
                let i = loop {
                    let i = rng.gen_range(0..tasks.len());
                    if !deleted.contains(&i) {
                        break i;
                    }
                };
                let mut task = random_task(&mut rng, &tasks[i].user_id);
                task.id = tasks[i].id.clone();
                task.created_at = tasks[i].created_at;
                task.version = tasks[i].version + 1;
                tasks[i] = task.clone();
                (i, Some(task))
            }
            _ => {
                let i = rng.gen_range(0..tasks.len());
                deleted.insert(i);
                (i, None)
            }
        };
        let (i, task) = written;
        assert!(index.note_write(&tasks[i].user_id, &tasks[i].id.clone(), position, task.as_ref()));
        last_writes.insert(tasks[i].user_id.clone(), position);
        changed.push((i, task));
    }
    let live: Vec<Task> =
        tasks.iter().enumerate().filter(|(i, _)| !deleted.contains(i)).map(|(_, t)| t.clone()).collect();
    assert_eq!(index.noted_writes(), changed.iter().map(|(i, _)| *i).collect::<std::collections::HashSet<_>>().len());
    // A relevance sort cannot rank writes the index has not seen: a list under one
    // waits for the index when a noted task belongs in it, and is right without
    // waiting otherwise (a noted task that no longer matches drops out at once).
    let checked = check_cases(&index, &users, &live, &mut rng, 400, true, Some(&last_writes));
    assert!(checked.relevance >= 20 && checked.waiting >= 5, "both kinds of relevance list were tried: {checked:?}");

    // The indexer catches up: the same answers from the index alone.
    for (i, task) in &changed {
        match task {
            Some(task) => {
                index.upsert(task).unwrap();
            }
            None => index.remove(&tasks[*i].id).unwrap(),
        }
    }
    index.commit(errand_store::OutboxPosition { tx: base.tx, seq: base.seq + 60 }).unwrap();
    assert_eq!(index.noted_writes(), 0);
    check_cases(&index, &users, &live, &mut rng, 100, true, None);
}

/// Under a relevance sort, a noted task cannot be ranked: a list waits for the index
/// only when one of the user's noted tasks belongs in it; a noted change or deletion
/// that takes a task out of the list takes it out at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relevance_lists_wait_only_for_noted_tasks_that_belong_in_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/t.db", dir.path().display())).await.unwrap();
    store.migrate().await.unwrap();
    let user = errand_domain::new_id();
    let new = NewUser {
        id: user.clone(),
        email: "u@example.com".into(),
        name: None,
        password_hash: "x".into(),
        timezone: "America/New_York".into(),
        created_at: now(),
    };
    store.create_user(&new).await.unwrap();
    let titled = |title: &str| {
        let input = NewTask { title: title.into(), ..Default::default() };
        Task::create(errand_domain::new_id(), user.clone(), &input, tz(), now()).unwrap()
    };
    let (food, cage, zebra) = (titled("walrus food"), titled("walrus cage"), titled("zebra"));
    for task in [&food, &cage, &zebra] {
        store.insert_task(task, &[], None).await.unwrap();
    }
    let index = SearchIndex::open(&dir.path().join("search"), &store).await.unwrap();
    let base = index.applied();
    let at = |n: i64| errand_store::OutboxPosition { tx: base.tx, seq: base.seq + n };
    let request = SearchRequest {
        text: Some("walrus".into()),
        ..SearchRequest::new(&user, Sort::parse("relevance").unwrap(), 10)
    };
    let listed = |index: &SearchIndex| {
        let page = index.search(&request).unwrap();
        let mut titles: Vec<String> = page.items.into_iter().map(|t| t.title).collect();
        titles.sort();
        (titles, page.total)
    };
    assert_eq!(listed(&index), (vec!["walrus cage".to_string(), "walrus food".to_string()], 2));

    let mut renamed = food.clone();
    renamed.title = "penguin food".into();
    renamed.version += 1;
    assert!(index.note_write(&user, &food.id, at(1), Some(&renamed)));
    assert!(index.shows(&request, at(1)), "a task renamed out of the list needs no wait");
    assert_eq!(listed(&index), (vec!["walrus cage".to_string()], 1));

    assert!(index.note_write(&user, &cage.id, at(2), None));
    assert!(index.shows(&request, at(2)), "a deleted task needs no wait");
    assert_eq!(listed(&index), (vec![], 0));

    let mut joined = zebra.clone();
    joined.title = "walrus and zebra".into();
    joined.version += 1;
    assert!(index.note_write(&user, &zebra.id, at(3), Some(&joined)));
    assert!(!index.shows(&request, at(3)), "a noted task that belongs in the list is waited for");
}
