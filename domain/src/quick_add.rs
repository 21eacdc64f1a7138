//! Quick Add: one line of text ("buy milk tomorrow 5pm #shopping p1 every monday
//! remind me 30 min before") read into a task, with the parts that were understood
//! as spans so that a UI can highlight them in place. The same grammar serves the
//! API (`POST /api/v1/parse`), the web UI and the assistant.
//!
//! What is read: `#tags`; priorities `p1`..`p4` and `!!1`..`!!4`; reminders ("remind
//! me 30 min before", "remind me at 9am", "remind me tomorrow 8am"); recurrence
//! words ("every other monday at 9am", "weekdays"); a due date in words ("next
//! friday 9:30", "tomorrow", "in 3 days", "dec 1 at noon"). Text in double quotes
//! is never read: it stays title, without the quotes, so quoting a part is how a
//! person (or a UI chip) turns it back into plain title text.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::due::parse_due;
use crate::recurrence::{Recurrence, RecurrenceInput};
use crate::recurrence_text::{DAYS, MONTHS};
use crate::reminder::ReminderInput;
use crate::task::NewTask;
use crate::Priority;

/// Longest Quick Add text, in characters.
pub const MAX_QUICK_ADD_CHARS: usize = 1000;

/// What a span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    /// The due date.
    Date,
    /// A tag.
    Tag,
    /// The priority.
    Priority,
    /// The recurrence.
    Recurrence,
    /// A reminder.
    Reminder,
}

/// A part of the text that was understood.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Span {
    /// Start, in UTF-16 code units (a JavaScript string index).
    pub start: usize,
    /// End (exclusive), in UTF-16 code units.
    pub end: usize,
    /// What it is.
    pub kind: SpanKind,
    /// The text of the span.
    pub text: String,
    /// What it means: the instant and all-day flag of a date, a tag's name, a
    /// priority's name, a recurrence's rule and normalised words, a reminder's
    /// `before_due_minutes` or `at`.
    #[schema(value_type = Object)]
    pub value: Value,
}

/// A line of text read as a task.
#[derive(Debug, Clone, PartialEq)]
pub struct QuickAdd {
    /// The title: the words not understood as anything else.
    pub title: String,
    /// The parts understood, in text order.
    pub spans: Vec<Span>,
    /// The task to create.
    pub task: NewTask,
}

/// One word (or one quoted run) of the text, with its byte range.
#[derive(Debug, Clone)]
struct Token<'a> {
    text: &'a str,
    start: usize,
    end: usize,
    /// Inside double quotes: never read, kept as title text (without the quotes).
    quoted: bool,
}

impl Token<'_> {
    fn lower(&self) -> String {
        self.text.to_lowercase()
    }

    /// The word without punctuation that ends a clause (`friday,` -> `friday`).
    fn bare(&self) -> &str {
        self.text.trim_end_matches([',', '.', ';', '!', '?'])
    }
}

fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if matches!(c, '"' | '“' | '”') {
            chars.next();
            let inner_start = start + c.len_utf8();
            let mut end = text.len();
            let mut inner_end = text.len();
            for (i, c) in chars.by_ref() {
                if matches!(c, '"' | '“' | '”') {
                    inner_end = i;
                    end = i + c.len_utf8();
                    break;
                }
            }
            out.push(Token { text: &text[inner_start..inner_end], start, end, quoted: true });
            continue;
        }
        let mut end = text.len();
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() || matches!(c, '"' | '“' | '”') {
                end = i;
                break;
            }
            chars.next();
        }
        out.push(Token { text: &text[start..end], start, end, quoted: false });
    }
    out
}

fn priority_mark(word: &str) -> Option<Priority> {
    match word.to_ascii_lowercase().as_str() {
        "p1" | "!!1" => Some(Priority::Urgent),
        "p2" | "!!2" => Some(Priority::High),
        "p3" | "!!3" => Some(Priority::Medium),
        "p4" | "!!4" => Some(Priority::Low),
        _ => None,
    }
}

/// A weekday's name or abbreviation ("fri", "thurs"); "sun" and "sat" are English
/// words first.
fn is_weekday(word: &str) -> bool {
    let word = word.strip_suffix('s').filter(|w| DAYS.iter().any(|(d, _)| d == w)).unwrap_or(word);
    word.len() >= 3 && !matches!(word, "sun" | "sat") && DAYS.iter().any(|(d, _)| d.starts_with(word))
}

fn is_month(word: &str) -> bool {
    word.len() >= 3 && MONTHS.iter().any(|m| m.starts_with(word))
}

fn is_day_number(word: &str) -> bool {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    !digits.is_empty() && digits.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
}

fn is_clock(word: &str) -> bool {
    let (clock, meridiem) = match word.strip_suffix("am").or_else(|| word.strip_suffix("pm")) {
        Some(c) => (c, true),
        None => (word, false),
    };
    let valid = match clock.split_once(':') {
        Some((h, m)) => {
            h.parse::<u32>().is_ok_and(|h| h < 24) && m.len() == 2 && m.parse::<u32>().is_ok_and(|m| m < 60)
        }
        None => meridiem && clock.parse::<u32>().is_ok_and(|h| (1..=12).contains(&h)),
    };
    valid && !clock.is_empty()
}

fn is_unit(word: &str) -> bool {
    matches!(
        word,
        "minute" | "minutes" | "min" | "mins" | "hour" | "hours" | "hr" | "hrs" | "day" | "days" | "week" | "weeks"
    )
}

/// Whether a run of words names a time at all: a weekday, a month beside a day, a
/// clock time, today/tomorrow/tonight, "in 3 days", an ISO date. Without this, a
/// title word the date parser happens to accept ("may", "5") would become a date.
fn names_a_time(words: &[String]) -> bool {
    words.iter().enumerate().any(|(i, w)| {
        let w = w.as_str();
        let next = words.get(i + 1).map(String::as_str).unwrap_or("");
        let before = if i > 0 { words[i - 1].as_str() } else { "" };
        matches!(w, "today" | "tomorrow" | "tonight" | "noon" | "midnight")
            || is_weekday(w)
            || (is_month(w) && (is_day_number(next) || is_day_number(before)))
            || is_clock(w)
            || (w == "in" && next.parse::<u32>().is_ok() && words.get(i + 2).is_some_and(|u| is_unit(u)))
            || chrono::NaiveDate::parse_from_str(w, "%Y-%m-%d").is_ok()
    })
}

const RECURRENCE_STARTS: [&str; 12] = [
    "every", "every!", "each", "daily", "weekly", "monthly", "yearly", "annually", "hourly", "weekdays", "weekends",
    "workdays",
];

/// Reads `text` in timezone `tz` at `now`.
pub fn parse_quick_add(text: &str, tz: Tz, now: DateTime<Utc>) -> QuickAdd {
    let tokens = tokens(text);
    let mut claimed = vec![false; tokens.len()];
    let mut spans: Vec<(usize, usize, SpanKind, Value)> = Vec::new();
    let mut task = NewTask::default();
    let mut tags = Vec::new();
    let open = |claimed: &[bool], range: std::ops::Range<usize>| {
        range.clone().all(|i| !claimed[i] && !tokens[i].quoted) && range.end <= tokens.len()
    };

    // Tags and priorities: single words.
    for (i, token) in tokens.iter().enumerate() {
        if token.quoted {
            continue;
        }
        let word = token.bare();
        if let Some(tag) = word.strip_prefix('#').filter(|t| !t.is_empty() && !t.contains('#')) {
            tags.push(tag.to_lowercase());
            spans.push((i, i + 1, SpanKind::Tag, json!(tag.to_lowercase())));
            claimed[i] = true;
        } else if let Some(priority) = priority_mark(word).filter(|_| task.priority.is_none()) {
            task.priority = Some(priority);
            spans.push((i, i + 1, SpanKind::Priority, json!(priority)));
            claimed[i] = true;
        }
    }

    // Reminders: "remind me 30 min before", "remind me at 9am", "reminder tomorrow 8am".
    let mut reminders = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let word = tokens[i].lower();
        if claimed[i] || tokens[i].quoted || !(word == "remind" || word == "reminder") {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        if tokens.get(j).is_some_and(|t| t.lower() == "me") {
            j += 1;
        }
        let words: Vec<String> = tokens[j..].iter().take(6).map(|t| t.bare().to_lowercase()).collect();
        if let Some((minutes, used)) = relative_reminder(&words) {
            if open(&claimed, i..j + used) {
                reminders.push(ReminderInput { before_due_minutes: Some(minutes), ..Default::default() });
                spans.push((i, j + used, SpanKind::Reminder, json!({ "before_due_minutes": minutes })));
                claimed[i..j + used].iter_mut().for_each(|c| *c = true);
                i = j + used;
                continue;
            }
        }
        // "remind me at 9am", "remind me on friday": the little word goes with it.
        if tokens.get(j).is_some_and(|t| matches!(t.lower().as_str(), "at" | "on")) {
            j += 1;
        }
        if let Some((phrase, used, due)) = longest_date(&tokens, &claimed, j, tz, now) {
            reminders.push(ReminderInput { at: Some(phrase.clone()), ..Default::default() });
            spans.push((i, j + used, SpanKind::Reminder, json!({ "at": due.0, "phrase": phrase })));
            claimed[i..j + used].iter_mut().for_each(|c| *c = true);
            i = j + used;
            continue;
        }
        i += 1;
    }

    // Recurrence: the longest run from a starting word that reads as one.
    let mut i = 0;
    while i < tokens.len() && task.recurrence.is_none() {
        let word = tokens[i].bare().to_lowercase();
        let nth_of_every_month = nth_of_every_month(&tokens[i..]);
        if claimed[i]
            || tokens[i].quoted
            || !(RECURRENCE_STARTS.contains(&word.as_str()) || nth_of_every_month.is_some())
        {
            i += 1;
            continue;
        }
        let found = (1..=10.min(tokens.len() - i)).rev().find_map(|n| {
            if !open(&claimed, i..i + n) {
                return None;
            }
            let words: Vec<String> = tokens[i..i + n].iter().map(|t| t.bare().to_lowercase()).collect();
            let phrase = match &nth_of_every_month {
                Some((day, used)) if n >= *used => [format!("every month on the {day}")]
                    .into_iter()
                    .chain(words[*used..].iter().cloned())
                    .collect::<Vec<_>>()
                    .join(" "),
                Some(_) => return None,
                None => words.join(" "),
            };
            let input = RecurrenceInput { text: Some(phrase.clone()), ..Default::default() };
            let recurrence = Recurrence::from_input(&input).ok()?;
            Some((n, phrase, recurrence))
        });
        match found {
            Some((n, phrase, recurrence)) => {
                let value = json!({ "rule": recurrence.rule, "text": recurrence.describe() });
                task.recurrence = Some(RecurrenceInput { text: Some(phrase), ..Default::default() });
                spans.push((i, i + n, SpanKind::Recurrence, value));
                claimed[i..i + n].iter_mut().for_each(|c| *c = true);
                i += n;
            }
            None => i += 1,
        }
    }

    // The due date: the first run of words that names one.
    for i in 0..tokens.len() {
        if task.due.is_some() {
            break;
        }
        if let Some((phrase, used, (at, all_day))) = longest_date(&tokens, &claimed, i, tz, now) {
            // "on friday", "at 5pm", "by monday": the little word goes with the date.
            let start = if i > 0
                && !claimed[i - 1]
                && !tokens[i - 1].quoted
                && matches!(tokens[i - 1].lower().as_str(), "on" | "at" | "by" | "due")
            {
                i - 1
            } else {
                i
            };
            task.due = Some(phrase);
            spans.push((start, i + used, SpanKind::Date, json!({ "due_at": at, "all_day": all_day })));
            claimed[start..i + used].iter_mut().for_each(|c| *c = true);
        }
    }

    let title = tokens
        .iter()
        .zip(&claimed)
        .filter(|(_, claimed)| !**claimed)
        .map(|(t, _)| t.text)
        .collect::<Vec<_>>()
        .join(" ");
    task.title = title.clone();
    if !tags.is_empty() {
        task.tags = Some(tags);
    }
    if !reminders.is_empty() {
        task.reminders = Some(reminders);
    }
    spans.sort_by_key(|s| s.0);
    let spans = spans
        .into_iter()
        .map(|(from, to, kind, value)| {
            let (start, end) = (tokens[from].start, tokens[to - 1].end);
            Span { start: utf16(text, start), end: utf16(text, end), kind, text: text[start..end].to_string(), value }
        })
        .collect();
    QuickAdd { title, spans, task }
}

/// "on the 1st of every month" (also without "on"): the day and the words used, to be
/// read as "every month on the 1st".
fn nth_of_every_month(tokens: &[Token<'_>]) -> Option<(String, usize)> {
    let words: Vec<String> = tokens.iter().take(6).map(|t| t.bare().to_lowercase()).collect();
    let skip = usize::from(words.first().is_some_and(|w| w == "on"));
    match &words[skip..] {
        [the, day, of, every, month, ..]
            if the == "the" && is_day_number(day) && of == "of" && every == "every" && month == "month" =>
        {
            Some((day.clone(), skip + 5))
        }
        _ => None,
    }
}

/// "30 min before", "1 hour before", "2h before", "a day before" -> minutes, words used.
fn relative_reminder(words: &[String]) -> Option<(i64, usize)> {
    let unit_minutes = |unit: &str| match unit {
        "m" | "min" | "mins" | "minute" | "minutes" => Some(1),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some(60),
        "d" | "day" | "days" => Some(1440),
        _ => None,
    };
    let (count, unit, used) = match words {
        [n, unit, before, ..] if before == "before" => {
            let count = if n == "a" || n == "an" { 1 } else { n.parse::<i64>().ok()? };
            (count, unit.as_str(), 3)
        }
        [glued, before, ..] if before == "before" => {
            let split = glued.find(|c: char| !c.is_ascii_digit())?;
            (glued[..split].parse::<i64>().ok()?, &glued[split..], 2)
        }
        _ => return None,
    };
    let minutes = count.checked_mul(unit_minutes(unit)?)?;
    (0..=525_600).contains(&minutes).then_some((minutes, used))
}

/// The longest run of open words from `at` (up to five) that names a date the date
/// parser accepts: its text, how many words, and what it means.
fn longest_date(
    tokens: &[Token<'_>],
    claimed: &[bool],
    at: usize,
    tz: Tz,
    now: DateTime<Utc>,
) -> Option<(String, usize, (DateTime<Utc>, bool))> {
    (1..=5.min(tokens.len().saturating_sub(at))).rev().find_map(|n| {
        let run = &tokens[at..at + n];
        if run.iter().zip(&claimed[at..at + n]).any(|(t, c)| *c || t.quoted) {
            return None;
        }
        let words: Vec<String> = run.iter().map(|t| t.bare().to_lowercase()).collect();
        // A run never starts or ends on a little word: those belong to the title.
        if matches!(words[0].as_str(), "at" | "on" | "by" | "due")
            || matches!(words[n - 1].as_str(), "at" | "on" | "in")
        {
            return None;
        }
        if !names_a_time(&words) {
            return None;
        }
        let phrase = words.join(" ");
        let due = parse_due(&phrase, tz, now).ok()?;
        Some((phrase, n, (due.at, due.all_day)))
    })
}

fn utf16(text: &str, byte: usize) -> usize {
    text[..byte].encode_utf16().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn berlin() -> Tz {
        "Europe/Berlin".parse().unwrap()
    }

    /// Thursday 2026-11-26 10:00 in Berlin.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
    }

    fn read(text: &str) -> QuickAdd {
        parse_quick_add(text, berlin(), now())
    }

    fn local(at: &Value) -> String {
        let at: DateTime<Utc> = at.as_str().unwrap().parse().unwrap();
        at.with_timezone(&berlin()).format("%Y-%m-%d %H:%M").to_string()
    }

    #[test]
    fn every_part_is_understood_and_highlighted() {
        let text = "buy milk tomorrow at 5pm #shopping p1";
        let q = read(text);
        assert_eq!(q.title, "buy milk");
        assert_eq!(q.task.due.as_deref(), Some("tomorrow at 5pm"));
        assert_eq!(q.task.priority, Some(Priority::Urgent));
        assert_eq!(q.task.tags, Some(vec!["shopping".to_string()]));
        let kinds: Vec<(SpanKind, &str)> = q.spans.iter().map(|s| (s.kind, s.text.as_str())).collect();
        assert_eq!(
            kinds,
            [(SpanKind::Date, "tomorrow at 5pm"), (SpanKind::Tag, "#shopping"), (SpanKind::Priority, "p1")]
        );
        let date = &q.spans[0];
        assert_eq!(&text[date.start..date.end], "tomorrow at 5pm");
        assert_eq!(local(&date.value["due_at"]), "2026-11-27 17:00");
        assert_eq!(date.value["all_day"], false);
    }

    #[test]
    fn recurrence_reminders_and_todoist_marks() {
        let q = read("standup every weekday at 9am remind me 10 min before !!2");
        assert_eq!(q.title, "standup");
        assert_eq!(q.task.recurrence.as_ref().and_then(|r| r.text.as_deref()), Some("every weekday at 9am"));
        assert_eq!(q.task.reminders.as_ref().unwrap()[0].before_due_minutes, Some(10));
        assert_eq!(q.task.priority, Some(Priority::High));
        let recurrence = q.spans.iter().find(|s| s.kind == SpanKind::Recurrence).unwrap();
        assert_eq!(recurrence.value["text"], "every weekday at 9:00");
        let q = read("water the plants every 3 days");
        assert_eq!((q.title.as_str(), q.task.due.as_deref()), ("water the plants", None));
        let q = read("pay rent on the 1st of every month #home");
        assert_eq!(q.title, "pay rent");
        assert_eq!(q.task.recurrence.as_ref().and_then(|r| r.text.as_deref()), Some("every month on the 1st"));
        assert_eq!(q.spans[0].text, "on the 1st of every month");
        let q = read("call mom next monday remind me at 9am");
        assert_eq!(q.title, "call mom");
        assert_eq!(q.task.due.as_deref(), Some("next monday"));
        assert_eq!(q.task.reminders.as_ref().unwrap()[0].at.as_deref(), Some("9am"));
    }

    #[test]
    fn quoted_text_is_never_read() {
        let q = read("read \"The 5th Wave\" friday");
        assert_eq!(q.title, "read The 5th Wave");
        assert_eq!(q.task.due.as_deref(), Some("friday"));
        let q = read("\"buy milk tomorrow\" #home");
        assert_eq!((q.title.as_str(), q.task.due.as_deref()), ("buy milk tomorrow", None));
        // An unfinished quote runs to the end.
        assert_eq!(read("note \"p1 tomorrow").title, "note p1 tomorrow");
    }

    #[test]
    fn title_words_stay_title_words() {
        for text in ["email bob about the march budget", "meet at 5", "may the force", "p5 invoice", "pay #"] {
            let q = read(text);
            assert!(q.spans.is_empty(), "{text}: {:?}", q.spans);
            assert_eq!(q.title, text);
        }
        let q = read("dentist on friday 9:30 #health");
        assert_eq!((q.title.as_str(), q.task.due.as_deref()), ("dentist", Some("friday 9:30")));
        assert_eq!(q.spans[0].text, "on friday 9:30");
    }

    #[test]
    fn offsets_count_utf16_units() {
        let text = "café 🍰 tomorrow";
        let q = read(text);
        let span = &q.spans[0];
        let units: Vec<u16> = text.encode_utf16().collect();
        assert_eq!(String::from_utf16(&units[span.start..span.end]).unwrap(), "tomorrow");
        assert_eq!(span.start, 8, "é is one unit, 🍰 two");
    }
}
