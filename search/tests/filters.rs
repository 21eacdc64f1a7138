//! The filter language over a fixed fixture: expected matches written out by hand,
//! error positions, and no panics on any input.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use errand_domain::event::{task_event, Actor, TaskEventKind};
use errand_domain::{NewTask, Priority, RecurrenceInput, Task};
use errand_search::{eval, Filter, SearchIndex, SearchRequest, Sort, SortKey};
use errand_store::{NewUser, Store};

/// Thursday 2026-11-26, 10:00 in Berlin.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
}

fn berlin() -> Tz {
    "Europe/Berlin".parse().unwrap()
}

struct Spec {
    key: &'static str,
    title: &'static str,
    description: &'static str,
    tags: &'static [&'static str],
    priority: Priority,
    due: Option<&'static str>,
    done: bool,
    recurring: bool,
}

const FIXTURE: &[Spec] = &[
    Spec {
        key: "milk",
        title: "Buy milk",
        description: "from the corner shop",
        tags: &["shopping"],
        priority: Priority::High,
        due: Some("2026-11-26 17:00"),
        done: false,
        recurring: false,
    },
    Spec {
        key: "rent",
        title: "Pay rent",
        description: "transfer to landlord",
        tags: &["home", "money"],
        priority: Priority::Urgent,
        due: Some("2026-12-01"),
        done: false,
        recurring: true,
    },
    Spec {
        key: "mom",
        title: "Call mom",
        description: "",
        tags: &["family"],
        priority: Priority::None,
        due: None,
        done: false,
        recurring: false,
    },
    Spec {
        key: "taxes",
        title: "File taxes",
        description: "receipts and invoices",
        tags: &["money", "work"],
        priority: Priority::Medium,
        due: Some("2026-11-20"),
        done: false,
        recurring: false,
    },
    Spec {
        key: "bike",
        title: "Fix bike",
        description: "flat tire",
        tags: &["home-repair"],
        priority: Priority::Low,
        due: Some("2026-11-25 18:00"),
        done: true,
        recurring: false,
    },
    Spec {
        key: "dentist",
        title: "Book dentist",
        description: "annual checkup",
        tags: &[],
        priority: Priority::None,
        due: Some("2026-11-27 09:30"),
        done: false,
        recurring: false,
    },
    Spec {
        key: "notes",
        title: "Team meeting notes",
        description: "write summary for the team",
        tags: &["work"],
        priority: Priority::High,
        due: Some("2026-11-26"),
        done: false,
        recurring: false,
    },
    Spec {
        key: "passport",
        title: "Renew passport",
        description: "passport expires soon",
        tags: &["travel"],
        priority: Priority::Urgent,
        due: Some("2026-12-10 10:00"),
        done: false,
        recurring: false,
    },
    Spec {
        key: "plants",
        title: "Water plants",
        description: "",
        tags: &["home"],
        priority: Priority::Low,
        due: Some("2026-11-26 08:00"),
        done: false,
        recurring: true,
    },
    Spec {
        key: "invoice",
        title: "Invoice client",
        description: "send the invoice for november",
        tags: &["work", "money"],
        priority: Priority::High,
        due: Some("2026-11-30"),
        done: true,
        recurring: false,
    },
    Spec {
        key: "cafe",
        title: "Café visit",
        description: "try the naïve latte",
        tags: &["fun"],
        priority: Priority::None,
        due: Some("2026-11-26 23:30"),
        done: false,
        recurring: false,
    },
    Spec {
        key: "garage",
        title: "Garage cleanup",
        description: "",
        tags: &["home"],
        priority: Priority::Medium,
        due: None,
        done: true,
        recurring: false,
    },
];

struct Fixture {
    index: Arc<SearchIndex>,
    user: String,
    tasks: Vec<(String, Task)>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/t.db", dir.path().display())).await.unwrap();
    store.migrate().await.unwrap();
    let mut users = Vec::new();
    for email in ["ada@example.com", "bob@example.com"] {
        let id = errand_domain::new_id();
        let new = NewUser {
            id: id.clone(),
            email: email.into(),
            name: None,
            password_hash: "x".into(),
            timezone: "Europe/Berlin".into(),
            created_at: now(),
        };
        store.create_user(&new).await.unwrap();
        users.push(id);
    }
    let mut tasks = Vec::new();
    for (owner, user) in users.iter().enumerate() {
        for (i, spec) in FIXTURE.iter().enumerate() {
            // Created one day apart: milk on Nov 11, ..., garage on Nov 22 (12:00 UTC).
            let created = Utc.with_ymd_and_hms(2026, 11, 11 + i as u32, 12, 0, 0).unwrap();
            let input = NewTask {
                title: spec.title.into(),
                description: Some(spec.description.into()),
                priority: Some(spec.priority),
                tags: Some(spec.tags.iter().map(|t| t.to_string()).collect()),
                due: spec.due.map(String::from),
                recurrence: spec
                    .recurring
                    .then(|| RecurrenceInput { rule: Some("FREQ=WEEKLY".into()), ..Default::default() }),
                ..Default::default()
            };
            let mut task = Task::create(errand_domain::new_id(), user.clone(), &input, berlin(), created).unwrap();
            if spec.done {
                task = task.completed(created).unwrap().0;
            }
            store
                .insert_task(&task, &[task_event(TaskEventKind::Created, &task, &Actor::User, None, created)], None)
                .await
                .unwrap();
            if owner == 0 {
                tasks.push((spec.key.to_string(), task));
            }
        }
    }
    let index = SearchIndex::open(&dir.path().join("search"), &store).await.unwrap();
    Fixture { index, user: users[0].clone(), tasks, _dir: dir }
}

fn request(user: &str, filter: Filter) -> SearchRequest {
    SearchRequest { filter: Some(filter), ..SearchRequest::new(user, Sort::by(SortKey::Due, false), 100) }
}

#[tokio::test]
async fn sixty_filters_match_what_they_say() {
    let fx = fixture().await;
    let open = "milk rent mom taxes dentist notes passport plants cafe";
    let table: &[(&str, &str)] = &[
        ("today", "milk notes plants cafe"),
        ("tomorrow", "dentist"),
        ("overdue", "taxes bike plants"),
        ("no date", "mom garage"),
        ("7 days", "milk rent dentist notes plants invoice cafe"),
        ("30 days", "milk rent dentist notes passport plants invoice cafe"),
        ("p1", "rent passport"),
        ("p2", "milk notes invoice"),
        ("p3", "taxes garage"),
        ("p4", "bike plants"),
        ("no priority", "mom dentist cafe"),
        ("@home", "rent plants garage"),
        ("@home*", "rent plants garage bike"),
        ("@money", "rent taxes invoice"),
        ("@work", "taxes notes invoice"),
        ("no tags", "dentist"),
        ("recurring", "rent plants"),
        ("done", "bike invoice garage"),
        ("open", open),
        ("due before: nov 26", "taxes bike"),
        ("due before: tomorrow", "milk taxes bike notes plants cafe"),
        ("due after: nov 30", "rent passport"),
        ("due after: 2026-12-01", "passport"),
        ("due before: 2026-12-01T00:00:00+01:00", "milk taxes bike dentist notes plants invoice cafe"),
        ("created after: nov 15", "dentist notes passport plants invoice cafe garage"),
        ("created before: nov 13", "milk rent"),
        ("search: milk", "milk"),
        ("search: invoice", "taxes invoice"),
        ("search: passprt", "passport"),
        ("search: team summary", "notes"),
        ("search: cafe", "cafe"),
        ("search: naive", "cafe"),
        ("search: home", "rent bike plants garage"),
        ("search: the", "milk notes invoice cafe"),
        ("today & p2", "milk notes"),
        ("today | tomorrow", "milk dentist notes plants cafe"),
        ("!done", open),
        ("overdue & !done", "taxes plants"),
        ("@money & @work", "taxes invoice"),
        ("@money | @work", "rent taxes notes invoice"),
        ("(today | overdue) & @home", "plants"),
        ("p1 | p2 & @work", "rent passport notes invoice"),
        ("(p1 | p2) & @work", "notes invoice"),
        ("!no date", "milk rent taxes bike dentist notes passport plants invoice cafe"),
        ("no date & open", "mom"),
        ("!(p1 | p2 | p3)", "bike plants mom dentist cafe"),
        ("recurring & today", "plants"),
        ("recurring | no tags", "rent plants dentist"),
        ("7 days & !today", "rent dentist invoice"),
        ("search: invoice & done", "invoice"),
        ("@home* & !@home", "bike"),
        ("!!done", "bike invoice garage"),
        ("(((p1)))", "rent passport"),
        ("due after: nov 25 & due before: nov 28", "milk dentist notes plants cafe"),
        ("overdue | no date", "taxes bike plants mom garage"),
        ("@travel | @fun | @family", "passport cafe mom"),
        ("p4 & done", "bike"),
        ("!recurring & @home", "garage"),
        ("search: home & !@home", "bike"),
        ("created after: nov 20 & open", "cafe"),
        ("TODAY  &   P2", "milk notes"),
        ("next 2 days", "milk dentist notes plants cafe"),
        ("due before: nov 26 | due after: dec 5", "taxes bike passport"),
        ("search: fix bike", "bike"),
        ("no labels", "dentist"),
        ("completed", "bike invoice garage"),
        ("@nothing-like-this", ""),
        ("search: zzzz", ""),
    ];
    assert!(table.len() >= 60);
    for (expression, expected) in table {
        let filter = Filter::parse(expression, berlin(), now()).unwrap_or_else(|e| panic!("{expression}: {e}"));
        let want: BTreeSet<&str> = expected.split_whitespace().collect();
        let page = fx.index.search(&request(&fx.user, filter.clone())).unwrap();
        let found: BTreeSet<&str> = page
            .items
            .iter()
            .map(|t| fx.tasks.iter().find(|(_, f)| f.id == t.id).map(|(k, _)| k.as_str()).expect("one of ada's"))
            .collect();
        assert_eq!(found, want, "index: {expression}");
        assert_eq!(page.total, want.len(), "total: {expression}");
        // The reference evaluator agrees.
        let reference: BTreeSet<&str> =
            fx.tasks.iter().filter(|(_, t)| eval::matches(&filter, t)).map(|(k, _)| k.as_str()).collect();
        assert_eq!(reference, want, "reference: {expression}");
    }
}

#[test]
fn errors_name_the_position_and_what_was_expected() {
    let table: &[(&str, usize, &str)] = &[
        ("", 0, "a filter"),
        ("   ", 3, "a filter"),
        ("today &", 7, "a filter"),
        ("today & & p1", 8, "a filter"),
        ("(today", 6, ")"),
        ("today)", 5, "&, |"),
        ("someday", 0, "a filter"),
        ("p1 & bogus", 5, "a filter"),
        ("due before: whenever", 12, "a date"),
        ("due before:   whenever", 14, "a date"),
        ("@", 0, "a tag"),
        ("@ho me", 0, "a tag"),
        ("search:", 7, "a value"),
        ("!(", 2, "a filter"),
        ("today | (p1 & )", 14, "a filter"),
        ("0 days", 0, "a filter"),
        ("today (p1)", 6, "& or |"),
        ("colour: red", 0, "a filter"),
    ];
    for (text, position, expected) in table {
        let err = Filter::parse(text, berlin(), now()).expect_err(text);
        assert_eq!(err.position, *position, "{text:?}: {err}");
        assert!(err.expected.starts_with(expected), "{text:?}: {err}");
    }
}

#[test]
fn status_mentions_are_detected() {
    let parse = |t: &str| Filter::parse(t, berlin(), now()).unwrap();
    assert!(parse("done").mentions_status());
    assert!(parse("today & !(open)").mentions_status());
    assert!(!parse("today | p1").mentions_status());
}

proptest::proptest! {
    #[test]
    fn no_input_makes_the_parser_panic(text in "\\PC{0,40}") {
        let _ = Filter::parse(&text, berlin(), now());
    }

    #[test]
    fn operator_soup_never_panics(text in "[!&|() a-z@:*0-9]{0,30}") {
        let _ = Filter::parse(&text, berlin(), now());
    }
}

/// Nesting, length and the number of conditions are bounded, so no filter can exhaust
/// the parser's stack: each limit is an error at a position, one step past it.
#[test]
fn limits_are_errors_not_stack_overflows() {
    use errand_search::{MAX_FILTER_CHARS, MAX_FILTER_DEPTH, MAX_FILTER_TERMS};
    let parse = |t: &str| Filter::parse(t, berlin(), now());
    // Exactly at each limit, it parses.
    let deep = format!("{}p1{}", "(".repeat(MAX_FILTER_DEPTH), ")".repeat(MAX_FILTER_DEPTH));
    assert!(parse(&deep).is_ok());
    assert!(parse(&format!("{}p1", "!".repeat(MAX_FILTER_DEPTH))).is_ok());
    let many = vec!["p1"; MAX_FILTER_TERMS].join(" | ");
    assert!(parse(&many).is_ok());
    // One past each, it does not.
    let too_deep = format!("{}p1{}", "(".repeat(MAX_FILTER_DEPTH + 1), ")".repeat(MAX_FILTER_DEPTH + 1));
    let err = parse(&too_deep).unwrap_err();
    assert_eq!(err.position, MAX_FILTER_DEPTH, "{err}");
    assert!(err.expected.contains("levels"), "{err}");
    let mixed = "(!".repeat(MAX_FILTER_DEPTH / 2) + "(p1";
    assert!(parse(&mixed).unwrap_err().expected.contains("levels"));
    let err = parse(&format!("{many} | p2")).unwrap_err();
    assert!(err.expected.contains("conditions"), "{err}");
    let long = format!("search: {}", "a".repeat(MAX_FILTER_CHARS));
    assert!(parse(&long).unwrap_err().expected.contains("characters"));
    // The inputs that used to overflow a worker's stack.
    for hostile in ["(".repeat(2_500), "!".repeat(10_000) + "p1", "(!".repeat(300), "(".repeat(1_600)] {
        assert!(parse(&hostile).is_err());
    }
    // A search inside a filter obeys the limits of q.
    let wordy = format!("search: {}", vec!["milk"; 21].join(" "));
    assert!(parse(&wordy).unwrap_err().expected.contains("search words"));
}

#[test]
fn printed_filters_parse_back_to_themselves() {
    let texts = [
        "today",
        "tomorrow",
        "7 days",
        "next 3 days",
        "overdue | no date",
        "(today | overdue) & @work & !p4",
        "p1 & (p2 & p3)",
        "p1 | (p2 | p3)",
        "!(p1 | p2) & !!no tags",
        "due before: friday 5pm & due after: 2026-11-01",
        "created before: 2026-11-20T10:00:00Z | created after: nov 1",
        "@home* & recurring & done",
        "search: Milk  and   bread | open",
        "no priority & no date",
    ];
    for text in texts {
        let filter = Filter::parse(text, berlin(), now()).unwrap_or_else(|e| panic!("{text}: {e}"));
        let printed = filter.to_text(berlin(), now());
        let again = Filter::parse(&printed, berlin(), now()).unwrap_or_else(|e| panic!("{printed}: {e}"));
        assert_eq!(again, filter, "{text} printed as {printed}");
    }
    let printed = Filter::parse("(today | overdue) & @work & !p4", berlin(), now()).unwrap().to_text(berlin(), now());
    assert_eq!(printed, "(today | overdue) & @work & !p4");
}
