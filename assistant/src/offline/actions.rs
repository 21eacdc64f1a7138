//! Requests to change tasks, recognised by their verbs and the synonyms people use for
//! them, wherever the sentence puts them ("tick off the report", "the report is
//! done", "mark the report as done"). What is left is read by Quick Add's grammar: the
//! date of a move, the recurrence of a repeat, the time of a reminder; the words that
//! remain name the task.

use errand_domain::parse_quick_add;
use serde_json::{json, Value};

use super::questions::{filter_words, is_many};
use super::text::Clause;
use super::{add_task, run, target, Clock, Intent, Target};

/// Words after a task that only point at a list.
const LIST_TAILS: &[&str] = &[
    "off my list",
    "off the list",
    "from my list",
    "from the list",
    "off my todo list",
    "from my todo list",
    "from my tasks",
    "off",
    "already",
    "just now",
    "now",
    "for good",
    "anymore",
    "any more",
];

/// The priority a word names.
pub(crate) fn priority(words: &str) -> Option<&'static str> {
    let w = words.trim().trim_start_matches("a ").trim_end_matches(" priority").trim_end_matches(" prio").trim();
    Some(match w {
        "p1" | "!!1" | "urgent" | "important" | "top" | "critical" | "very important" | "highest" | "priority 1"
        | "super urgent" | "very urgent" => "urgent",
        "p2" | "!!2" | "high" | "priority 2" => "high",
        "p3" | "!!3" | "medium" | "normal" | "priority 3" | "mid" => "medium",
        "p4" | "!!4" | "low" | "lowest" | "priority 4" | "not important" | "unimportant" => "low",
        "none" | "no" | "without" => "none",
        _ => return None,
    })
}

/// The task a request names, or many tasks when it names a set of them.
enum Which {
    One(Target),
    Many(String),
}

fn which(words: &Clause) -> Option<Which> {
    let words = words.strip_ends(LIST_TAILS);
    if words.is_empty() {
        return None;
    }
    if is_many(&words) {
        if let Some(filter) = filter_words(&words) {
            return Some(Which::Many(filter));
        }
        if matches!(
            words.low.as_str(),
            "everything"
                | "all"
                | "all my tasks"
                | "all tasks"
                | "all of them"
                | "everything on my list"
                | "every task"
                | "all of my tasks"
        ) {
            return Some(Which::Many("open".into()));
        }
    }
    Some(Which::One(target(&words)))
}

/// A date in `rest` (read as Quick Add reads one): the words around it, and the
/// date's words.
fn split_date(rest: &Clause, clock: Clock) -> Option<(Clause, String)> {
    let read = parse_quick_add(&rest.orig, clock.tz, clock.now);
    let due = read.task.due.clone()?;
    let span = read.spans.iter().find(|s| s.kind == errand_domain::SpanKind::Date)?;
    let before = utf16_prefix(&rest.orig, span.start);
    let after = Clause::new(&rest.orig[utf16_prefix(&rest.orig, span.end).len()..]);
    let after = after.strip_starts(&["for", "about", "of", "regarding"]);
    let who = Clause::new(&format!("{before} {}", after.orig)).strip_ends(&[
        "to",
        "until",
        "till",
        "til",
        "for",
        "on",
        "at",
        "by",
        "back to",
        "back",
        "out to",
        "over to",
        "into",
        "is actually",
        "is now",
        "is really",
        "actually",
        "is",
        "now",
        "due",
        "due on",
        "due at",
        "due by",
        "should be",
        "needs to be done",
        "has to be done",
        "must be done",
        "should be done",
        "needs to be",
        "is due",
        "is now due",
        "is actually due",
        "'s",
        "it's",
        "happens",
        "is happening",
        "is on",
        "is at",
        "to be",
    ]);
    Some((who, due))
}

fn utf16_prefix(text: &str, units: usize) -> &str {
    let mut count = 0;
    for (i, c) in text.char_indices() {
        if count >= units {
            return &text[..i];
        }
        count += c.len_utf16();
    }
    text
}

/// A recurrence in `rest`: the words that are not part of it, and its words.
fn split_recurrence(rest: &Clause, clock: Clock) -> Option<(Clause, String)> {
    let read = parse_quick_add(&rest.orig, clock.tz, clock.now);
    let text = read.task.recurrence.and_then(|r| r.text)?;
    Some((Clause::new(&read.title), text))
}

fn with_task(tool: &str, arguments: Value, who: &Clause) -> Option<Intent> {
    match which(who)? {
        Which::One(t) => Some(run(tool, arguments, Some(t))),
        Which::Many(_) => None,
    }
}

/// "30 minutes before", "an hour before", "the day before": minutes and the words around.
fn relative_reminder(rest: &Clause) -> Option<(i64, Clause)> {
    let words = rest.words();
    let unit = |w: &str| -> Option<i64> {
        Some(match w.trim_end_matches(',') {
            "m" | "min" | "mins" | "minute" | "minutes" => 1,
            "h" | "hr" | "hrs" | "hour" | "hours" => 60,
            "d" | "day" | "days" => 1440,
            "w" | "week" | "weeks" => 10080,
            _ => return None,
        })
    };
    let befores = ["before", "earlier", "ahead", "beforehand", "prior", "in"];
    for (i, w) in words.iter().enumerate() {
        let (count, unit_minutes, used) =
            if let (Some(n), Some(u)) = (count_word(w), words.get(i + 1).and_then(|u| unit(u))) {
                (n, u, 2)
            } else if let Some(split) = w.find(|c: char| !c.is_ascii_digit()).filter(|s| *s > 0) {
                match (w[..split].parse::<i64>().ok(), unit(&w[split..])) {
                    (Some(n), Some(u)) => (n, u, 1),
                    _ => continue,
                }
            } else if matches!(*w, "half") && words.get(i + 1) == Some(&"an") && words.get(i + 2) == Some(&"hour") {
                (30, 1, 3)
            } else {
                continue;
            };
        let next = words.get(i + used).copied().unwrap_or("");
        if !befores.contains(&next) || (next == "in" && words.get(i + used + 1) != Some(&"advance")) {
            continue;
        }
        let minutes = count * unit_minutes;
        let phrase: Vec<&str> = words[i..=i + used + usize::from(next == "in" || next == "prior")].to_vec();
        let phrase = phrase.join(" ");
        let around = rest.without(&[phrase.as_str(), "prior to it", "to it"]);
        return Some((minutes, around));
    }
    if let Some((before, _, after)) =
        rest.split(&["the day before", "the night before", "a day ahead", "the evening before"])
    {
        return Some((1440, Clause::new(&format!("{} {}", before.orig, after.orig))));
    }
    if let Some((before, _, after)) =
        rest.split(&["when it's due", "when it is due", "at the time", "on time", "when due"])
    {
        return Some((0, Clause::new(&format!("{} {}", before.orig, after.orig))));
    }
    None
}

fn count_word(w: &str) -> Option<i64> {
    Some(match w {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "ten" => 10,
        "fifteen" => 15,
        "twenty" => 20,
        "thirty" => 30,
        "forty-five" => 45,
        n => n.parse().ok().filter(|n| (0..=100_000).contains(n))?,
    })
}

const ABOUT: &[&str] = &["about", "of", "for", "on", "regarding", "re", "to do", "that i have", "that"];

/// "remind me about X 30 minutes before", "set a reminder for X at 9am", "ping me 1
/// hour before", "remind me to X tomorrow".
fn remind(c: &Clause, clock: Clock) -> Option<Intent> {
    let rest = c.after(&[
        "remind me",
        "ping me",
        "alert me",
        "notify me",
        "nudge me",
        "warn me",
        "set a reminder",
        "set up a reminder",
        "add a reminder",
        "create a reminder",
        "make a reminder",
        "give me a reminder",
        "set an alert",
        "add an alert",
        "set an alarm",
        "put a reminder",
        "schedule a reminder",
        "i want a reminder",
        "i'd like a reminder",
        "i need a reminder",
        "send me a reminder",
        "give me a heads up",
        "give me a nudge",
        "remind",
        "reminder",
        "set reminder",
        "add reminder",
    ])?;
    // "remind me to call mom at 5": a new task to be reminded of.
    if let Some(todo) =
        rest.after(&["to", "that i need to", "that i have to", "i need to", "i have to", "that i should"])
    {
        let words = todo.words();
        let names_task = words.first().is_some_and(|w| matches!(*w, "the" | "my" | "it" | "that" | "this"));
        if !names_task {
            return Some(add_task(&todo.orig, clock, true));
        }
    }
    if let Some((minutes, around)) = relative_reminder(&rest) {
        let who = around.strip_starts(ABOUT).strip_ends(ABOUT).strip_ends(&[
            "it's due",
            "it is due",
            "its due",
            "it starts",
            "it's",
            "the due date",
            "the due time",
            "due",
            "it",
            "is",
            "are",
            "starts",
            "begins",
            "happens",
            "is due",
        ]);
        let who = if who.is_empty() { Clause::new("it") } else { who };
        return with_task("schedule_reminder", json!({ "before_due_minutes": minutes }), &who);
    }
    let rest = rest.strip_starts(ABOUT);
    let (who, at) = match rest.split(&["at", "on", "tomorrow", "today", "tonight", "in", "next", "this"]) {
        // "remind me at 9am about the report": the time first.
        Some((before, word, after)) if before.is_empty() => {
            let (time, _, who) = after.split(&["about", "of", "for", "regarding"]).unwrap_or((
                after.clone(),
                String::new(),
                Clause::new(""),
            ));
            let when = format!("{word} {}", time.orig);
            if errand_domain::parse_due(&when, clock.tz, clock.now).is_err() {
                return None;
            }
            (who, when)
        }
        _ => {
            let (who, when) = split_date(&rest, clock)?;
            (who.strip_ends(ABOUT), when)
        }
    };
    let who = if who.is_empty() { Clause::new("it") } else { who };
    with_task("schedule_reminder", json!({ "at": at.trim() }), &who)
}

fn complete(c: &Clause) -> Option<Intent> {
    let c = &c.strip_ends(&["for today", "for the day", "for now", "for this week", "at last", "finally", "yay"]);
    let rest = c
        .after(&[
            "complete",
            "finish",
            "finished",
            "done with",
            "i'm done with",
            "im done with",
            "i am done with",
            "finished with",
            "i've finished",
            "ive finished",
            "i have finished",
            "i finished",
            "i've completed",
            "i have completed",
            "i completed",
            "i've done",
            "i have done",
            "i did",
            "close",
            "close out",
            "tick off",
            "check off",
            "cross off",
            "mark off",
            "knock off",
            "knock out",
            "wrap up",
            "i wrapped up",
            "i've wrapped up",
            "got done with",
            "i got done with",
            "completed",
            "i took care of",
            "took care of",
            "i've taken care of",
            "i handled",
            "i've handled",
            "handled",
            "i sorted",
            "i've sorted",
            "i dealt with",
            "i've dealt with",
            "dealt with",
            "resolve",
            "i resolved",
            "i've resolved",
            "crossed off",
            "ticked off",
            "checked off",
            "knocked out",
            "knocked off",
            "all done with",
            "totally done with",
            "i'm all done with",
            "im all done with",
            "i am all done with",
            "completely done with",
            "finally done with",
            "finally finished",
            "i crossed off",
            "i ticked off",
            "i checked off",
            "i knocked out",
        ])
        .or_else(|| {
            let rest = c.after(&["tick", "check", "cross", "strike", "knock"])?;
            rest.before_end(&["off", "off my list", "off the list", "out"])
        })
        .or_else(|| {
            let rest = c.after(&["mark", "set", "flag"])?;
            rest.before_end(&[
                "as done",
                "done",
                "as complete",
                "complete",
                "as completed",
                "completed",
                "as finished",
                "finished",
                "as checked",
                "checked",
                "as closed",
                "closed",
            ])
        })
        .or_else(|| {
            c.before_end(&[
                "is done",
                "is finished",
                "is complete",
                "is completed",
                "'s done",
                "is all done",
                "are done",
                "are finished",
                "is taken care of",
                "is sorted",
                "is handled",
                "done",
                "finished",
                "completed",
                "has been done",
                "has been completed",
                "is now done",
                "is done now",
                "is finally done",
                "is over",
            ])
            .filter(|who| !who.is_empty() && !who.has(&["not", "isn't", "n't"]))
            .map(|who| who.strip_starts(&["got", "i got", "finally got", "i finally got"]))
        })
        .or_else(|| c.after(&["got"])?.before_end(&["done", "finished", "sorted", "out of the way"]))
        .or_else(|| {
            // "rent is paid", "the invoice has been sent": a task's result.
            let (who, _, state) = c.split(&["is", "are", "has been", "have been", "was", "got", "is now", "is all"])?;
            let state = state.strip_ends(&["already", "now", "today", "finally", "at last"]);
            (DONE_STATES.contains(&state.low.as_str()) && !who.is_empty()).then_some(who)
        })
        .or_else(|| {
            // "I paid the rent", "I've called mom": the task's verb, in the past.
            let rest = c.after(&["i", "i've", "i have", "i just", "just", "i already", "i've already", "already"])?;
            let words = rest.words();
            let verb = *words.first()?;
            let base = past_to_base(verb)?;
            let tail =
                rest.cut(verb.len(), rest.orig.len()).strip_ends(&["already", "today", "just now", "now", "finally"]);
            Some(Clause::new(&format!("{base} {}", tail.orig)))
        })
        .or_else(|| {
            // "got the plants watered": the task's verb after its words.
            let rest = c.after(&["got", "i got", "finally got"])?;
            let words = rest.words();
            let last = *words.last()?;
            (last.ends_with("ed") && words.len() >= 2).then(|| {
                let head = rest.before_end(&[last]).unwrap_or_else(|| rest.clone());
                let head = head.strip_starts(&["the", "my"]);
                Clause::new(&format!("{} {}", super::stem(last), head.orig))
            })
        })?;
    match which(&rest)? {
        Which::One(t) => Some(run("complete_task", json!({}), Some(t))),
        Which::Many(filter) => Some(run("complete_tasks", json!({ "filter": filter }), None)),
    }
}

/// What a done task can be said to be: "paid", "sent", "sorted".
const DONE_STATES: &[&str] = &[
    "done",
    "finished",
    "complete",
    "completed",
    "paid",
    "sent",
    "booked",
    "renewed",
    "filed",
    "submitted",
    "cleaned",
    "watered",
    "bought",
    "called",
    "handled",
    "sorted",
    "taken care of",
    "fixed",
    "delivered",
    "mailed",
    "posted",
    "returned",
    "picked up",
    "signed",
    "paid off",
    "dealt with",
    "wrapped up",
    "over",
    "out of the way",
    "all done",
    "all set",
    "sorted out",
    "ticked off",
    "checked off",
    "crossed off",
    "settled",
    "emailed",
    "uploaded",
];

/// A past-tense verb's base ("paid" -> "pay"); `None` when the word is not one.
fn past_to_base(word: &str) -> Option<String> {
    let irregular = [
        ("paid", "pay"),
        ("sent", "send"),
        ("bought", "buy"),
        ("went", "go"),
        ("did", "do"),
        ("wrote", "write"),
        ("made", "make"),
        ("took", "take"),
        ("got", "get"),
        ("read", "read"),
        ("ran", "run"),
        ("met", "meet"),
        ("saw", "see"),
        ("gave", "give"),
        ("found", "find"),
        ("brought", "bring"),
        ("spoke", "speak"),
        ("told", "tell"),
        ("left", "leave"),
        ("sold", "sell"),
        ("put", "put"),
        ("set", "set"),
        ("fed", "feed"),
        ("drove", "drive"),
    ];
    if let Some((_, base)) = irregular.iter().find(|(past, _)| *past == word) {
        return Some(base.to_string());
    }
    // "called", "watered", "renewed", "filed": regular pasts, not "need" or "red".
    let stem = super::stem(word);
    (word.ends_with("ed")
        && word.len() >= 5
        && stem != word
        && !matches!(
            word,
            "need" | "needed" | "wanted" | "started" | "decided" | "forgotten" | "planned" | "scheduled" | "hoped"
        ))
    .then(|| word.strip_suffix("ied").map(|base| format!("{base}y")).unwrap_or(stem))
}

fn delete(c: &Clause) -> Option<Intent> {
    let rest = c
        .after(&[
            "delete",
            "remove",
            "get rid of",
            "drop",
            "trash",
            "erase",
            "cancel",
            "scrap",
            "ditch",
            "bin",
            "nuke",
            "kill",
            "forget about",
            "throw away",
            "throw out",
            "toss",
            "discard",
            "clear out",
            "clear",
            "wipe",
            "purge",
            "junk",
            "axe",
            "lose",
            "dump",
            "clean out",
            "clean up",
        ])
        .or_else(|| {
            c.after(&["i don't need", "i do not need", "i dont need", "no need for", "we don't need"])
                .map(|r| r.strip_ends(&["anymore", "any more", "any longer", "now"]))
        })
        .or_else(|| {
            c.before_end(&[
                "is no longer needed",
                "isn't needed anymore",
                "is not needed anymore",
                "isn't needed",
                "is cancelled",
                "is canceled",
                "got cancelled",
                "got canceled",
                "was cancelled",
                "was canceled",
                "can go",
                "can be deleted",
                "is not needed",
            ])
        })?;
    let rest = rest.strip_ends(LIST_TAILS).strip_ends(&["please"]);
    // "clean up the garage" is something to do, not a deletion.
    if c.after(&["clean out", "clean up", "clear out", "lose"]).is_some() && !is_many(&rest) {
        return None;
    }
    match which(&rest)? {
        Which::One(t) => Some(run("delete_task", json!({}), Some(t))),
        Which::Many(filter) => Some(run("delete_tasks", json!({ "filter": filter }), None)),
    }
}

/// "clear the due date of X", "X has no deadline".
fn clear_due(c: &Clause) -> Option<Intent> {
    let rest = c
        .after(&[
            "clear the due date of",
            "clear the due date for",
            "clear the due date on",
            "clear the date of",
            "clear the date on",
            "clear the date for",
            "remove the due date of",
            "remove the due date from",
            "remove the due date for",
            "remove the due date on",
            "remove the date from",
            "remove the date of",
            "remove the deadline from",
            "remove the deadline for",
            "remove the deadline on",
            "remove the deadline of",
            "drop the due date of",
            "drop the due date from",
            "drop the date from",
            "delete the due date of",
            "delete the due date from",
            "take the due date off",
            "take the date off",
            "unschedule",
            "undate",
            "clear the deadline for",
            "clear the deadline of",
            "clear the deadline on",
            "get rid of the due date on",
            "get rid of the due date of",
            "get rid of the due date for",
            "get rid of the deadline on",
            "get rid of the deadline for",
            "remove the date on",
            "remove due date from",
            "clear due date for",
            "clear due date of",
            "clear due date on",
        ])
        .or_else(|| {
            c.before_end(&[
                "doesn't need a due date",
                "does not need a due date",
                "has no due date",
                "has no deadline",
                "doesn't have a deadline",
                "needs no due date",
                "no due date",
                "no deadline",
                "shouldn't have a due date",
                "without a due date",
                "no date",
            ])
            .map(|who| who.strip_starts(&["make", "set", "leave"]))
            .filter(|who| !is_many(who) && !who.has(&["delete", "remove", "show", "list", "find", "count"]))
        })
        .or_else(|| {
            let rest = c.after(&["clear", "remove", "drop", "delete", "take off"])?;
            let (_, _, who) = rest.split(&[
                "due date of",
                "due date from",
                "due date for",
                "due date on",
                "date of",
                "date from",
                "deadline of",
                "deadline from",
                "deadline for",
                "deadline on",
            ])?;
            Some(who)
        })
        .or_else(|| {
            // "take the due date off X"
            let rest = c.after(&["take the due date off", "take the deadline off"])?;
            Some(rest)
        })?;
    with_task("set_due_date", json!({ "due": null }), &rest)
}

/// "move X to friday", "push X to thursday at 10", "X is actually at 4pm".
fn move_due(c: &Clause, clock: Clock) -> Option<Intent> {
    let verbs = [
        "move",
        "postpone",
        "push back",
        "push",
        "bump",
        "reschedule",
        "shift",
        "delay",
        "defer",
        "put off",
        "snooze",
        "change the due date of",
        "change the due date for",
        "change the due date on",
        "set the due date of",
        "set the due date for",
        "set the due date on",
        "change the date of",
        "change the date for",
        "change the date on",
        "set the date for",
        "set the date of",
        "change the deadline for",
        "change the deadline of",
        "change the deadline on",
        "set the deadline for",
        "set the deadline of",
        "set the deadline on",
        "move the deadline for",
        "move the deadline of",
        "move the deadline on",
        "push the deadline for",
        "push the deadline of",
        "extend the deadline for",
        "extend the deadline of",
        "extend the deadline on",
        "extend",
        "make the deadline for",
        "update the due date of",
        "update the due date for",
        "update the due date on",
        "set a due date for",
        "set a due date on",
        "give",
        "put",
        "schedule",
        "plan",
        "move the due date of",
        "move the due date for",
        "push out",
        "kick",
        "slide",
        "hold off on",
        "hold off",
        "rebook",
        "move back",
        "make it",
        "make that",
        "change it to",
        "change that to",
        "set it to",
        "set it for",
        "set that to",
        "set that for",
        "have it",
        "move it to",
        "push it to",
        "change it",
        "make it for",
    ];
    let (rest, by_verb) = match c.after(&verbs) {
        // "put X on my list for tomorrow" adds a task.
        Some(_)
            if c.after(&["put"]).is_some()
                && c.has(&["on my list", "to my list", "on the list", "on my todo list"]) =>
        {
            return None
        }
        Some(rest) => (rest, true),
        None => (c.clone(), false),
    };
    let (who, due) = split_date(&rest, clock)?;
    if !by_verb {
        // Without a verb, the sentence must say the task is at or due then.
        let about_due = c.has(&[
            "is actually",
            "is now",
            "is due",
            "'s due",
            "due",
            "is on",
            "is at",
            "is really",
            "should be",
            "needs to be",
            "has to be",
            "must be",
            "happens",
            "is happening",
            "is scheduled",
            "is moved",
            "is set for",
            "is tomorrow",
            "is today",
            "is tonight",
            "is next",
            "actually",
            "'s at",
            "'s on",
            "it's",
            "its",
        ]) || c.find(" is ").is_some();
        let starts_with_action = c.words().first().is_some_and(|w| {
            matches!(
                *w,
                "delete"
                    | "remove"
                    | "complete"
                    | "finish"
                    | "mark"
                    | "tick"
                    | "check"
                    | "cross"
                    | "drop"
                    | "trash"
                    | "show"
                    | "list"
                    | "find"
                    | "add"
                    | "create"
                    | "what"
                    | "what's"
                    | "which"
                    | "how"
                    | "when"
            )
        });
        if !about_due || starts_with_action {
            return None;
        }
    }
    let who = who.strip_starts(&[
        "the due date of",
        "the due date for",
        "the date of",
        "the deadline of",
        "the deadline for",
        "make",
        "set",
        "have",
        "get",
    ]);
    let who = who.strip_ends(&["due date", "deadline", "'s due date", "'s deadline"]);
    let who = if who.is_empty()
        || matches!(who.low.as_str(), "make it" | "make that" | "change it" | "set it" | "change that" | "make")
    {
        Clause::new("it")
    } else {
        who
    };
    // "give X a due date of friday", "put X on friday": the little word before the task.
    let who = who.strip_ends(&["a due date of", "a due date", "a deadline of", "a deadline"]);
    with_task("set_due_date", json!({ "due": due }), &who)
}

/// "make X repeat every monday", "X repeats weekly", "repeat X every 3 months".
fn repeat(c: &Clause, clock: Clock) -> Option<Intent> {
    if !c.has(&[
        "repeat",
        "repeats",
        "recur",
        "recurs",
        "recurring",
        "repeating",
        "every",
        "each",
        "weekly",
        "daily",
        "monthly",
        "yearly",
        "annually",
        "weekdays",
        "recurrence",
    ]) {
        return None;
    }
    let verbs = c.after(&["repeat", "make", "set", "have", "let", "turn", "change", "update", "schedule", "switch"]);
    let explicit =
        verbs.is_some() || c.has(&["repeat", "repeats", "recur", "recurs", "recurring", "repeating", "recurrence"]);
    if !explicit {
        return None;
    }
    let rest = verbs.unwrap_or_else(|| c.clone());
    let (who, rule) = split_recurrence(&rest, clock)?;
    let who = who
        .without(&[
            "repeat",
            "repeats",
            "recur",
            "recurs",
            "recurring",
            "repeating",
            "to be recurring",
            "a recurring task",
            "recurrence",
        ])
        .strip_ends(&[
            "to",
            "should",
            "will",
            "is",
            "so it",
            "so that it",
            "so",
            "and",
            "task",
            "as",
            "into",
            "a",
            "on",
            "the",
            "of",
            "it's",
            "it",
            "set to",
            "to be",
            "be",
        ])
        .strip_starts(&["the recurrence of", "the recurrence for", "the repeat of", "the schedule of"]);
    let who = if who.is_empty() { Clause::new("it") } else { who };
    with_task("create_recurring", json!({ "recurrence": rule }), &who)
}

/// Phrases that say a task should stop repeating.
const STOP_CORE: &[&str] = &[
    "shouldn't be recurring",
    "shouldn't be repeating",
    "should not be recurring",
    "should not be repeating",
    "not be recurring",
    "not be repeating",
    "stop being recurring",
    "no longer be recurring",
    "stop repeating",
    "stop recurring",
    "don't repeat",
    "do not repeat",
    "dont repeat",
    "no longer repeat",
    "no longer repeats",
    "no longer recur",
    "shouldn't repeat",
    "should not repeat",
    "shouldnt repeat",
    "doesn't need to repeat",
    "does not need to repeat",
    "not repeat",
    "not recur",
    "one-off",
    "one off",
    "one-time",
    "non-recurring",
    "nonrecurring",
    "not recurring",
    "not repeating",
    "turn off the repeat",
    "turn off repeat",
    "turn off the recurrence",
    "remove the recurrence",
    "remove the repeat",
    "remove recurrence",
    "cancel the recurrence",
    "cancel the repeat",
    "end the series",
    "stop the series",
    "cancel the series",
    "end the recurrence",
    "stop the recurrence",
    "clear the recurrence",
    "unrepeat",
    "from repeating",
    "from recurring",
    "turn off repeating",
    "won't repeat",
    "stop the repeat",
    "remove the recurring",
];

/// Words around them that are not the task's: removed with them.
const STOP_EXTRA: &[&str] = &[
    "stop the recurrence of",
    "stop the recurrence for",
    "a one-off",
    "a one off",
    "a one-time task",
    "one time",
    "turn off the repeat for",
    "turn off repeat for",
    "turn off repeating for",
    "turn off the recurrence for",
    "turn off the recurrence on",
    "turn off the recurrence of",
    "remove the recurrence from",
    "remove the recurrence on",
    "remove the recurrence of",
    "remove the repeat from",
    "remove the repeat on",
    "remove recurrence from",
    "cancel the recurrence of",
    "cancel the recurrence for",
    "cancel the recurrence on",
    "cancel the repeat on",
    "cancel the repeat for",
    "cancel the repeat of",
    "end the recurrence of",
    "end the recurrence for",
    "clear the recurrence of",
    "clear the recurrence on",
    "clear the recurrence for",
    "stop",
    "repeat anymore",
    "recur anymore",
    "repeating anymore",
    "recurring anymore",
    "has to repeat",
    "needs to repeat",
    "the recurrence",
    "the repeat",
    "turn off",
    "remove the recurring from",
    "make",
    "anymore",
    "any more",
    "any longer",
    "no more",
    "should stop",
    "can stop",
    "isn't recurring",
    "is not recurring",
    "doesn't repeat",
    "does not repeat",
    "the series",
];

/// "stop repeating X", "X shouldn't repeat anymore", "make X a one-off".
fn stop_repeat(c: &Clause) -> Option<Intent> {
    if !c.has(STOP_CORE) {
        return None;
    }
    let markers: Vec<&str> = STOP_CORE.iter().chain(STOP_EXTRA).copied().collect();
    let who = c
        .without(&markers)
        .strip_starts(&["for", "on", "of", "from", "that", "so", "have"])
        .strip_ends(&["for", "on", "of", "so", "it", "should", "to", "and"]);
    let who = if who.is_empty() { Clause::new("it") } else { who };
    with_task("stop_recurring", json!({}), &who)
}

/// "rename X to Y", "call it Y", "change the title of X to Y".
fn rename(c: &Clause) -> Option<Intent> {
    let it_forms = [
        "call it",
        "call that",
        "call this",
        "name it",
        "rename it to",
        "rename it",
        "rename that to",
        "retitle it",
        "change the title to",
        "change the name to",
        "change its title to",
        "change its name to",
        "make the title",
        "title it",
        "let's call it",
        "lets call it",
        "change it to say",
        "it should be called",
        "it should say",
        "make it say",
        "rename that",
        "it's called",
        "it is called",
        "it's actually called",
        "the title should be",
        "the name should be",
    ];
    if let Some(title) = c.after(&it_forms) {
        let title = title.strip_starts(&["to", "as", ":"]);
        if title.is_empty() {
            return None;
        }
        return Some(run("update_task", json!({ "title": title.orig }), Some(Target::It)));
    }
    let rest = c.after(&[
        "rename",
        "retitle",
        "change the title of",
        "change the name of",
        "change the title for",
        "change the name for",
        "update the title of",
        "update the name of",
        "set the title of",
        "set the name of",
        "edit the title of",
        "change the wording of",
        "reword",
        "rephrase",
    ]);
    let (who, title) = match rest {
        Some(rest) => {
            let (who, _, title) = rest.split(&["to", "as", "into", ":"])?;
            (who, title)
        }
        None => {
            // "change X's title to Y", "X should be called Y".
            if let Some(rest) = c.after(&["change", "update", "edit", "set"]) {
                let (who, _, title) = rest.split(&["'s title to", "'s name to", "title to", "name to"])?;
                (who, title)
            } else {
                let (who, _, title) = c.split(&[
                    "should be called",
                    "should be renamed to",
                    "should be renamed",
                    "should be named",
                    "is now called",
                    "is actually called",
                    "needs to be called",
                    "should say",
                ])?;
                (who, title)
            }
        }
    };
    let who = who.strip_ends(&["'s title", "'s name", "title", "name"]);
    if title.is_empty() || who.is_empty() {
        return None;
    }
    let title = title.orig.trim_matches('"').to_string();
    with_task("update_task", json!({ "title": title }), &who)
}

/// "change the description of X to Y", "add a note to X: Y".
fn describe(c: &Clause) -> Option<Intent> {
    let rest = c.after(&[
        "change the description of",
        "set the description of",
        "update the description of",
        "change the description for",
        "set the description for",
        "update the description for",
        "change the notes of",
        "set the notes of",
        "update the notes of",
        "change the notes on",
        "set the notes on",
        "update the notes on",
        "change the notes for",
        "set the notes for",
        "update the notes for",
        "change the note on",
        "set the note on",
        "add a note to",
        "add a note on",
        "add notes to",
        "add a description to",
        "give",
        "describe",
        "set the details of",
        "change the details of",
        "update the details of",
        "add a description for",
        "add the note",
    ])?;
    let (who, _, text) = rest.split(&[
        "to say",
        "to read",
        "to",
        "as",
        ":",
        "saying",
        "that says",
        "with",
        "a description of",
        "the description",
        "the note",
    ])?;
    let who = who.strip_ends(&["a description", "a note", "the description", "the note"]);
    if who.is_empty() || text.is_empty() {
        return None;
    }
    with_task("update_task", json!({ "description": text.orig.trim_matches('"') }), &who)
}

fn tag_list(words: &Clause) -> Vec<String> {
    words
        .orig
        .split([',', ' '])
        .map(|t| t.trim().trim_matches(['\'', '"']).trim_start_matches('#').to_lowercase())
        .filter(|t| {
            !t.is_empty()
                && !matches!(
                    t.as_str(),
                    "and" | "&" | "the" | "tag" | "tags" | "label" | "labels" | "as" | "with" | "both"
                )
        })
        .collect()
}

/// "tag X with a, b", "label X as work", "add the tag x to X", "add #work to X".
fn tag(c: &Clause) -> Option<Intent> {
    let marked = [
        "with the tags",
        "with the tag",
        "with the labels",
        "with the label",
        "with tags",
        "with tag",
        "with",
        "as",
        "under",
        "in",
        "into",
    ];
    // "add the errands label to buy milk", "give the gym a fitness tag".
    if let Some(rest) = c.after(&["add", "put", "stick", "apply", "attach"]) {
        if let Some((tags, _, who)) =
            rest.split(&["label to", "tag to", "labels to", "tags to", "label on", "tag on", "tags on", "labels on"])
        {
            let tags = tags.strip_starts(&["the", "a", "an"]);
            return with_task("add_tags", json!({ "tags": tag_list(&tags) }), &who);
        }
    }
    if let Some(rest) = c.after(&["give"]) {
        if let Some(who) = rest.before_end(&["tag", "label"]) {
            if let Some((who, _, tags)) = who.rsplit(&["a", "an", "the"]) {
                return with_task("add_tags", json!({ "tags": tag_list(&tags) }), &who);
            }
        }
    }
    let (who, tags) = if let Some(rest) =
        c.after(&["tag", "label", "mark", "file", "put", "categorise", "categorize"]).filter(|r| r.has(&marked))
    {
        let (who, marker, tags) = rest.split(&marked)?;
        // "mark X as done" is not a tag, and "mark" needs a hashtag or "tag".
        let tagging =
            tags.low.starts_with('#') || marker.contains("tag") || marker.contains("label") || marker == "under";
        if c.after(&["mark", "file", "put"]).is_some() && !tagging {
            return None;
        }
        if c.after(&["put"]).is_some() && !tags.low.starts_with('#') && marker != "under" {
            return None;
        }
        (who, tags)
    } else if let Some(rest) = c.after(&[
        "add the tags",
        "add the tag",
        "add tags",
        "add tag",
        "add the labels",
        "add the label",
        "add labels",
        "add label",
        "add a tag",
        "add a label",
        "apply the tag",
        "apply the label",
        "give",
    ]) {
        let (tags, _, who) = rest.split(&["to", "on", "onto"])?;
        if c.after(&["give"]).is_some() {
            // "give X the tag work"
            let (who, _, tags) =
                rest.split(&["the tags", "the tag", "the label", "a tag", "a label", "tags", "tag"])?;
            return with_task("add_tags", json!({ "tags": tag_list(&tags) }), &who);
        }
        (who, tags)
    } else if let Some(rest) = c.after(&["add"]) {
        // "add #work #q4 to X": only tags before "to".
        let (tags, _, who) = rest.split(&["to", "on"])?;
        if tags.words().is_empty() || !tags.words().iter().all(|w| w.starts_with('#') || *w == "and") {
            return None;
        }
        (who, tags)
    } else if let Some(rest) = c.after(&["tag", "label"]) {
        // "tag call dad family", "tag it #home": the tags last.
        let rest = rest.strip_ends(&["too", "as well", "also"]);
        let words = rest.words();
        let hashed: Vec<&str> = words.iter().copied().filter(|w| w.starts_with('#')).collect();
        if hashed.is_empty() {
            if let Some(tags) = rest.after(&["it", "that", "this", "them"]) {
                return with_task("add_tags", json!({ "tags": tag_list(&tags) }), &Clause::new("it"));
            }
        }
        let tags: Vec<&str> = if hashed.is_empty() { words.last().copied().into_iter().collect() } else { hashed };
        let who = rest.without(&tags);
        (who, Clause::new(&tags.join(" ")))
    } else {
        let (who, _, tags) = c.split(&[
            "should go under",
            "should go in",
            "goes in",
            "should be under",
            "should be in",
            "should be tagged",
            "needs to be tagged",
            "is tagged",
            "should be labelled",
            "should be labeled",
            "goes under",
            "belongs under",
            "belongs in",
            "belongs to",
        ])?;
        (who, tags)
    };
    let tags = tag_list(&tags.strip_ends(&["tag", "tags", "label", "labels", "too", "as well"]));
    if tags.is_empty() || who.is_empty() {
        return None;
    }
    with_task("add_tags", json!({ "tags": tags }), &who)
}

/// "make X urgent", "set the priority of X to high", "prioritise X", "X is p1".
fn set_priority(c: &Clause) -> Option<Intent> {
    if let Some(rest) = c.after(&[
        "set the priority of",
        "set the priority for",
        "set the priority on",
        "change the priority of",
        "change the priority for",
        "change the priority on",
        "update the priority of",
        "update the priority for",
        "make the priority of",
        "give",
        "bump the priority of",
        "raise the priority of",
        "lower the priority of",
        "drop the priority of",
        "reduce the priority of",
        "increase the priority of",
        "decrease the priority of",
        "bump up the priority of",
        "set priority of",
        "set priority for",
        "change priority of",
        "change priority for",
    ]) {
        if let Some((who, _, p)) = rest.rsplit(&["to", "as", "a", "an"]) {
            if let Some(p) = priority(&p.low) {
                return with_task(
                    "set_priority",
                    json!({ "priority": p }),
                    &who.strip_ends(&["the priority", "priority"]),
                );
            }
        }
        let p = match c.words().first().copied() {
            Some("raise" | "increase" | "bump") => "high",
            Some("lower" | "drop" | "reduce" | "decrease") => "low",
            _ => return None,
        };
        return with_task("set_priority", json!({ "priority": p }), &rest);
    }
    if let Some(rest) = c.after(&[
        "remove the priority from",
        "remove the priority of",
        "remove the priority on",
        "clear the priority on",
        "clear the priority of",
        "clear the priority from",
        "clear the priority for",
        "take the priority off",
        "unprioritise",
        "unprioritize",
        "reset the priority of",
        "reset the priority on",
        "remove priority from",
        "clear priority on",
        "clear priority of",
        "clear priority for",
    ]) {
        return with_task("set_priority", json!({ "priority": "none" }), &rest);
    }
    if let Some(rest) = c.after(&["prioritise", "prioritize", "put a priority on"]) {
        return match rest.rsplit(&["as", "to", "at"]).and_then(|(who, _, p)| Some((who, priority(&p.low)?))) {
            Some((who, p)) => with_task("set_priority", json!({ "priority": p }), &who),
            None => with_task("set_priority", json!({ "priority": "high" }), &rest),
        };
    }
    if let Some(rest) = c.after(&["deprioritise", "deprioritize", "de-prioritise", "de-prioritize"]) {
        return with_task("set_priority", json!({ "priority": "low" }), &rest);
    }
    // "p3 for the garage"
    if let Some((p, _, who)) = c.split(&["for", "on"]) {
        if let Some(p) = priority(&p.low) {
            return with_task("set_priority", json!({ "priority": p }), &who);
        }
    }
    // "make X urgent", "set X to p2", "mark X as important", "X is urgent".
    let rest = c
        .after(&[
            "make", "mark", "flag", "set", "change", "bump", "raise", "lower", "turn", "switch", "move", "update",
            "put",
        ])
        .unwrap_or_else(|| c.clone());
    let (who, value) = split_priority(&rest)?;
    let who = who.strip_ends(&[
        "to",
        "as",
        "is",
        "is now",
        "should be",
        "needs to be",
        "at",
        "is actually",
        "be",
        "'s",
        "it's",
        "'s now",
        "is really",
        "priority",
        "with",
        "is super",
        "up",
        "down",
        "up to",
        "down to",
    ]);
    let who = if who.is_empty() { Clause::new("it") } else { who };
    if c.after(&[
        "make", "mark", "flag", "set", "change", "bump", "raise", "lower", "turn", "switch", "move", "update", "put",
    ])
    .is_none()
        && !c.has(&["is", "'s", "should be", "needs to be", "priority", "it's"])
    {
        return None;
    }
    with_task("set_priority", json!({ "priority": value }), &who)
}

/// The priority at the end of a phrase: (the words before, the priority).
fn split_priority(rest: &Clause) -> Option<(Clause, &'static str)> {
    let words = rest.words();
    for take in (1..=4).rev() {
        if words.len() < take {
            continue;
        }
        let tail = words[words.len() - take..].join(" ");
        let tail = tail.trim_start_matches("a ").trim_start_matches("top ");
        if let Some(p) =
            priority(tail).or_else(|| priority(tail.trim_end_matches(" priority").trim_end_matches(" prio")))
        {
            if take == words.len() {
                return Some((Clause::new(""), p));
            }
            let phrase = words[words.len() - take..].join(" ");
            let who = rest.before_end(&[phrase.as_str()])?;
            // "make X a priority": "a priority" alone is high.
            return Some((who, p));
        }
    }
    if let Some(who) = rest.before_end(&["a priority", "a top priority", "top priority", "a high priority", "priority"])
    {
        return Some((who, if rest.has(&["top priority"]) { "urgent" } else { "high" }));
    }
    None
}

/// "reopen X", "X isn't done", "mark X as not done".
fn reopen(c: &Clause) -> Option<Intent> {
    let rest = c
        .after(&[
            "reopen",
            "re-open",
            "uncomplete",
            "un-complete",
            "uncheck",
            "untick",
            "unmark",
            "undo completing",
            "undo the completion of",
            "undo complete on",
            "bring back",
            "restore",
            "revive",
            "resurrect",
            "undone",
            "un-finish",
            "unfinish",
            "put back",
            "open up",
            "open",
            "undo marking",
            "undo",
            "i'm not done with",
            "im not done with",
            "i am not done with",
            "not done with",
            "i'm not finished with",
            "i am not finished with",
            "i still need to do",
            "i'm still working on",
            "i am still working on",
            "still working on",
        ])
        .map(|r| {
            r.strip_ends(&[
                "as done",
                "as complete",
                "as completed",
                "done",
                "complete",
                "completed",
                "please",
                "again",
                "back",
                "to my list",
                "on my list",
            ])
        })
        .or_else(|| {
            let rest = c.after(&["mark", "set", "flag", "make", "put"])?;
            rest.before_end(&[
                "as not done",
                "not done",
                "as undone",
                "undone",
                "as incomplete",
                "incomplete",
                "as open",
                "open",
                "as unfinished",
                "unfinished",
                "as not complete",
                "not complete",
                "as not completed",
                "not completed",
                "as to do",
                "as todo",
                "back to open",
                "as active",
                "active",
                "as not finished",
                "not finished",
                "back to not done",
                "as pending",
                "pending",
                "back to do",
            ])
        })
        .or_else(|| {
            c.before_end(&[
                "isn't done",
                "is not done",
                "isnt done",
                "isn't finished",
                "is not finished",
                "wasn't done",
                "was not done",
                "isn't complete",
                "is not complete",
                "isn't actually done",
                "is not actually done",
                "isn't done yet",
                "is not done yet",
                "isn't finished yet",
                "still needs doing",
                "needs to be redone",
                "is not completed",
                "isn't completed",
                "wasn't finished",
                "wasn't completed",
                "is back on",
                "still open",
                "should be open",
                "should be open again",
                "is open again",
            ])
        })
        .or_else(|| {
            c.after(&[
                "i didn't finish",
                "i didn't actually finish",
                "i haven't finished",
                "i didn't do",
                "i didn't complete",
                "i haven't done",
                "i did not finish",
                "i did not complete",
                "i didn't actually do",
            ])
        })?;
    let rest = rest.strip_starts(&["the task", "task"]).strip_ends(&["after all", "yet", "actually"]);
    if rest.is_empty() || matches!(rest.low.as_str(), "that" | "it" | "this") && c.low.starts_with("undo") {
        return None;
    }
    Some(run("reopen_tasks", json!({}), Some(reopen_target(&rest))))
}

fn reopen_target(words: &Clause) -> Target {
    match target(words) {
        Target::Named(words) => Target::Done(words),
        other => other,
    }
}

/// Reads a request to change tasks; `None` when the clause names no action.
pub(crate) fn read(c: &Clause, clock: Clock) -> Option<Intent> {
    remind(c, clock)
        .or_else(|| stop_repeat(c))
        .or_else(|| clear_due(c))
        .or_else(|| reopen(c))
        .or_else(|| rename(c))
        .or_else(|| describe(c))
        .or_else(|| tag(c))
        .or_else(|| complete(c))
        .or_else(|| repeat(c, clock))
        .or_else(|| set_priority(c))
        .or_else(|| delete(c))
        .or_else(|| move_due(c, clock))
}
