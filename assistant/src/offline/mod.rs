//! The offline assistant: a deterministic English interpreter for the tools. A message
//! is split into clauses ("add milk and make it urgent"); each is read by structure,
//! not matched whole against a list of sentences: small talk and undo, then questions
//! and views ([`questions`]), then changes recognised by their verbs and synonyms
//! anywhere in the clause ([`actions`]), with the rest read by Quick Add's grammar.
//! What names no action but reads as something to do becomes a new task, as Todoist's
//! Quick Add does. [`crate::Assistant`] resolves the tasks the intents name.

mod actions;
mod questions;
mod text;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use errand_domain::parse_quick_add;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use text::Clause;

/// Which task a request is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// "it", "that": the task last mentioned.
    It,
    /// Words of an open task's title.
    Named(String),
    /// Words of a done task's title (to reopen it).
    Done(String),
    /// "the second one": a task of the last list shown (0-based).
    Ordinal(usize),
}

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Intent {
    /// Call `tool` with `arguments`, plus the task of `target` when there is one.
    Run { tool: String, arguments: Map<String, Value>, target: Option<Target> },
    /// Take back the last completion.
    Undo,
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

/// Words that only soften a request: "please", "can you", "hey".
const POLITE: &[&str] = &[
    "please",
    "pls",
    "plz",
    "kindly",
    "hey",
    "hey errand",
    "hi errand",
    "errand",
    "ok",
    "okay",
    "ok so",
    "so",
    "also",
    "and",
    "then",
    "and then",
    "now",
    "can you",
    "could you",
    "would you",
    "will you",
    "can u",
    "could u",
    "would you mind",
    "i want you to",
    "i'd like you to",
    "i would like you to",
    "go ahead and",
    "just",
    "would you please",
    "can you please",
    "could you please",
    "oh",
    "um",
    "uh",
    "alright",
    "right",
    "yo",
    "quick one",
    "quickly",
    "you can",
    "you may",
    "feel free to",
    "go on and",
];
const POLITE_ENDS: &[&str] = &[
    "please",
    "pls",
    "for me",
    "thanks",
    "thank you",
    "thx",
    "if you can",
    "if possible",
    "will you",
    "ok",
    "okay",
    "cheers",
];

/// Words that introduce something to do: what follows is a new task.
const FILLERS: &[&str] = &[
    "i need to",
    "i have to",
    "i've got to",
    "ive got to",
    "i got to",
    "i gotta",
    "gotta",
    "i must",
    "i should",
    "i ought to",
    "need to",
    "have to",
    "remember to",
    "don't forget to",
    "dont forget to",
    "do not forget to",
    "i want to remember to",
    "note to self",
    "todo",
    "to do",
    "i still need to",
    "we need to",
    "i'll need to",
    "i will need to",
    "make sure to",
    "make sure i",
    "i must remember to",
    "must",
    "i'd better",
    "i better",
    "i really need to",
    "i also need to",
    "i should probably",
    "i have got to",
    "reminder to",
    "remember",
];

/// Words that start a task explicitly.
const ADD_VERBS: &[&str] = &[
    "add a task to",
    "add a task",
    "add task",
    "add a new task",
    "add new task",
    "add a todo",
    "add todo",
    "add a reminder to",
    "add",
    "create a task to",
    "create a task",
    "create task",
    "create a new task",
    "create",
    "new task",
    "new todo",
    "new to-do",
    "new",
    "put",
    "make a task to",
    "make a task",
    "make a new task",
    "make a note to",
    "jot down",
    "note down",
    "write down",
    "i want to add",
    "i'd like to add",
    "stick",
    "log",
];
const ADD_ENDS: &[&str] = &[
    "to my list",
    "on my list",
    "to the list",
    "on the list",
    "to my todo list",
    "to my to-do list",
    "to my tasks",
    "to my todos",
    "on my todo list",
    "as a task",
    "as a todo",
    "to the todo list",
];

pub(crate) const HELP: &str = "I can add tasks (\"buy milk tomorrow at 5pm #shopping p1\"), show them \
    (\"what's my week look like?\", \"how many tasks are overdue?\", \"find tasks about invoices\"), complete, \
    reschedule, tag, prioritise, remind you (\"remind me 30 minutes before\"), make tasks repeat (\"make pay rent \
    repeat every month on the 1st\"), work on many at once (\"complete everything tagged work\") and delete \
    tasks once you confirm.";

/// The reply to small talk, or `None` when the clause is not small talk.
fn small_talk(c: &Clause) -> Option<&'static str> {
    let l = c.low.trim_end_matches(|ch: char| !ch.is_alphanumeric());
    let greetings = [
        "hi",
        "hello",
        "hey",
        "hey there",
        "hi there",
        "hello there",
        "yo",
        "hiya",
        "howdy",
        "good morning",
        "good afternoon",
        "good evening",
        "morning",
        "evening",
        "help",
        "what can you do",
        "what do you do",
        "how does this work",
        "how do i use this",
        "what are you",
        "who are you",
        "what's your name",
        "what is your name",
        "are you a bot",
        "are you a robot",
        "are you human",
        "are you real",
        "sup",
        "what's up",
        "whats up",
        "hey errand",
        "hi errand",
        "hello errand",
        "start",
        "menu",
        "commands",
        "options",
        "help me",
        "can you help me",
        "can you help",
        "i need help",
        "what can i say",
        "what can i ask",
        "how can you help",
    ];
    if greetings.contains(&l) {
        return Some(HELP);
    }
    // "cool cool", "lol nice", "ok thanks bye": nothing but acknowledgements.
    let acknowledgements = [
        "cool",
        "nice",
        "lol",
        "ok",
        "okay",
        "great",
        "thanks",
        "thank",
        "you",
        "haha",
        "wow",
        "awesome",
        "perfect",
        "sweet",
        "yes",
        "no",
        "yep",
        "nope",
        "sure",
        "fine",
        "good",
        "right",
        "alright",
        "k",
        "kk",
        "lovely",
        "brilliant",
        "excellent",
        "amazing",
        "neat",
        "gotcha",
        "ty",
        "thx",
        "cheers",
        "noted",
        "hmm",
        "hm",
        "ah",
        "oh",
        "bye",
        "goodbye",
        "later",
        "night",
        "yay",
        "woo",
        "omg",
        "meh",
        "ugh",
        "sorry",
        "oops",
        "much",
        "so",
        "very",
        "a",
        "lot",
        "that's",
        "thats",
        "it",
        "all",
        "for",
        "now",
        "great",
        "super",
        "fab",
        "ace",
        "nah",
        "yup",
        "indeed",
        "agreed",
        "exactly",
        "true",
        "done",
        "got",
        "gotcha",
        "see",
        "ya",
        "cya",
        "lmao",
        "rofl",
        "heh",
    ];
    let words = c.words();
    if !words.is_empty()
        && words.iter().all(|w| acknowledgements.contains(&w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')))
    {
        return Some("You're welcome!");
    }
    if c.after(&[
        "that's all",
        "thats all",
        "that is all",
        "that's it",
        "thats it",
        "nothing else",
        "wrong window",
        "wrong chat",
        "wrong person",
        "wrong app",
        "ignore that",
        "ignore me",
        "ignore this",
        "never mind",
        "nevermind",
        "sorry wrong",
        "oops wrong",
        "not you",
        "that was for someone else",
        "just testing",
        "testing",
        "test",
    ])
    .is_some()
        && !c.has(&["task", "tasks", "due", "add"])
    {
        return Some("No problem. I'm here when you need me.");
    }
    let thanks = [
        "thanks",
        "thank you",
        "thank you so much",
        "thanks a lot",
        "thx",
        "ty",
        "cheers",
        "great",
        "ok",
        "okay",
        "cool",
        "nice",
        "perfect",
        "awesome",
        "got it",
        "sounds good",
        "great thanks",
        "ok thanks",
        "okay thanks",
        "thanks errand",
        "brilliant",
        "lovely",
        "sweet",
        "k",
        "kk",
        "yes",
        "yep",
        "yeah",
        "no",
        "nope",
        "sure",
        "fine",
        "alright",
        "all right",
        "good",
        "good job",
        "well done",
        "nice one",
        "great job",
        "amazing",
        "wonderful",
        "excellent",
        "ok cool",
        "cool thanks",
        "thanks so much",
        "much appreciated",
        "appreciate it",
        "noted",
        "understood",
        "right",
        "hmm",
        "hm",
        "huh",
        "oh",
        "ah",
        "lol",
        "haha",
        "hahaha",
        "ha",
        "wow",
        "oops",
        "ok great",
        "great stuff",
        "that's great",
        "thats great",
        "that's all",
        "that is all",
        "nothing",
        "never mind",
        "nevermind",
        "nvm",
        "forget it",
        "bye",
        "goodbye",
        "good night",
        "goodnight",
        "see you",
        "see ya",
        "later",
        "cya",
        "that's it",
        "thats it",
        "done for today",
        "i'm done",
        "im done",
        "all good",
        "no thanks",
        "no thank you",
        "nothing else",
        "not now",
        "maybe later",
        "ok bye",
        "thanks bye",
        "love it",
        "love you",
        "i love you",
        "you're great",
        "you are great",
        "you're awesome",
        "you rock",
        "good bot",
        "bad bot",
        "you're the best",
    ];
    if thanks.contains(&l) || l.starts_with("thank") {
        return Some("You're welcome!");
    }
    let chat = [
        "how are you",
        "how are you doing",
        "how's it going",
        "hows it going",
        "how do you do",
        "what's new",
        "how are things",
        "how's your day",
        "how is your day",
        "you ok",
        "are you ok",
    ];
    if chat.contains(&l) {
        return Some("I'm well, thanks! Tell me what you'd like to get done.");
    }
    let first = words.first().copied().unwrap_or("");
    let about_tasks = c
        .after(&[
            "tell me about",
            "tell me more about",
            "tell me when",
            "tell me what",
            "tell me how many",
            "tell me which",
        ])
        .is_some()
        && !c.has(&["joke", "yourself", "you", "weather"]);
    let offtopic = !about_tasks
        && matches!(
            first,
            "tell" | "sing" | "say" | "entertain" | "teach" | "talk" | "recite" | "write" | "play" | "translate"
        )
        && words
            .get(1)
            .is_some_and(|w| matches!(*w, "me" | "us" | "a" | "something" | "to" | "hello" | "hi" | "some" | "the"))
        && !c.has(&["about my", "my tasks", "task", "tasks", "how many", "what's due", "due", "overdue", "remind"]);
    let weather = c.has(&[
        "weather",
        "joke",
        "jokes",
        "meaning of life",
        "capital of",
        "who won",
        "score",
        "stock price",
        "news",
        "your favorite",
        "your favourite",
        "do you like",
        "are you",
        "you think",
        "horoscope",
        "recipe for",
        "time is it",
        "what day is it",
        "what's the date",
        "what is the date",
        "what's today's date",
        "what time",
        "how old are you",
        "where are you",
        "who made you",
        "who built you",
        "what's 2",
        "what is 2",
        "knock knock",
        "riddle",
        "poem",
        "song",
        "story",
    ]) && !c.has(&["task", "tasks", "due", "remind", "add", "todo"]);
    if offtopic || weather {
        return Some("I can only help with your tasks, but that I'm glad to do. What would you like to get done?");
    }
    // "I'm bored", "I am back": about the person, not a task.
    if matches!(first, "i'm" | "im" | "i" | "i've")
        && words.len() <= 3
        && (first != "i" || words.get(1) == Some(&"am"))
        && !c.has(&["done", "finished", "not"])
    {
        return Some("I'm here whenever you want to get something done.");
    }
    if gibberish(&words) {
        return Some("Sorry, I didn't catch that. Try \"add buy milk tomorrow\" or \"what's due today?\".");
    }
    None
}

/// A short run of letters that is no word: "asdfgh", "qwerty", "zzzz".
fn gibberish(words: &[&str]) -> bool {
    if words.len() > 4 || words.is_empty() {
        return false;
    }
    words.iter().all(|w| {
        let letters: Vec<char> = w.chars().filter(|c| c.is_alphabetic()).collect();
        let vowels = letters.iter().filter(|c| "aeiouy".contains(**c)).count();
        let run = letters.iter().fold((0, 0), |(run, best), c| {
            let run = if "aeiouy".contains(*c) { 0 } else { run + 1 };
            (run, best.max(run))
        });
        let keyboard = ["asdf", "qwer", "zxcv", "hjkl", "sdfg", "dfgh", "wert", "uiop", "jkl;", "xcvb"];
        letters.len() >= 3
            && (vowels == 0
                || run.1 >= 5
                || keyboard.iter().any(|k| w.contains(k))
                || letters.windows(3).all(|t| t[0] == t[1] && t[1] == t[2]))
    })
}

/// "it", "that one", "the second one", "the dentist task" -> a target.
pub(crate) fn target(words: &Clause) -> Target {
    let w = words.strip_ends(&["please", "for me", "too", "as well"]);
    let w = w.low.trim_matches('"').trim();
    if matches!(
        w,
        "it" | "that"
            | "this"
            | "that one"
            | "this one"
            | "that task"
            | "this task"
            | "the task"
            | "them"
            | "the one i just added"
            | "the one i just made"
            | "the new one"
            | "the new task"
            | "the last task"
            | "the one i added"
            | "that too"
            | "it too"
            | "its"
            | "it's"
            | "the last one i added"
            | "that last one"
            | "the task i just added"
            | "the same one"
            | "the same task"
            | "the same"
    ) {
        return Target::It;
    }
    let ordinal = w
        .trim_start_matches("the ")
        .trim_end_matches(" one")
        .trim_end_matches(" task")
        .trim_start_matches("task ")
        .trim_start_matches("number ")
        .trim_start_matches("#");
    if let Some(i) = ordinal_index(ordinal) {
        return Target::Ordinal(i);
    }
    let mut clause = words.strip_starts(&[
        "the task called",
        "the task named",
        "the one called",
        "the task",
        "the",
        "my",
        "task",
        "to-do",
        "todo",
        "a",
        "one",
    ]);
    clause = clause.strip_ends(&["task", "one", "item", "todo", "to-do", "thing", "reminder", "entry", "tasks"]);
    Target::Named(clause.orig.trim_matches('"').trim().to_string())
}

fn ordinal_index(word: &str) -> Option<usize> {
    Some(match word {
        "first" | "1st" | "1" => 0,
        "second" | "2nd" | "2" => 1,
        "third" | "3rd" | "3" => 2,
        "fourth" | "4th" | "4" => 3,
        "fifth" | "5th" | "5" => 4,
        _ => return None,
    })
}

pub(crate) fn run(tool: &str, arguments: Value, target: Option<Target>) -> Intent {
    let arguments = match arguments {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Intent::Run { tool: tool.to_string(), arguments, target }
}

/// A new task read with Quick Add's grammar (the web UI's and `POST /parse`'s): the
/// title, #tags, priorities, recurrence, reminders and the due date. `remind` ("remind
/// me to ...") adds a reminder at the due time when a time was given and none was asked for.
pub(crate) fn add_task(text: &str, clock: Clock, remind: bool) -> Intent {
    let text = Clause::new(text).strip_ends(ADD_ENDS).strip_ends(POLITE_ENDS);
    let read = parse_quick_add(&text.orig, clock.tz, clock.now);
    // "add #shopping tomorrow": everything but the title was understood.
    let mut ends: Vec<&str> = ADD_ENDS.to_vec();
    ends.extend(["and", "to", "on", "at", "for", "by"]);
    let title = Clause::new(&read.title).strip_ends(&ends);
    if title.is_empty() {
        return Intent::Say(
            "What should the task be called? Say it with the rest, as in \"add buy milk tomorrow\".".into(),
        );
    }
    let mut arguments = task_fields(&read.task);
    arguments.insert("title".into(), json!(title.orig));
    let timed = read.task.due.as_deref().and_then(|due| errand_domain::parse_due(due, clock.tz, clock.now).ok());
    if remind && timed.is_some_and(|d| !d.all_day) && read.task.reminders.is_none() {
        arguments.insert("reminders".into(), json!([{ "before_due_minutes": 0 }]));
    }
    Intent::Run { tool: "add_task".into(), arguments, target: None }
}

/// The `add_task` fields of what Quick Add read (all but the title).
pub(crate) fn task_fields(task: &errand_domain::NewTask) -> Map<String, Value> {
    let mut fields = Map::new();
    if let Some(due) = &task.due {
        fields.insert("due".into(), json!(due));
    }
    if let Some(reminders) = &task.reminders {
        let list: Vec<Value> = reminders
            .iter()
            .map(|r| match (&r.at, r.before_due_minutes) {
                (Some(at), _) => json!({ "at": at }),
                (None, minutes) => json!({ "before_due_minutes": minutes }),
            })
            .collect();
        fields.insert("reminders".into(), json!(list));
    }
    if let Some(tags) = &task.tags {
        fields.insert("tags".into(), json!(tags));
    }
    if let Some(priority) = task.priority {
        fields.insert("priority".into(), json!(priority));
    }
    if let Some(text) = task.recurrence.as_ref().and_then(|r| r.text.clone()) {
        fields.insert("recurrence".into(), json!(text));
    }
    fields
}

/// Clause boundaries: "and", "then", ";" — only where what follows starts a request of
/// its own ("buy bread and milk" stays one task).
fn clauses(message: &str) -> Vec<Clause> {
    let whole = Clause::new(message);
    let mut out = Vec::new();
    let mut rest = whole.clone();
    'outer: loop {
        let separators = [
            ", and then ",
            " and then ",
            ", then ",
            " then ",
            "; ",
            ". ",
            ", and ",
            " and ",
            " & ",
            ", also ",
            " also ",
            ", ",
        ];
        let mut from = 0;
        while from < rest.low.len() {
            let next = separators
                .iter()
                .filter_map(|sep| rest.low[from..].find(sep).map(|i| (from + i, *sep)))
                .min_by_key(|(i, sep)| (*i, std::cmp::Reverse(sep.len())));
            let Some((at, sep)) = next else { break };
            let head = rest.cut(0, at);
            let tail = rest.cut(at + sep.len(), rest.orig.len());
            let correction_only = head.words().iter().all(|w| {
                matches!(
                    *w,
                    "no" | "nope"
                        | "actually"
                        | "sorry"
                        | "oops"
                        | "wait"
                        | "hmm"
                        | "ok"
                        | "okay"
                        | "so"
                        | "oh"
                        | "well"
                        | "right"
                )
            });
            if (starts_request(&tail) || starts_question(&tail)) && !head.is_empty() && !correction_only {
                out.push(head);
                rest = tail;
                continue 'outer;
            }
            from = at + sep.len();
        }
        out.push(rest);
        break;
    }
    out.into_iter().filter(|c| !c.is_empty()).collect()
}

/// Whether a clause is a question of its own: "..., then what's left for today?".
fn starts_question(c: &Clause) -> bool {
    let c = c.strip_starts(POLITE);
    let first = c.words().first().copied().unwrap_or("");
    matches!(
        first,
        "what"
            | "what's"
            | "whats"
            | "how"
            | "which"
            | "when"
            | "when's"
            | "is"
            | "are"
            | "do"
            | "does"
            | "any"
            | "anything"
    )
}

/// Whether a clause begins a request of its own: an action verb, "it", "remind me".
fn starts_request(c: &Clause) -> bool {
    let c = c.strip_starts(POLITE);
    let first = c.words().first().copied().unwrap_or("");
    let verbs = [
        "make",
        "set",
        "mark",
        "tag",
        "label",
        "remind",
        "ping",
        "alert",
        "notify",
        "move",
        "push",
        "postpone",
        "reschedule",
        "delete",
        "remove",
        "complete",
        "finish",
        "rename",
        "call",
        "repeat",
        "prioritise",
        "prioritize",
        "flag",
        "add",
        "create",
        "schedule",
        "change",
        "show",
        "list",
        "tell",
        "give",
        "put",
        "tick",
        "check",
        "cross",
        "bump",
        "snooze",
        "reopen",
        "stop",
        "drop",
        "trash",
        "clear",
        "have",
        "let",
    ];
    if !verbs.contains(&first) {
        return false;
    }
    // "call mom": a verb of a task; "call it X" renames.
    if first == "call" {
        return c.has(&["call it", "call that"]);
    }
    if matches!(first, "have" | "let" | "check" | "give" | "show" | "tell" | "list" | "put" | "schedule") {
        return c.has(&["it", "me", "that"]);
    }
    true
}

/// Reads one message into intents, one per request it makes. Matching is on lowercase
/// text; titles and descriptions keep the user's case.
pub fn interpret(message: &str, clock: Clock) -> Vec<Intent> {
    let message = text::normalise(message);
    let asked = message.trim_end().ends_with('?');
    let whole = Clause::new(&message);
    if whole.is_empty() {
        return vec![Intent::Say(HELP.into())];
    }
    let plain = whole.strip_ends(&["errand"]);
    if let Some(reply) = small_talk(&plain)
        .or_else(|| small_talk(&plain.strip_starts(&["oh", "well", "hey", "ok", "okay", "sorry", "oops"])))
    {
        return vec![Intent::Say(reply.into())];
    }
    let parts = clauses(&message);
    let last = parts.len().saturating_sub(1);
    let mut read: Vec<(Intent, bool)> =
        parts.iter().enumerate().map(|(i, clause)| read_clause(clause, clock, asked && i == last, &whole)).collect();
    // "rent is paid, mark it done", "I called mom, you can tick that off": a statement
    // then a request about "it" is one request about what the statement named.
    let mut i = 0;
    while i + 1 < read.len() {
        if let Intent::Run { tool, target: Some(Target::It), .. } = &read[i + 1].0 {
            let (head, guessed) = &read[i];
            let same_request =
                matches!(&head, Intent::Run { tool: t, target: Some(Target::Named(_)), .. } if t == tool);
            if same_request {
                read.remove(i + 1);
                continue;
            }
            if *guessed {
                if let Some(subject) = statement_subject(&parts[i]) {
                    if let Intent::Run { target, .. } = &mut read[i + 1].0 {
                        *target = Some(Target::Named(subject));
                    }
                    read.remove(i);
                    continue;
                }
            }
        }
        i += 1;
    }
    read.into_iter().map(|(intent, _)| intent).collect()
}

/// What a statement is about: "rent is paid" -> "rent", "I called mom" -> "call mom".
fn statement_subject(c: &Clause) -> Option<String> {
    let c = c.strip_starts(POLITE);
    if let Some((subject, _, _)) = c.split(&["is", "are", "was", "has been", "got"]) {
        if !subject.is_empty() {
            return match target(&subject) {
                Target::Named(words) => Some(words),
                _ => None,
            };
        }
    }
    let rest = c.after(&["i", "i've", "i have", "i just", "just"])?;
    let words = rest.words();
    let verb = words.first()?;
    let stem = stem(verb);
    (stem != *verb).then(|| {
        format!("{stem} {}", rest.cut(verb.len().min(rest.orig.len()), rest.orig.len()).orig).trim().to_string()
    })
}

/// A word without its ending: "calling" -> "call", "watered" -> "water", "getting" -> "get".
pub fn stem(word: &str) -> String {
    for (suffix, min) in [("ing", 5), ("ed", 4), ("es", 5), ("s", 4)] {
        if let Some(base) = word.strip_suffix(suffix).filter(|_| word.len() >= min) {
            let bytes = base.as_bytes();
            // "getting" -> "get", but "calling" -> "call".
            if bytes.len() >= 3
                && bytes[bytes.len() - 1] == bytes[bytes.len() - 2]
                && !matches!(bytes[bytes.len() - 1], b'l' | b's' | b'z' | b'f')
            {
                return base[..base.len() - 1].to_string();
            }
            if suffix == "es" && !base.ends_with(['s', 'x', 'z', 'h']) {
                continue;
            }
            return base.to_string();
        }
    }
    word.to_string()
}

/// Reads a clause into an intent; the flag is true when the clause named no request
/// and was taken as a new task.
fn read_clause(clause: &Clause, clock: Clock, asked: bool, whole: &Clause) -> (Intent, bool) {
    let said = |text: String| (Intent::Say(text), false);
    let c = clause.strip_starts(POLITE).strip_ends(POLITE_ENDS);
    if c.is_empty() {
        return said(HELP.into());
    }
    if let Some(reply) = small_talk(&c) {
        return said(reply.into());
    }
    let undo_words =
        c.strip_starts(&["oops", "wait", "whoops", "no", "actually", "hmm", "sorry", "ah", "argh", "ugh", "please"]);
    if undo_words
        .after(&[
            "undo",
            "undo that",
            "undo it",
            "revert",
            "revert that",
            "take that back",
            "oops undo",
            "undo the last one",
            "undo last",
            "undo the last action",
            "reverse that",
        ])
        .is_some_and(|rest| rest.is_empty() || matches!(rest.low.as_str(), "please" | "one" | "change" | "action"))
    {
        return (Intent::Undo, false);
    }
    // "actually, make it 4pm", "no, friday", "i meant friday": a correction.
    let corrections = [
        "no",
        "nope",
        "actually",
        "sorry",
        "oops",
        "wait",
        "i meant",
        "i mean",
        "no i meant",
        "no i mean",
        "rather",
        "correction",
        "scratch that",
        "hmm",
        "whoops",
        "my bad",
        "oh",
    ];
    let corrected = c.after(&corrections);
    let c = match &corrected {
        Some(rest) => {
            let rest = rest.strip_starts(&corrections);
            // "no, make it friday": the request after the correction words, or its value alone.
            match rest.after(&[
                "it's",
                "its",
                "it is",
                "it should be",
                "make that",
                "change that to",
                "it was",
                "that's",
                "that should be",
                "do",
                "i said",
                "let's say",
                "lets say",
                "how about",
                "say",
            ]) {
                Some(value) if !value.is_empty() => value,
                _ => rest,
            }
        }
        None => c,
    };
    if let Some(intent) = questions::read(&c, asked) {
        return (intent, false);
    }
    // A question names no change ("what's due tomorrow for work?").
    let first = c.words().first().copied().unwrap_or("");
    let question = matches!(
        first,
        "what" | "what's" | "whats" | "which" | "when" | "when's" | "how" | "why" | "where" | "who" | "does" | "did"
    );
    if !question {
        if let Some(intent) = actions::read(&c, clock) {
            return (intent, false);
        }
    }
    if corrected.is_some() {
        if let Some(p) = actions::priority(&c.low) {
            return (run("set_priority", json!({ "priority": p }), Some(Target::It)), false);
        }
        if errand_domain::parse_due(&c.orig, clock.tz, clock.now).is_ok() {
            return (run("set_due_date", json!({ "due": c.orig }), Some(Target::It)), false);
        }
    }
    // "I want to move the dentist": read the rest again.
    if let Some(rest) = c.after(&[
        "i want to",
        "i'd like to",
        "i would like to",
        "i wanna",
        "let's",
        "lets",
        "let me",
        "help me",
        "i'm going to",
        "im going to",
        "i will",
        "i'll",
        "we should",
    ]) {
        if let Some(intent) = questions::read(&rest, asked).or_else(|| actions::read(&rest, clock)) {
            return (intent, false);
        }
    }
    if let Some(rest) = c.after(FILLERS) {
        return (add_task(&rest.orig, clock, false), false);
    }
    if let Some(rest) = c.after(ADD_VERBS) {
        return (add_task(&rest.orig, clock, false), false);
    }
    if reads_as_a_todo(&c, asked) {
        return (add_task(&c.orig, clock, false), true);
    }
    said(format!("Sorry, I didn't understand \"{}\". {HELP}", whole.orig))
}

/// Whether a clause that names no action reads as something to do: not a question, not
/// about the assistant, some words.
fn reads_as_a_todo(c: &Clause, asked: bool) -> bool {
    let words = c.words();
    let first = words.first().copied().unwrap_or("");
    let question_words = [
        "what", "what's", "whats", "which", "when", "when's", "where", "who", "why", "how", "is", "are", "do", "does",
        "did", "can", "could", "would", "will", "should", "have", "has", "any", "was", "were", "am", "isn't", "aren't",
    ];
    let views = ["show", "list", "display", "find", "search", "count", "sort"];
    !asked
        && !question_words.contains(&first)
        && !views.contains(&first)
        && words.iter().any(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        && !c.has(&["you", "your", "you're"])
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
