//! Questions and views of the tasks: lists, filters, sorts, searches, counts, the
//! agenda, what was finished, what is most urgent, one task's details — and the
//! phrases that describe a set of tasks ("everything tagged health", "all overdue work
//! tasks"), which bulk actions share.

use serde_json::json;

use super::text::Clause;
use super::{run, target, Intent};

/// Words that only frame a description of tasks.
const FRAME: &[&str] = &[
    "all",
    "of",
    "every",
    "everything",
    "each",
    "any",
    "my",
    "the",
    "tasks",
    "task",
    "things",
    "thing",
    "stuff",
    "items",
    "item",
    "todos",
    "todo",
    "to-dos",
    "ones",
    "one",
    "that",
    "which",
    "are",
    "is",
    "i",
    "have",
    "got",
    "marked",
    "as",
    "with",
    "currently",
    "in",
    "on",
    "list",
    "from",
    "for",
    "there",
    "do",
    "me",
    "left",
    "still",
    "open",
    "now",
    "right",
    "at",
    "moment",
    "anything",
    "those",
    "these",
    "entries",
    "stuff",
    "you",
    "first",
];

/// A description of tasks in the filter language: `"all overdue work tasks"` ->
/// `overdue & @work`. `None` when some words describe nothing known.
pub(crate) fn filter_words(clause: &Clause) -> Option<String> {
    let mut atoms: Vec<String> = Vec::new();
    let mut rest = clause.clone();
    let phrases: [(&[&str], &str); 14] = [
        (&["completed", "complete", "done", "finished", "checked off", "ticked off", "closed"], "done"),
        (&["overdue", "late", "past due", "past their due date", "behind schedule"], "overdue"),
        (&["due today", "for today", "today's", "today"], "today"),
        (&["due tomorrow", "for tomorrow", "tomorrow's", "tomorrow"], "tomorrow"),
        (&["this week", "this week's", "in the next 7 days", "next 7 days"], "7 days"),
        (&["next week", "next week's"], "due after: in 7 days & due before: in 14 days"),
        (
            &[
                "don't have a due date",
                "do not have a due date",
                "don't have a date",
                "do not have a date",
                "have no due date",
                "have no date",
                "with no deadline",
                "without a deadline",
                "without deadlines",
                "without a due date",
                "without due date",
                "without a date",
                "with no due date",
                "with no date",
                "no due date",
                "no date",
                "undated",
                "without dates",
                "without due dates",
            ],
            "no date",
        ),
        (&["urgent", "p1", "top priority", "important", "priority 1", "!!1"], "p1"),
        (&["high priority", "high-priority", "p2", "priority 2", "!!2"], "p2"),
        (&["medium priority", "medium-priority", "p3", "priority 3", "!!3"], "p3"),
        (&["low priority", "low-priority", "p4", "priority 4", "!!4", "unimportant"], "p4"),
        (&["no priority", "without a priority", "without priority"], "no priority"),
        (&["recurring", "repeating", "repeat", "that repeat", "recur", "regular"], "recurring"),
        (&["untagged", "without tags", "with no tags", "without a tag"], "no tags"),
    ];
    for (words, atom) in phrases {
        if rest.has(words) {
            atoms.push(atom.to_string());
            rest = rest.without(words);
        }
    }
    // Tags: "tagged health", "labelled work", "with the tag x", "#x", "in x".
    for marker in [
        "tagged with",
        "tagged as",
        "tagged",
        "labelled",
        "labeled",
        "with the tags",
        "with the tag",
        "with tag",
        "under",
    ] {
        while let Some((before, _, after)) = rest.split(&[marker]) {
            let words = after.words();
            let Some(first) = words.first() else { break };
            atoms.push(format!("@{}", first.trim_start_matches('#')));
            let skip = after.find(first).unwrap_or(0) + first.len();
            let mut tail = after.cut(skip.min(after.orig.len()), after.orig.len());
            // "tagged work and health" / "tagged work or home": every tag named.
            while let Some(next) = tail.after(&["and", "or", "&"]) {
                let Some(tag) = next.words().first().map(|w| w.to_string()) else { break };
                if FRAME.contains(&tag.as_str()) {
                    break;
                }
                atoms.push(format!("@{}", tag.trim_start_matches('#')));
                tail = next.cut(tag.len().min(next.orig.len()), next.orig.len());
            }
            rest = Clause::new(&format!("{} {}", before.orig, tail.orig));
        }
    }
    for word in rest.clone().words() {
        if let Some(tag) = word.strip_prefix('#').filter(|t| !t.is_empty()) {
            atoms.push(format!("@{tag}"));
            rest = rest.without(&[word]);
        }
    }
    let rest = rest.without(&["due", "and", "or", "&"]);
    let unknown: Vec<&str> = rest.words().into_iter().filter(|w| !FRAME.contains(w)).collect();
    // "my work tasks", "the health stuff": one unknown word before a plural noun is a tag.
    if let [word] = unknown.as_slice() {
        let words = rest.words();
        let at = words.iter().position(|w| w == word)?;
        let noun = words.get(at + 1).copied().unwrap_or("");
        let named_for = at > 0 && matches!(words[at - 1], "for" | "about") && at + 1 == words.len();
        if !named_for
            && !matches!(
                noun,
                "tasks" | "things" | "stuff" | "items" | "todos" | "to-dos" | "ones" | "errands" | "list" | "projects"
            )
        {
            return None;
        }
        atoms.push(format!("@{word}"));
    } else if !unknown.is_empty() {
        return None;
    }
    if atoms.is_empty() {
        return None;
    }
    Some(atoms.join(" & "))
}

/// "all", "every", "everything": a request about many tasks.
pub(crate) fn is_many(clause: &Clause) -> bool {
    let words = clause.words();
    let first = words.first().copied().unwrap_or("");
    matches!(first, "all" | "every" | "everything" | "each" | "any")
        || words.iter().any(|w| matches!(*w, "tasks" | "ones" | "todos" | "items" | "things" | "everything" | "stuff"))
}

/// The sort key a phrase names.
fn sort_key(clause: &Clause) -> Option<&'static str> {
    let keys: [(&[&str], &str); 7] = [
        (&["priority", "importance", "urgency", "priorities"], "-priority"),
        (&["title", "name", "alphabetically", "alphabetical order", "alphabet"], "title"),
        (
            &[
                "newest",
                "newest first",
                "most recent",
                "recently added",
                "creation date",
                "date created",
                "creation",
                "created",
            ],
            "-created",
        ),
        (&["oldest", "oldest first"], "created"),
        (
            &["last updated", "recently updated", "last update", "updated", "last modified", "recently changed"],
            "-updated",
        ),
        (&["relevance"], "relevance"),
        (&["due date", "due dates", "deadline", "deadlines", "date", "dates", "when they're due", "due"], "due"),
    ];
    keys.iter().find(|(words, _)| clause.has(words)).map(|(_, key)| *key)
}

fn number_word(word: &str) -> Option<u32> {
    Some(match word {
        "a" | "one" => 1,
        "two" | "couple" => 2,
        "three" | "few" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "ten" => 10,
        "fourteen" => 14,
        n => n.parse().ok()?,
    })
}

/// The number of days an agenda phrase spans: "this week" is 7, "the next 3 days" 3.
fn agenda_days(clause: &Clause) -> Option<u32> {
    if clause.has(&["next week"]) {
        return None;
    }
    for marker in ["next", "coming", "following"] {
        let Some((_, _, after)) = clause.split(&[marker]) else { continue };
        let words = after.words();
        let skip = usize::from(words.first().is_some_and(|w| *w == "couple") && words.get(1) == Some(&"of"));
        if let (Some(n), Some(unit)) =
            (words.first().and_then(|w| number_word(w)), words.get(1 + skip).or(words.get(1)))
        {
            if unit.starts_with("day") {
                return Some(n.clamp(1, 31));
            }
            if unit.starts_with("week") {
                return Some((n * 7).clamp(1, 31));
            }
        }
    }
    clause
        .has(&[
            "this week",
            "the week",
            "my week",
            "week ahead",
            "rest of the week",
            "coming days",
            "coming week",
            "coming up",
            "upcoming",
            "next few days",
            "next 7 days",
            "next seven days",
            "the days ahead",
        ])
        .then_some(7)
}

/// The period of a "what did I finish ..." question.
fn period(clause: &Clause) -> Option<&'static str> {
    if clause.has(&["last week", "the week before", "previous week"]) {
        Some("last_week")
    } else if clause.has(&[
        "this week",
        "the week",
        "past week",
        "this past week",
        "last 7 days",
        "past 7 days",
        "so far this week",
    ]) {
        Some("this_week")
    } else if clause.has(&["yesterday"]) {
        Some("yesterday")
    } else if clause.has(&["today", "so far today", "this morning", "this afternoon"]) {
        Some("today")
    } else {
        None
    }
}

const ASKING: &[&str] = &[
    "tell me",
    "show me",
    "show",
    "let me know",
    "i want to know",
    "i'd like to know",
    "do you know",
    "can i see",
    "could i see",
    "i want to see",
    "i'd like to see",
    "give me",
    "list",
    "display",
    "view",
    "see",
    "what about",
    "and",
    "so",
    "please",
    "can you tell me",
    "could you tell me",
    "check",
    "what are",
    "pull up",
    "bring up",
    "get me",
    "fetch",
];

const WH: &[&str] = &[
    "what", "what's", "whats", "which", "when", "when's", "how", "is", "are", "do", "does", "did", "have", "any",
    "anything",
];

/// Verbs that start a change, never a question.
const CHANGES: &[&str] = &[
    "mark",
    "complete",
    "finish",
    "delete",
    "remove",
    "move",
    "push",
    "postpone",
    "reschedule",
    "tag",
    "label",
    "rename",
    "set",
    "make",
    "add",
    "create",
    "remind",
    "ping",
    "reopen",
    "repeat",
    "prioritise",
    "prioritize",
    "change",
    "cancel",
    "drop",
    "tick",
    "cross",
    "bump",
    "snooze",
    "alert",
    "flag",
    "clear",
];

/// Reads a question or a request to see tasks. `asked`: the message ended with "?".
pub(crate) fn read(clause: &Clause, asked: bool) -> Option<Intent> {
    if clause.words().first().is_some_and(|w| CHANGES.contains(w)) {
        return None;
    }
    let c = clause.strip_starts(ASKING);
    let first = c.words().first().copied().unwrap_or("");
    let showing = clause.after(ASKING).is_some();
    let questioning = asked || WH.contains(&first);
    if c.after(&["count", "how many"]).is_some() {
        return read_count(&c);
    }
    if !(showing || questioning) {
        return search(&c).or_else(|| sort(&c)).or_else(|| one_task(&c)).or_else(|| {
            // "home tasks", "just the health stuff": a set of tasks named alone.
            let named = c.strip_starts(&["just", "only"]);
            let about_me = named.words().first().is_some_and(|w| matches!(*w, "i" | "i've" | "i'm" | "we" | "im"));
            (is_many(&named) && !about_me && !named.words().iter().any(|w| CHANGES.contains(w)))
                .then(|| filter_words(&named))
                .flatten()
                .map(|filter| run("filter_tasks", json!({ "filter": filter }), None))
        });
    }

    if let Some(intent) = one_task(&c) {
        return Some(intent);
    }
    if c.has(&["how many", "number of", "count"]) {
        return read_count(&c);
    }

    // What is most urgent.
    if c.has(&[
        "most urgent",
        "most important",
        "top priority",
        "top priorities",
        "highest priority",
        "highest-priority",
        "most pressing",
        "biggest priority",
        "matters most",
        "priorities for",
        "should i do first",
        "should i do next",
        "should i work on",
        "should i focus on",
        "should i start with",
        "should i tackle",
        "should i do today",
        "to do first",
        "to do next",
        "what's next",
        "what is next",
        "what next",
        "do next",
        "most critical",
        "highest priorities",
        "needs my attention",
        "need my attention",
        "attention first",
        "should come first",
        "start with",
        "most overdue",
        "priority list",
        "important things",
        "most important things",
        "urgent stuff",
        "do first",
    ]) {
        return Some(run("sort_tasks", json!({ "sort": "-priority", "limit": 5 }), None));
    }

    // What was finished.
    if c.has(&[
        "finish",
        "finished",
        "complete",
        "completed",
        "get done",
        "got done",
        "accomplish",
        "accomplished",
        "done",
        "ticked off",
        "checked off",
        "cross off",
        "crossed off",
        "tick off",
        "knock out",
        "knocked out",
        "get through",
        "got through",
        "wrap up",
        "wrapped up",
        "achieve",
        "achieved",
        "closed",
        "knock off",
        "knocked off",
    ]) && !c.has(&[
        "is it done",
        "not done",
        "left to do",
        "still to do",
        "to be done",
        "have to do",
        "need to do",
        "to get done",
    ]) {
        let subject = c.without(&[
            "what", "what's", "which", "tasks", "did", "i", "have", "show", "my", "list", "the", "things", "have i",
            "did i",
        ]);
        if let Some(period) = period(&c) {
            return Some(run("completed_tasks", json!({ "period": period }), None));
        }
        // "is the report done?": one task.
        if let Some(rest) = c.after(&["is", "are", "was", "has", "have"]) {
            let who = rest.strip_ends(&[
                "done",
                "finished",
                "complete",
                "completed",
                "done yet",
                "finished yet",
                "yet",
                "already",
                "been done",
                "been completed",
                "been finished",
            ]);
            if !who.is_empty() && !is_many(&who) && filter_words(&who).is_none() {
                return Some(run("get_task", json!({}), Some(target(&who))));
            }
        }
        let _ = subject;
        return Some(run("list_tasks", json!({ "status": "done" }), None));
    }

    // When something is due; one task's details.
    if let Some(intent) = one_task(&c) {
        return Some(intent);
    }

    // The agenda.
    if let Some(days) = agenda_days(&c) {
        return Some(run("agenda", json!({ "days": days }), None));
    }

    if let Some(intent) = search(&c) {
        return Some(intent);
    }

    // A view: a filter, maybe sorted.
    let (described, key) = match c.rsplit(&["sorted by", "ordered by", "in order of", "sort by", "order by", "by"]) {
        Some((before, _, after)) => match sort_key(&after) {
            Some(key) => (before, Some(key)),
            None => (c.clone(), None),
        },
        None => match ORDERS.iter().find(|(words, _)| c.has(words)) {
            Some((words, key)) => (c.without(words), Some(*key)),
            None => (c.clone(), None),
        },
    };
    let described = described.without(&[
        "what",
        "what's",
        "whats",
        "which",
        "does",
        "anything",
        "put",
        "arrange",
        "organise",
        "organize",
        "get",
        "on my plate",
        "on my list",
        "on",
        "what's on",
        "my plate",
        "to do",
        "i need to do",
        "need to do",
        "i have to do",
        "have to do",
        "for me",
        "please",
        "scheduled",
        "planned",
        "coming",
        "looking like",
        "look like",
        "looks like",
        "sorted",
        "ordered",
        "agenda",
        "schedule",
        "todo list",
        "to do list",
        "to-do list",
    ]);
    if let Some(filter) = filter_words(&described) {
        return Some(match key {
            Some(sort) => run("sort_tasks", json!({ "sort": sort, "filter": filter }), None),
            None => run("filter_tasks", json!({ "filter": filter }), None),
        });
    }
    let leftover: Vec<&str> = described.words().into_iter().filter(|w| !FRAME.contains(w)).collect();
    if leftover.is_empty() {
        return Some(match key {
            Some(sort) => run("sort_tasks", json!({ "sort": sort }), None),
            None => run("list_tasks", json!({}), None),
        });
    }
    None
}

/// "how many tasks do I have?", "how many are overdue?", "count my work tasks".
fn read_count(c: &Clause) -> Option<Intent> {
    if c.has(&["finish", "finished", "complete", "completed", "get done", "got done", "done"]) {
        if let Some(period) = period(c) {
            return Some(run("completed_tasks", json!({ "period": period }), None));
        }
    }
    let described = c.without(&[
        "how many",
        "number of",
        "count",
        "how much",
        "in total",
        "total",
        "altogether",
        "right now",
        "at the moment",
        "currently",
        "open",
        "up",
        "all together",
        "in all",
    ]);
    Some(match filter_words(&described) {
        Some(filter) => run("count_tasks", json!({ "filter": filter }), None),
        None => run("count_tasks", json!({}), None),
    })
}

/// Orders said without "by": "alphabetically", "newest first".
const ORDERS: [(&[&str], &str); 5] = [
    (&["alphabetically", "in alphabetical order", "a to z", "a-z"], "title"),
    (
        &[
            "most recently updated first",
            "most recently updated",
            "recently updated first",
            "recently updated",
            "last updated first",
            "recently changed",
        ],
        "-updated",
    ),
    (
        &[
            "most recently created first",
            "most recently created",
            "recently created",
            "newest first",
            "newest",
            "latest first",
            "latest",
            "most recent first",
            "most recent",
            "recently added",
            "newest ones first",
        ],
        "-created",
    ),
    (&["oldest first", "oldest"], "created"),
    (&["most important first", "by importance", "highest priority first", "in priority order"], "-priority"),
];

/// "sort my tasks by due date", "order by priority".
fn sort(c: &Clause) -> Option<Intent> {
    let rest = c.after(&["sort", "order", "arrange", "organise", "organize", "rank"])?;
    let (described, sort) = match rest.split(&["by", "in order of", "according to"]) {
        Some((described, _, key)) => (described, sort_key(&key)?),
        None => {
            let (words, key) = ORDERS.iter().find(|(words, _)| rest.has(words))?;
            (rest.without(words), *key)
        }
    };
    let described = described.without(&["list"]);
    let framing = described.words().iter().all(|w| FRAME.contains(w));
    Some(match filter_words(&described) {
        Some(filter) => run("sort_tasks", json!({ "sort": sort, "filter": filter }), None),
        None if framing => run("sort_tasks", json!({ "sort": sort }), None),
        None => return None,
    })
}

/// "find tasks about invoices", "search for dentist", "anything about ACME?".
fn search(c: &Clause) -> Option<Intent> {
    let verbs = ["search for", "search", "find me", "find", "look for", "look up", "lookup", "locate", "grep"];
    let rest = match c.after(&verbs) {
        Some(rest) => {
            // "find a plumber" is something to do, not a search.
            if c.after(&["find", "look for", "find me"]).is_some()
                && rest.after(&["a", "an", "some", "someone", "somebody", "out"]).is_some()
            {
                return None;
            }
            rest
        }
        None => {
            let (_, _, after) = c.split(&[
                "anything about",
                "anything with",
                "anything mentioning",
                "anything related to",
                "anything regarding",
                "anything on",
                "any tasks about",
                "any tasks with",
                "any tasks mentioning",
                "a task about",
                "a task for",
                "tasks about",
                "tasks mentioning",
                "tasks related to",
                "tasks regarding",
                "tasks containing",
                "tasks that mention",
                "anything that mentions",
                "something about",
            ])?;
            return query(&after);
        }
    };
    let rest = rest.strip_starts(&[
        "my",
        "all",
        "the",
        "tasks",
        "task",
        "everything",
        "anything",
        "things",
        "items",
        "to-dos",
        "todos",
        "about",
        "for",
        "with",
        "containing",
        "mentioning",
        "on",
        "related to",
        "regarding",
        "that mention",
        "that mentions",
        "called",
        "named",
        "titled",
        "the word",
        "the words",
        "matching",
        "that match",
        "that contain",
        "which mention",
        "which contain",
    ]);
    query(&rest)
}

fn query(rest: &Clause) -> Option<Intent> {
    let words = rest.strip_ends(&["tasks", "task", "in my tasks", "in my list", "on my list", "please"]);
    let words = words.orig.trim_matches('"').trim();
    (!words.is_empty()).then(|| run("search_tasks", json!({ "query": words }), None))
}

/// "when is the dentist appointment due?", "tell me about the report", "what's the
/// status of X".
fn one_task(c: &Clause) -> Option<Intent> {
    let forms = [
        "when is",
        "when's",
        "whens",
        "when was",
        "when do i need to",
        "when do i have to",
        "when should i",
        "when must i",
        "when am i supposed to",
        "when will",
        "when does",
        "when do",
        "what time is",
        "what day is",
        "what date is",
        "what's the due date of",
        "what's the due date for",
        "what is the due date of",
        "what is the due date for",
        "what's the deadline for",
        "what is the deadline for",
        "what's the deadline of",
        "what's the status of",
        "what is the status of",
        "status of",
        "details of",
        "details for",
        "details on",
        "info on",
        "info about",
        "information about",
        "information on",
        "what do you know about",
        "about",
        "more about",
        "what about",
        "the details of",
        "what's up with",
        "due date of",
        "due date for",
        "deadline for",
        "deadline of",
        "is there a deadline for",
        "is there a deadline on",
        "is there a due date for",
        "is there a due date on",
        "how long until",
        "how long till",
        "how long do i have for",
        "how much time do i have for",
        "how much time do i have left for",
        "how much time is left for",
        "how much time until",
        "what's the due date on",
        "what is the due date on",
        "when do i see",
        "when am i seeing",
        "when do i go to",
        "when am i going to",
        "when is my",
        "what time do i have",
        "what day do i have",
        "what day",
        "when's my",
        "how soon is",
        "how soon do i need to",
        "how soon do i have to",
        "when will i need to",
        "when will i have to",
    ];
    let rest = match c.after(&forms) {
        Some(rest) => rest,
        // "is the quarterly report soon?", "is rent due soon?"
        None => match c.after(&["is", "are"]).and_then(|r| {
            r.before_end(&[
                "soon",
                "due soon",
                "coming up",
                "coming up soon",
                "due this week",
                "close",
                "overdue",
                "late",
                "due today",
                "due tomorrow",
                "due",
                "still due",
                "still open",
            ])
        }) {
            Some(rest) => rest,
            // "what's the quarterly report's due date?", "the dentist due when?"
            None => c
                .strip_starts(&["what's", "what is", "whats"])
                .before_end(&["'s due date", "'s deadline", "due when", "due date", "when"])?
                .strip_starts(&["the due date of"]),
        },
    };
    if rest.is_empty() {
        return None;
    }
    let who = rest
        .strip_ends(&[
            "due",
            "due again",
            "happening",
            "scheduled",
            "set for",
            "supposed to be done",
            "need to be done",
            "have to be done",
            "again",
            "due date",
            "deadline",
            "at",
            "on",
            "for",
            "do it",
            "it due",
            "be done",
            "done by",
            "planned",
            "soon",
            "next",
            "due soon",
            "coming up",
            "left",
            "is due",
            "is",
            "happen",
            "start",
            "begin",
            "be due",
            "be done",
            "be finished",
            "happening",
            "starting",
        ])
        .strip_starts(&["my", "the task", "task"]);
    if who.is_empty() || is_many(&who) || filter_words(&who).is_some() {
        return None;
    }
    Some(run("get_task", json!({}), Some(target(&who))))
}
