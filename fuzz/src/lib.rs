//! The invariants of Errand's parsers of user text, as functions of arbitrary bytes.
//! Each must never panic or overflow its stack, and what it accepts must make sense:
//! a parsed filter prints back to itself, a recurrence gives a valid rule whose
//! occurrences increase, a task body gives a task within every limit.
//!
//! `fuzz_targets/` feeds these to libFuzzer (`make fuzz`); `tests/properties.rs`
//! runs a bounded property pass over the same functions in `make test`, and
//! `tests/regressions.rs` replays every input that ever broke one.
//!
//! Public surface: one function per target — [`filter`], [`search_text`], [`due`],
//! [`recurrence_text`], [`rrule`], [`cursor`], [`new_task`], [`task_patch`],
//! [`chat_message`], [`tool_call`] — and [`TARGETS`], each with its name.

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use errand_assistant::offline::{self, Clock};
use errand_assistant::tools;
use errand_domain::{
    next_occurrence, parse_due, parse_recurrence_text, start_of_day, NewTask, Recurrence, RecurrenceInput,
    ReminderInput, Task, TaskPatch, MAX_REMINDERS, MAX_TAGS, MAX_TITLE_LEN,
};
use errand_search::{check_query, eval, reencode_cursor, Filter, Sort, MAX_FILTER_CHARS};
use serde_json::{json, Value};

/// A target: a check of one parser over arbitrary bytes.
pub type Target = fn(&[u8]);

/// Every target, by the name of its function (and of its fuzz target).
pub const TARGETS: [(&str, Target); 10] = [
    ("filter", filter),
    ("search_text", search_text),
    ("due", due),
    ("recurrence_text", recurrence_text),
    ("rrule", rrule),
    ("cursor", cursor),
    ("new_task", new_task),
    ("task_patch", task_patch),
    ("chat_message", chat_message),
    ("tool_call", tool_call),
];

/// Timezones with something awkward each: none, DST, a DST change at midnight, a
/// quarter-hour offset, the first to reach a new day.
const ZONES: [&str; 6] =
    ["UTC", "Europe/Berlin", "America/New_York", "America/Santiago", "Asia/Kathmandu", "Pacific/Kiritimati"];

/// The moment and place an input is read in, from its first five bytes (a zone, and
/// minutes around 2026-11-26), and the rest as text.
fn context(data: &[u8]) -> (Tz, DateTime<Utc>, String) {
    let zone = data.first().map_or(0, |b| *b as usize % ZONES.len());
    let tz: Tz = ZONES[zone].parse().unwrap_or(Tz::UTC);
    let minutes = data.get(1..5).map_or(0, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) % (60 * 24 * 365 * 4));
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).single().unwrap_or_default()
        + Duration::minutes(i64::from(minutes));
    let text = String::from_utf8_lossy(data.get(5..).unwrap_or_default()).into_owned();
    (tz, now, text)
}

/// A few tasks of every shape for evaluating filters and searches against.
fn sample_tasks(tz: Tz, now: DateTime<Utc>) -> Vec<Task> {
    let inputs = [
        json!({"title": "Pay the Café invoice", "tags": ["work", "money"], "priority": "urgent", "due": "tomorrow 9am"}),
        json!({"title": "water plants", "recurrence": {"text": "every 3 days"}}),
        json!({"title": "x", "description": "quarterly report draft", "due": "2026-12-01"}),
        json!({"title": "no date at all", "priority": "low"}),
    ];
    inputs
        .iter()
        .filter_map(|input| serde_json::from_value::<NewTask>(input.clone()).ok())
        .filter_map(|input| Task::create(errand_domain::new_id(), "u".into(), &input, tz, now).ok())
        .collect()
}

/// The filter language: a filter that parses prints back to text that parses to the
/// same filter, and evaluating it never fails.
pub fn filter(data: &[u8]) {
    let (tz, now, text) = context(data);
    let Ok(filter) = Filter::parse(&text, tz, now) else { return };
    let printed = filter.to_text(tz, now);
    // Printing names instants in full ("nov 1" becomes an RFC 3339 instant) and
    // spaces the operators, so it may outgrow the length a filter may have; only
    // then can it not be read back (found by the fuzzer).
    if printed.chars().count() > MAX_FILTER_CHARS {
        return;
    }
    let again = Filter::parse(&printed, tz, now).unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}: {e}"));
    assert_eq!(again, filter, "{text:?} printed as {printed:?}");
    let _ = filter.mentions_status();
    for task in sample_tasks(tz, now) {
        let _ = eval::matches(&filter, &task);
    }
}

/// `q`: within its limits or refused, and matching never fails.
pub fn search_text(data: &[u8]) {
    let (tz, now, text) = context(data);
    if check_query(&text).is_ok() {
        for task in sample_tasks(tz, now) {
            let _ = eval::text_matches(&text, &task);
        }
    }
}

/// Natural-language dates: an accepted date is within the years the store keeps, an
/// all-day one starts its local day, and its instant reads back as itself.
pub fn due(data: &[u8]) {
    let (tz, now, text) = context(data);
    let Ok(due) = parse_due(&text, tz, now) else { return };
    let year = chrono::Datelike::year(&due.at);
    assert!((1970..=9999).contains(&year), "{text:?} -> {due:?}");
    if due.all_day {
        assert_eq!(due.at, start_of_day(tz, due.at.with_timezone(&tz).date_naive()), "{text:?}");
    }
    let again = parse_due(&due.at.to_rfc3339(), tz, now).unwrap_or_else(|e| panic!("{text:?} -> {due:?}: {e}"));
    assert_eq!(again.at, due.at, "{text:?}");
}

/// What an accepted recurrence must be: a rule that validates again as stored, and
/// occurrences that strictly increase within the series' bounds.
fn check_recurrence(input: &str, recurrence: &Recurrence, tz: Tz, now: DateTime<Utc>) {
    let stored = RecurrenceInput {
        rule: Some(recurrence.rule.clone()),
        from_completion: Some(recurrence.from_completion),
        until: recurrence.until,
        count: recurrence.count,
        starts: recurrence.starts,
        text: None,
    };
    let again = Recurrence::from_input(&stored).unwrap_or_else(|e| panic!("{input:?} -> {:?}: {e:?}", recurrence.rule));
    assert_eq!(again.rule, recurrence.rule, "{input:?}");
    assert!(!recurrence.describe().is_empty());
    let occurrences = recurrence.occurrences_after(now, now - Duration::milliseconds(1), tz, 6);
    assert!(occurrences.windows(2).all(|w| w[0] < w[1]), "{input:?}: {occurrences:?}");
    for at in &occurrences {
        let day = at.with_timezone(&tz).date_naive();
        assert!(recurrence.until.is_none_or(|until| day <= until), "{input:?}: {at} after until");
        assert!(recurrence.starts.is_none_or(|starts| day >= starts), "{input:?}: {at} before starts");
    }
}

/// Recurrence words: what parses gives a valid recurrence (or a clear refusal).
pub fn recurrence_text(data: &[u8]) {
    let (tz, now, text) = context(data);
    if parse_recurrence_text(&text).is_err() {
        return;
    }
    let input = RecurrenceInput { text: Some(text.clone()), ..Default::default() };
    if let Ok(recurrence) = Recurrence::from_input(&input) {
        check_recurrence(&text, &recurrence, tz, now);
    }
}

/// RRULEs.
pub fn rrule(data: &[u8]) {
    let (tz, now, text) = context(data);
    let input = RecurrenceInput { rule: Some(text.clone()), ..Default::default() };
    if let Ok(recurrence) = Recurrence::from_input(&input) {
        check_recurrence(&text, &recurrence, tz, now);
    }
}

/// List cursors: one that lists accept encodes again to a cursor that means the same.
pub fn cursor(data: &[u8]) {
    let (_, _, text) = context(data);
    for name in ["due", "-priority,due", "title", "relevance"] {
        let Some(sort) = Sort::parse(name) else { continue };
        if let Some(encoded) = reencode_cursor(&text, &sort) {
            assert_eq!(reencode_cursor(&encoded, &sort).as_ref(), Some(&encoded), "{text:?}");
        }
    }
}

/// What every stored task satisfies.
fn check_task(input: &str, task: &Task, tz: Tz, now: DateTime<Utc>) {
    let title = task.title.chars().count();
    assert!((1..=MAX_TITLE_LEN).contains(&title), "{input}: title of {title}");
    assert!(task.tags.len() <= MAX_TAGS, "{input}");
    assert!(task.reminders.len() <= MAX_REMINDERS, "{input}");
    assert!(task.recurrence.is_none() || task.due_at.is_some(), "{input}: a recurring task without a date");
    if let (true, Some(at)) = (task.all_day, task.due_at) {
        assert_eq!(at, start_of_day(tz, at.with_timezone(&tz).date_naive()), "{input}");
    }
    assert!(!task.all_day || task.due_at.is_some(), "{input}: all day without a day");
    let json = serde_json::to_string(task).unwrap_or_else(|e| panic!("{input}: {e}"));
    let back: Task = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{input}: {e}"));
    assert_eq!(&back, task, "{input}");
    let view = task.view(tz, now);
    if let Some(recurrence) = &task.recurrence {
        check_recurrence(input, recurrence, tz, now);
        let _ = next_occurrence(&view, now, tz, 1);
    }
}

/// `POST /tasks` bodies: one that deserialises either becomes a valid task or is
/// refused with a field.
pub fn new_task(data: &[u8]) {
    let (tz, now, _) = context(data);
    let Ok(input) = serde_json::from_slice::<NewTask>(data.get(5..).unwrap_or_default()) else { return };
    match Task::create(errand_domain::new_id(), "u".into(), &input, tz, now) {
        Ok(task) => check_task(&format!("{input:?}"), &task, tz, now),
        Err(invalid) => assert!(!invalid.field.is_empty() || !invalid.message.is_empty()),
    }
}

/// `PATCH /tasks/{id}` bodies, on a task with every field set.
pub fn task_patch(data: &[u8]) {
    let (tz, now, _) = context(data);
    let Ok(patch) = serde_json::from_slice::<TaskPatch>(data.get(5..).unwrap_or_default()) else { return };
    let base = NewTask {
        title: "renew passport".into(),
        description: Some("photos first".into()),
        tags: Some(vec!["home".into()]),
        due: Some("friday 5pm".into()),
        reminders: Some(vec![ReminderInput { before_due_minutes: Some(30), ..Default::default() }]),
        recurrence: Some(RecurrenceInput { text: Some("every month on the 1st".into()), ..Default::default() }),
        ..Default::default()
    };
    let Ok(task) = Task::create(errand_domain::new_id(), "u".into(), &base, tz, now) else { return };
    if let Ok(Some((next, changes))) = task.patched(&patch, tz, now) {
        assert_eq!(next.version, task.version + 1);
        assert!(!changes.is_empty());
        check_task(&format!("{patch:?}"), &next, tz, now);
    }
}

/// Chat messages to the offline assistant: every tool call it decides on is one the
/// tools accept.
pub fn chat_message(data: &[u8]) {
    let (tz, now, text) = context(data);
    if text.chars().count() > 4000 {
        return;
    }
    for intent in offline::interpret(&text, Clock { now, tz }) {
        if let offline::Intent::Run { tool, mut arguments, target } = intent {
            match (target.is_some(), tool.as_str()) {
                (true, "reopen_tasks") => {
                    arguments.insert("task_ids".into(), serde_json::json!(["t1"]));
                }
                (true, _) => {
                    arguments.insert("task_id".into(), Value::String("t1".into()));
                }
                _ => {}
            }
            if let Err(e) = tools::parse(&tool, &Value::Object(arguments.clone())) {
                panic!("{text:?} -> {tool} {arguments:?}: {e}");
            }
        }
    }
}

/// Tool calls from a model: one that validates keeps its name and validates again
/// from its own arguments.
pub fn tool_call(data: &[u8]) {
    let names: Vec<String> =
        tools::specs().iter().filter_map(|s| s["function"]["name"].as_str().map(str::to_string)).collect();
    let Some(name) = data.first().and_then(|b| names.get(*b as usize % names.len().max(1))) else { return };
    let Ok(arguments) = serde_json::from_slice::<Value>(data.get(1..).unwrap_or_default()) else { return };
    if let Ok(tool) = tools::parse(name, &arguments) {
        assert_eq!(tool.name(), name.as_str());
        let again = tools::parse(name, &tool.arguments()).unwrap_or_else(|e| panic!("{name} {arguments}: {e}"));
        assert_eq!(again, tool, "{name} {arguments}");
    }
}
