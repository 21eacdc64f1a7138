//! The offline assistant: a deterministic English interpreter for the thirteen tools.
//! It reads a message into intents (a tool and its arguments, with the task named by
//! words or by "it"), which [`crate::Assistant`] resolves against the user's tasks.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use errand_domain::{parse_due, parse_quick_add, parse_recurrence_text};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Which task a request is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// "it", "that": the task last mentioned.
    It,
    /// Words of its title.
    Named(String),
}

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Intent {
    /// Call `tool` with `arguments`, plus `task_id` from `target` when there is one.
    Run { tool: String, arguments: Map<String, Value>, target: Option<Target> },
    /// Answer in words; no tool.
    Say(String),
}

/// What the interpreter knows of the moment.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Now.
    pub now: DateTime<Utc>,
    /// The user's timezone.
    pub tz: Tz,
}

pub(crate) const HELP: &str = "I can add tasks (\"add buy milk tomorrow at 5pm #shopping p1\"), show them \
    (\"what's due this week?\", \"show urgent tasks sorted by due date\", \"find tasks about invoices\"), \
    complete, reschedule, tag, prioritise, remind you (\"remind me about it 30 minutes before\"), make tasks \
    repeat (\"make pay rent repeat every month on the 1st\") and delete them once you confirm.";

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid pattern")
}

macro_rules! patterns {
    ($($name:ident = $pattern:expr;)*) => {
        $(static $name: LazyLock<Regex> = LazyLock::new(|| re($pattern));)*
    };
}

patterns! {
    GREETING = r"^(hi|hello|hey|help|what can you do|good (morning|afternoon|evening))$";
    THANKS = r"^(thanks|thank you|cheers|great|ok|okay|cool)$";
    TAG = r"^(?:tag|label) (.+?) (?:with|as) (.+)$";
    ADD_TAG = r"^add (?:the )?(?:tags?|labels?) (.+?) to (.+)$";
    REMIND_BEFORE = r"^remind me (?:about|of) (.+?) (\d+) ?(minutes?|mins?|hours?|hrs?|days?) (?:before|early|ahead|in advance)$";
    REMIND_AT = r"^remind me (?:about|of) (.+?) ((?:at|on|tomorrow|today|tonight|in|next|this) .+)$";
    REMIND_TO = r"^remind me to (.+)$";
    ADD = r"^(?:please )?(?:add|create|new task|new|todo|put|add task|add a task|create a task)(?: a task| task)?(?::)? (.+?)(?: to my list)?$";
    LIST = r"^(?:show|list|what are|what's|what is|give me|display)(?: me)?(?: all)?(?: of)? (?:my |the )?(?:open |current )?(?:tasks|todos|to-dos|list|todo list|to do list|things to do)(?: on my list)?$|^what(?:'s| is) on my (?:list|plate)$";
    LIST_DONE = r"^(?:show|list|what are)(?: me)? (?:my )?(?:done|completed|finished) tasks$|^what (?:have i|did i) (?:done|finish|complete)d?$";
    DUE_WHEN = r"^what(?:'s| is| do i have)(?: is)? (?:due |on )?(?:for )?(today|tomorrow|this week|next week|in the next 7 days)$|^what(?:'s| is) due (today|tomorrow|this week|next week)$";
    OVERDUE = r"^(?:what(?:'s| is)|show(?: me)?|list|any(?:thing)?)(?: my)? overdue(?: tasks)?$|^what(?:'s| is) late$";
    NO_DATE = r"^(?:show|list|what are)(?: me)?(?: my)? tasks (?:with(?:out)? no (?:due )?date|without a (?:due )?date|with no due date)$";
    TAGGED = r"^(?:show|list|what(?:'s| is))(?: me)?(?: my)?(?: tasks| everything)? tagged (?:with )?#?([\w-]+)$";
    PRIORITY_VIEW = r"^(?:show|list|what are)(?: me)?(?: my)? (urgent|high priority|important|medium priority|low priority)(?: tasks)?(?: sorted by (.+))?$";
    SORTED = r"^(?:show|list|sort)(?: me)?(?: my| all)?(?: open)? tasks(?: tagged #?([\w-]+))? (?:sorted )?by (.+)$";
    SEARCH = r"^(?:find|search(?: for)?|look for|look up)(?: my)?(?: tasks?| everything)?(?: about| for| with| containing| mentioning| on)? (.+)$";
    COMPLETE_AS = r"^(?:mark|check off|tick off|set) (.+?) (?:as )?(?:done|complete|completed|finished)$";
    COMPLETE = r"^(?:complete|finish|done with|i finished|i've finished|i have finished|i did|i've done|i have done|i completed|close|check off|tick off) (.+)$";
    DELETE = r"^(?:please )?(?:delete|remove|drop|trash|get rid of|cancel|erase) (.+)$";
    MOVE = r"^(?:move|reschedule|postpone|push|push back|shift|change the due date of|set the due date of|set the due date for|make) (.+?) (?:to|until|due) (.+)$";
    IS_DUE = r"^(.+?) is (?:now )?due (.+)$";
    CLEAR_DUE = r"^(?:clear|remove|drop) the due date (?:of|from|for|on) (.+)$";
    REPEAT = r"^(?:make|set) (.+?) (?:repeat|recur|recurring|repeating)(?: on)? (.+)$";
    REPEAT_TO = r"^repeat (.+?) (every!? .+)$";
    REPEATS = r"^(.+?) (?:repeats|recurs|should repeat) (.+)$";
    PRIORITY = r"^(?:make|mark|flag|set) (.+?) (?:as |to )?(urgent|important|high priority|high|medium priority|medium|low priority|low|no priority|normal|p[1-4])(?: priority)?$";
    SET_PRIORITY = r"^set (?:the )?priority (?:of|for|on) (.+?) to (.+)$";
    PRIORITIZE = r"^(?:prioritise|prioritize) (.+)$";
    RENAME = r"^(?:rename|retitle) (.+?) (?:to|as) (.+)$";
    RETITLE = r"^change the (?:title|name) of (.+?) to (.+)$";
    DESCRIBE = r"^(?:change|set|update) the (?:description|notes?|details) (?:of|for|on) (.+?) to (.+)$";
}

/// The priority a word names: p1..p4 and plain words.
fn priority(word: &str) -> Option<&'static str> {
    match word.trim() {
        "p1" | "urgent" | "important" => Some("urgent"),
        "p2" | "high" | "high priority" => Some("high"),
        "p3" | "medium" | "medium priority" => Some("medium"),
        "p4" | "low" | "low priority" => Some("low"),
        "none" | "no priority" | "normal" => Some("none"),
        _ => None,
    }
}

/// "it", "that one", "the dentist task" -> a target.
fn target(words: &str) -> Target {
    let mut w = words.trim().trim_matches('"').trim();
    if matches!(w, "it" | "that" | "this" | "that one" | "this one" | "that task" | "this task" | "the task") {
        return Target::It;
    }
    for prefix in ["the task ", "the ", "my ", "task "] {
        if let Some(rest) = w.strip_prefix(prefix) {
            w = rest;
        }
    }
    for suffix in [" task", " one", " item", " todo"] {
        if let Some(rest) = w.strip_suffix(suffix) {
            w = rest;
        }
    }
    Target::Named(w.trim_matches('"').to_string())
}

fn run(tool: &str, arguments: Value, target: Option<Target>) -> Intent {
    let arguments = match arguments {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Intent::Run { tool: tool.to_string(), arguments, target }
}

/// "on the 1st of every month" -> "every month on the 1st"; other phrases as they are.
fn recurrence_words(text: &str) -> String {
    static NTH_OF_EVERY_MONTH: LazyLock<Regex> = LazyLock::new(|| re(r"^on the (\d+(?:st|nd|rd|th)?) of every month$"));
    if let Some(c) = NTH_OF_EVERY_MONTH.captures(text) {
        return format!("every month on the {}", &c[1]);
    }
    text.to_string()
}

/// Reads `add ...` with Quick Add's grammar (the web UI's and `POST /parse`'s): the
/// title, #tags, p1..p4, recurrence, reminders and the due date. `remind` ("remind me
/// to ...") adds a reminder at the due time when none was asked for.
fn add_task(text: &str, clock: Clock, remind: bool) -> Intent {
    let read = parse_quick_add(text, clock.tz, clock.now);
    // "add #shopping tomorrow": everything but the title was understood.
    if read.title.trim().is_empty() {
        return Intent::Say(
            "What should the task be called? Say it with the rest, as in \"add buy milk tomorrow\".".into(),
        );
    }
    let task = read.task;
    let mut arguments = json!({ "title": read.title });
    if let Some(due) = task.due {
        arguments["due"] = json!(due);
        if remind && task.reminders.is_none() {
            arguments["reminders"] = json!([{ "before_due_minutes": 0 }]);
        }
    }
    if let Some(reminders) = task.reminders {
        arguments["reminders"] = json!(reminders
            .iter()
            .map(|r| match (&r.at, r.before_due_minutes) {
                (Some(at), _) => json!({ "at": at }),
                (None, minutes) => json!({ "before_due_minutes": minutes }),
            })
            .collect::<Vec<_>>());
    }
    if let Some(tags) = task.tags {
        arguments["tags"] = json!(tags);
    }
    if let Some(priority) = task.priority {
        arguments["priority"] = json!(priority);
    }
    if let Some(text) = task.recurrence.and_then(|r| r.text) {
        arguments["recurrence"] = json!(text);
    }
    run("add_task", arguments, None)
}

/// The sort key a phrase names.
fn sort_key(words: &str) -> Option<&'static str> {
    let w = words.trim();
    Some(match w {
        "due" | "due date" | "date" | "deadline" | "when they're due" => "due",
        "priority" | "importance" => "-priority",
        "title" | "name" | "alphabetically" => "title",
        "creation" | "creation date" | "date created" | "created" | "newest" => "-created",
        "oldest" => "created",
        "last update" | "last updated" | "updated" | "recently updated" => "-updated",
        _ => return None,
    })
}

/// Reads one message into intents. Matching is on lowercase text; titles and
/// descriptions keep the user's case.
pub fn interpret(message: &str, clock: Clock) -> Vec<Intent> {
    let original = message.trim().trim_end_matches(['?', '.', '!']).trim();
    let lower = original.to_ascii_lowercase();
    let l = lower.as_str();
    // Slices of the original at the same positions as a capture in `l`.
    let keep =
        |c: &regex::Captures, i: usize| c.get(i).map(|m| original[m.start()..m.end()].to_string()).unwrap_or_default();
    if l.is_empty() || GREETING.is_match(l) {
        return vec![Intent::Say(HELP.into())];
    }
    if THANKS.is_match(l) {
        return vec![Intent::Say("You're welcome!".into())];
    }
    if let Some(c) = TAG.captures(l).or_else(|| ADD_TAG.captures(l)) {
        let (tags, who) = if TAG.is_match(l) { (keep(&c, 2), keep(&c, 1)) } else { (keep(&c, 1), keep(&c, 2)) };
        let tags: Vec<String> = tags
            .split([',', ' '])
            .map(|t| t.trim().trim_start_matches('#').to_string())
            .filter(|t| !t.is_empty() && t != "and")
            .collect();
        return vec![run("add_tags", json!({ "tags": tags }), Some(target(&who.to_ascii_lowercase())))];
    }
    if let Some(c) = REMIND_BEFORE.captures(l) {
        let n: i64 = c[2].parse().unwrap_or(0);
        let minutes = match &c[3] {
            u if u.starts_with('h') => n * 60,
            u if u.starts_with('d') => n * 1440,
            _ => n,
        };
        return vec![run("schedule_reminder", json!({ "before_due_minutes": minutes }), Some(target(&c[1])))];
    }
    if let Some(c) = REMIND_AT.captures(l) {
        if parse_due(&c[2], clock.tz, clock.now).is_ok() {
            return vec![run("schedule_reminder", json!({ "at": &c[2] }), Some(target(&c[1])))];
        }
    }
    if let Some(c) = REMIND_TO.captures(l) {
        return vec![add_task(&keep(&c, 1), clock, true)];
    }
    if let Some(c) = REPEAT_TO.captures(l).or_else(|| REPEAT.captures(l)).or_else(|| REPEATS.captures(l)) {
        let phrase = recurrence_words(&c[2]);
        if parse_recurrence_text(&phrase).is_ok() {
            return vec![run("create_recurring", json!({ "recurrence": phrase }), Some(target(&c[1])))];
        }
    }
    if let Some(c) = ADD.captures(l) {
        return vec![add_task(&keep(&c, 1), clock, false)];
    }
    if LIST_DONE.is_match(l) {
        return vec![run("list_tasks", json!({ "status": "done" }), None)];
    }
    if LIST.is_match(l) {
        return vec![run("list_tasks", json!({}), None)];
    }
    if let Some(c) = DUE_WHEN.captures(l) {
        let when = c.get(1).or_else(|| c.get(2)).map(|m| m.as_str()).unwrap_or("today");
        let filter = match when {
            "today" => "today",
            "tomorrow" => "tomorrow",
            "next week" => "due after: in 7 days & due before: in 14 days",
            _ => "7 days",
        };
        return vec![run("filter_tasks", json!({ "filter": filter }), None)];
    }
    if OVERDUE.is_match(l) {
        return vec![run("filter_tasks", json!({ "filter": "overdue" }), None)];
    }
    if NO_DATE.is_match(l) {
        return vec![run("filter_tasks", json!({ "filter": "no date" }), None)];
    }
    if let Some(c) = TAGGED.captures(l) {
        return vec![run("filter_tasks", json!({ "filter": format!("@{}", &c[1]) }), None)];
    }
    if let Some(c) = PRIORITY_VIEW.captures(l) {
        let filter = match &c[1] {
            "urgent" | "important" => "p1",
            "high priority" => "p2",
            "medium priority" => "p3",
            _ => "p4",
        };
        return vec![match c.get(2).and_then(|m| sort_key(m.as_str())) {
            Some(sort) => run("sort_tasks", json!({ "sort": sort, "filter": filter }), None),
            None => run("filter_tasks", json!({ "filter": filter }), None),
        }];
    }
    if let Some(c) = SORTED.captures(l) {
        if let Some(sort) = sort_key(&c[2]) {
            let mut arguments = json!({ "sort": sort });
            if let Some(tag) = c.get(1) {
                arguments["filter"] = json!(format!("@{}", tag.as_str()));
            }
            return vec![run("sort_tasks", arguments, None)];
        }
    }
    if let Some(c) = SEARCH.captures(l) {
        return vec![run("search_tasks", json!({ "query": keep(&c, 1) }), None)];
    }
    if let Some(c) = CLEAR_DUE.captures(l) {
        return vec![run("set_due_date", json!({ "due": null }), Some(target(&c[1])))];
    }
    if let Some(c) = SET_PRIORITY.captures(l) {
        if let Some(p) = priority(&c[2]) {
            return vec![run("set_priority", json!({ "priority": p }), Some(target(&c[1])))];
        }
    }
    if let Some(c) = PRIORITY.captures(l).filter(|c| !c[1].ends_with(" repeat")) {
        if let Some(p) = priority(&c[2]) {
            return vec![run("set_priority", json!({ "priority": p }), Some(target(&c[1])))];
        }
    }
    if let Some(c) = PRIORITIZE.captures(l) {
        return vec![run("set_priority", json!({ "priority": "high" }), Some(target(&c[1])))];
    }
    if let Some(c) = COMPLETE_AS.captures(l).or_else(|| COMPLETE.captures(l)) {
        return vec![run("complete_task", json!({}), Some(target(&c[1])))];
    }
    if let Some(c) = DELETE.captures(l) {
        return vec![run("delete_task", json!({}), Some(target(&c[1])))];
    }
    if let Some(c) = RENAME.captures(l).or_else(|| RETITLE.captures(l)) {
        return vec![run("update_task", json!({ "title": keep(&c, 2) }), Some(target(&c[1])))];
    }
    if let Some(c) = DESCRIBE.captures(l) {
        return vec![run("update_task", json!({ "description": keep(&c, 2) }), Some(target(&c[1])))];
    }
    if let Some(c) = MOVE.captures(l).or_else(|| IS_DUE.captures(l)) {
        if parse_due(&c[2], clock.tz, clock.now).is_ok() {
            return vec![run("set_due_date", json!({ "due": &c[2] }), Some(target(&c[1])))];
        }
    }
    vec![Intent::Say(format!("Sorry, I didn't understand \"{original}\". {HELP}"))]
}

/// "the first", "2", "the last one" or a title among `candidates`: which one the user means.
pub fn pick(message: &str, candidates: &[String]) -> Option<usize> {
    let l = message.trim().trim_end_matches(['?', '.', '!']).to_ascii_lowercase();
    let l = l.trim_start_matches("the ").trim_end_matches(" one");
    let index = match l {
        "first" | "1" | "1st" | "one" => Some(0),
        "second" | "2" | "2nd" | "two" => Some(1),
        "third" | "3" | "3rd" | "three" => Some(2),
        "fourth" | "4" | "4th" | "four" => Some(3),
        "last" => candidates.len().checked_sub(1),
        _ => None,
    };
    if let Some(i) = index.filter(|i| *i < candidates.len()) {
        return Some(i);
    }
    let exact = candidates.iter().position(|c| c.to_ascii_lowercase() == l);
    exact.or_else(|| {
        let matching: Vec<usize> =
            candidates.iter().enumerate().filter(|(_, c)| c.to_ascii_lowercase().contains(l)).map(|(i, _)| i).collect();
        (matching.len() == 1).then(|| matching[0])
    })
}
