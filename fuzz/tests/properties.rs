//! A bounded pass of the fuzz targets in `make test`: random bytes, and inputs built
//! from each parser's own vocabulary (which reach far deeper than bytes do in the
//! same time). `make fuzz` runs the same functions under libFuzzer, unbounded.

use proptest::prelude::*;
use proptest::sample::select;

/// The first five bytes pick the zone and the moment (see `context` in the crate).
fn with_context(text: String) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 5).prop_map(move |mut prefix| {
        prefix.extend_from_slice(text.as_bytes());
        prefix
    })
}

fn phrase(words: &'static [&'static str], most: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(select(words), 0..most).prop_flat_map(|words| with_context(words.join(" ")))
}

const FILTER_WORDS: &[&str] = &[
    "today",
    "tomorrow",
    "overdue",
    "no date",
    "7 days",
    "next 3 days",
    "p1",
    "p2",
    "p3",
    "p4",
    "no priority",
    "@home",
    "@work*",
    "@",
    "no tags",
    "recurring",
    "done",
    "open",
    "search: milk",
    "search:",
    "due before: friday",
    "due after: nov 30",
    "created before: 2026-11-01",
    "created after: in 3 days",
    "due before: whenever",
    "&",
    "|",
    "!",
    "(",
    ")",
    "((",
    "))",
    "!!",
    "&&",
    "search: café invoice",
    "0 days",
    "3650 days",
    "3651 days",
];
const DATE_WORDS: &[&str] = &[
    "today",
    "tomorrow",
    "tonight",
    "next",
    "this",
    "monday",
    "fri",
    "in",
    "3",
    "days",
    "hours",
    "minutes",
    "at",
    "5pm",
    "9:30",
    "noon",
    "midnight",
    "morning",
    "evening",
    "nov",
    "30",
    "dec",
    "1st",
    "2026-12-01",
    "2026-12-01T17:00:00Z",
    "9999-12-31",
    "0000-01-01",
    "+5",
    "-1",
    "am",
    "pm",
    "week",
    "month",
    "year",
];
const RECURRENCE_WORDS: &[&str] = &[
    "every",
    "every!",
    "each",
    "other",
    "0",
    "1",
    "2",
    "3",
    "12",
    "1000",
    "1001",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "hour",
    "hours",
    "monday",
    "mon",
    "wed",
    "fri",
    "sun",
    "weekday",
    "weekdays",
    "weekends",
    "on",
    "the",
    "1st",
    "15th",
    "27th",
    "31st",
    "32nd",
    "last",
    "first",
    "third",
    "jan",
    "feb",
    "march",
    "29",
    "30",
    "at",
    "9am",
    "17:30",
    "noon",
    "until",
    "2027-06-30",
    "jun",
    "2027",
    "starting",
    "2027-01-04",
    "for",
    "10",
    "times",
    "and",
    ",",
];
const RULE_PARTS: &[&str] = &[
    "FREQ=DAILY",
    "FREQ=WEEKLY",
    "FREQ=MONTHLY",
    "FREQ=YEARLY",
    "FREQ=HOURLY",
    "FREQ=MINUTELY",
    "INTERVAL=0",
    "INTERVAL=2",
    "INTERVAL=1000",
    "INTERVAL=1001",
    "BYDAY=MO",
    "BYDAY=MO,WE,FR",
    "BYDAY=-1FR",
    "BYDAY=5SU",
    "BYMONTHDAY=1",
    "BYMONTHDAY=29",
    "BYMONTHDAY=30",
    "BYMONTHDAY=31",
    "BYMONTHDAY=-1",
    "BYMONTH=2",
    "BYMONTH=4",
    "BYHOUR=9",
    "BYMINUTE=30",
    "BYSECOND=0",
    "BYSETPOS=-1",
    "BYWEEKNO=53",
    "BYYEARDAY=366",
    "COUNT=0",
    "COUNT=3",
    "COUNT=10001",
    "UNTIL=20271231",
    "UNTIL=19000101",
    "WKST=SU",
    "RRULE:",
    "DTSTART:20260101T000000Z",
];
const CHAT_WORDS: &[&str] = &[
    "add",
    "buy",
    "milk",
    "remind",
    "me",
    "to",
    "call",
    "mom",
    "tomorrow",
    "at",
    "5pm",
    "every",
    "other",
    "monday",
    "delete",
    "it",
    "the",
    "task",
    "complete",
    "done",
    "with",
    "move",
    "to",
    "friday",
    "#shopping",
    "p1",
    "!!2",
    "what",
    "is",
    "due",
    "today",
    "show",
    "my",
    "tasks",
    "tagged",
    "work",
    "search",
    "for",
    "invoice",
    "make",
    "urgent",
    "30",
    "minutes",
    "before",
    "in",
    "2",
    "hours",
    "stop",
    "repeating",
    "rename",
    "\"The 5th Wave\"",
];

const STRINGS: &[&str] = &["", "x", "urgent", "high", "none", "FREQ=DAILY", "every 3 days", "2030-01-01T00:00:00Z"];
const TAGS: &[&str] =
    &["home", "work", "Home", "", "a b", "@x", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"];

/// A JSON value from a few shapes each field may take.
fn field_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|n| json!(n)),
        (-5i64..1_000_000).prop_map(|n| json!(n)),
        select(DATE_WORDS).prop_map(|w| json!(w)),
        select(STRINGS).prop_map(|w| json!(w)),
        proptest::collection::vec(select(TAGS), 0..25).prop_map(|tags| json!(tags)),
        proptest::collection::vec(
            prop_oneof![
                (-10i64..20_000).prop_map(|m| json!({ "before_due_minutes": m })),
                select(DATE_WORDS).prop_map(|w| json!({ "at": w })),
            ],
            0..12
        )
        .prop_map(|r| json!(r)),
        select(RECURRENCE_WORDS).prop_map(|w| json!({ "text": format!("every {w}") })),
        select(RULE_PARTS).prop_map(|r| json!({ "rule": r })),
    ]
}

fn task_body(fields: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((select(fields), field_value()), 0..6).prop_flat_map(|pairs| {
        let body: serde_json::Map<String, serde_json::Value> =
            pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        with_context(serde_json::Value::Object(body).to_string())
    })
}

const TASK_FIELDS: &[&str] =
    &["title", "title", "description", "priority", "tags", "due", "due_at", "all_day", "reminders", "recurrence"];

proptest! {
    // Failures are kept as files under regressions/, not proptest's own store.
    #![proptest_config(ProptestConfig { cases: 20_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_target_takes_any_bytes(target in 0..errand_fuzz::TARGETS.len(), data in proptest::collection::vec(any::<u8>(), 0..200)) {
        (errand_fuzz::TARGETS[target].1)(&data);
    }

    #[test]
    fn filters(data in phrase(FILTER_WORDS, 14)) {
        errand_fuzz::filter(&data);
    }

    #[test]
    fn search_texts(data in phrase(CHAT_WORDS, 30)) {
        errand_fuzz::search_text(&data);
    }

    #[test]
    fn dates(data in phrase(DATE_WORDS, 6)) {
        errand_fuzz::due(&data);
    }

    #[test]
    fn recurrences(data in phrase(RECURRENCE_WORDS, 9)) {
        errand_fuzz::recurrence_text(&data);
    }

    #[test]
    fn rules(parts in proptest::collection::vec(select(RULE_PARTS), 1..6), context in proptest::collection::vec(any::<u8>(), 5)) {
        let mut data = context;
        data.extend_from_slice(parts.join(";").as_bytes());
        errand_fuzz::rrule(&data);
    }

    #[test]
    fn new_tasks(data in task_body(TASK_FIELDS)) {
        errand_fuzz::new_task(&data);
    }

    #[test]
    fn task_patches(data in task_body(&["title", "description", "priority", "tags", "due", "due_at", "all_day", "reminders", "recurrence", "version"])) {
        errand_fuzz::task_patch(&data);
    }

    #[test]
    fn chat_messages(data in phrase(CHAT_WORDS, 12)) {
        errand_fuzz::chat_message(&data);
    }
}
