//! The filter language (DESIGN §3), Todoist-inspired:
//! `today`, `tomorrow`, `overdue`, `no date`, `7 days`, `due before: <date>`,
//! `due after: <date>`, `created after: <date>`, `created before: <date>`, `p1`..`p4`,
//! `no priority`, `@tag`, `@prefix*`, `no tags`, `recurring`, `done`, `open`,
//! `search: words`, combined with `&`, `|`, `!` and parentheses (`!` binds tightest,
//! then `&`, then `|`). Dates are resolved in the user's timezone when parsing, so
//! a parsed [`Filter`] is a plain predicate.
//!
//! The parser recurses once per `(` or `!`, so their nesting is limited
//! ([`MAX_DEPTH`]), as are the text's length and its number of conditions: no input
//! can exhaust a thread's stack or make a query arbitrarily large.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use errand_domain::{parse_due, start_of_day, Priority, Status};

use crate::text::{check_query, MAX_QUERY_CHARS};

/// Longest filter, in characters.
pub const MAX_CHARS: usize = 2000;
/// Deepest nesting of `(` and `!` together.
pub const MAX_DEPTH: usize = 32;
/// Most conditions (atoms) in one filter.
pub const MAX_TERMS: usize = 64;

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
    /// Not.
    Not(Box<Filter>),
    /// One condition.
    Atom(Atom),
}

/// One condition, with its dates resolved to instants (epoch milliseconds, UTC).
#[derive(Debug, Clone, PartialEq)]
pub enum Atom {
    /// Due in `[from, to)`: `today`, `tomorrow`, `N days`.
    DueWithin { from: i64, to: i64 },
    /// Past due: timed tasks before `now`, all-day tasks before `start_of_today`.
    Overdue { now: i64, start_of_today: i64 },
    /// No due date.
    NoDate,
    /// Due strictly before.
    DueBefore(i64),
    /// Due at or after.
    DueAfter(i64),
    /// Created strictly before.
    CreatedBefore(i64),
    /// Created at or after.
    CreatedAfter(i64),
    /// This priority (`no priority` is `Priority::None`).
    Priority(Priority),
    /// Has this tag.
    Tag(String),
    /// Has a tag starting with this.
    TagPrefix(String),
    /// Has no tags.
    NoTags,
    /// Repeats.
    Recurring,
    /// Open or done.
    Status(Status),
    /// Matches these words like `q` does.
    Search(String),
}

/// Why a filter does not parse: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: expected {expected}, found {found}")]
pub struct FilterError {
    /// 0-based character offset in the filter text.
    pub position: usize,
    /// What would have been valid there.
    pub expected: String,
    /// What was there instead (`end of filter` at the end).
    pub found: String,
}

const ATOM_HINT: &str = "a filter such as today, overdue, 7 days, p1, @tag, no date, done, \
                         due before: <date> or search: <words>";

impl Filter {
    /// Parses `text`; relative dates are resolved in `tz` at `now`.
    pub fn parse(text: &str, tz: Tz, now: DateTime<Utc>) -> Result<Filter, FilterError> {
        let length = text.chars().count();
        if length > MAX_CHARS {
            return Err(FilterError {
                position: MAX_CHARS,
                expected: format!("a filter of at most {MAX_CHARS} characters"),
                found: format!("{length} characters"),
            });
        }
        let chars: Vec<char> = text.chars().collect();
        let mut parser = Parser { chars: &chars, pos: 0, tz, now, depth: 0, terms: 0 };
        let filter = parser.or()?;
        parser.skip_spaces();
        if parser.pos < chars.len() {
            return Err(parser.error("&, | or the end of the filter"));
        }
        Ok(filter)
    }

    /// Whether the filter names `open` or `done` anywhere (then lists do not
    /// default to open tasks).
    pub fn mentions_status(&self) -> bool {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => a.mentions_status() || b.mentions_status(),
            Filter::Not(a) => a.mentions_status(),
            Filter::Atom(atom) => matches!(atom, Atom::Status(_)),
        }
    }

    /// The filter as text that [`Filter::parse`] reads back, with the same `tz` and
    /// `now`, into this same filter: atoms in their own words (instants as RFC 3339),
    /// parentheses only where the structure needs them.
    pub fn to_text(&self, tz: Tz, now: DateTime<Utc>) -> String {
        let mut out = String::new();
        self.print(&mut out, &Days { tz, now });
        out
    }

    /// How tightly the expression binds: `|` 1, `&` 2, `!` and atoms 3.
    fn binding(&self) -> u8 {
        match self {
            Filter::Or(..) => 1,
            Filter::And(..) => 2,
            Filter::Not(_) | Filter::Atom(_) => 3,
        }
    }

    fn print_within(&self, out: &mut String, days: &Days, binding: u8) {
        if self.binding() < binding {
            out.push('(');
            self.print(out, days);
            out.push(')');
        } else {
            self.print(out, days);
        }
    }

    fn print(&self, out: &mut String, days: &Days) {
        // Both operators associate to the left, so a right operand of the same kind
        // keeps its parentheses.
        match self {
            Filter::Or(a, b) => {
                a.print_within(out, days, 1);
                out.push_str(" | ");
                b.print_within(out, days, 2);
            }
            Filter::And(a, b) => {
                a.print_within(out, days, 2);
                out.push_str(" & ");
                b.print_within(out, days, 3);
            }
            Filter::Not(a) => {
                out.push('!');
                a.print_within(out, days, 3);
            }
            Filter::Atom(atom) => out.push_str(&atom.to_text(days)),
        }
    }
}

/// Local day boundaries, to print relative atoms in the words that produce them.
struct Days {
    tz: Tz,
    now: DateTime<Utc>,
}

impl Days {
    fn start(&self, offset_days: i64) -> i64 {
        let today = self.now.with_timezone(&self.tz).date_naive();
        start_of_day(self.tz, today + Duration::days(offset_days)).timestamp_millis()
    }
}

fn instant(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Atom {
    fn to_text(&self, days: &Days) -> String {
        match self {
            Atom::DueWithin { from, to } if *from == days.start(0) && *to == days.start(1) => "today".into(),
            Atom::DueWithin { from, to } if *from == days.start(1) && *to == days.start(2) => "tomorrow".into(),
            Atom::DueWithin { from, to } => {
                match (1..=3650).find(|n| *from == days.start(0) && *to == days.start(*n)) {
                    Some(n) => format!("{n} days"),
                    // Only another `now` gets here: the same days, spelled out.
                    None => format!("(due after: {} & due before: {})", instant(from - 1), instant(*to)),
                }
            }
            Atom::Overdue { .. } => "overdue".into(),
            Atom::NoDate => "no date".into(),
            // A timed `after:` means strictly after: print the millisecond before.
            Atom::DueBefore(t) => format!("due before: {}", instant(*t)),
            Atom::DueAfter(t) => format!("due after: {}", instant(t - 1)),
            Atom::CreatedBefore(t) => format!("created before: {}", instant(*t)),
            Atom::CreatedAfter(t) => format!("created after: {}", instant(t - 1)),
            Atom::Priority(Priority::None) => "no priority".into(),
            Atom::Priority(Priority::Urgent) => "p1".into(),
            Atom::Priority(Priority::High) => "p2".into(),
            Atom::Priority(Priority::Medium) => "p3".into(),
            Atom::Priority(Priority::Low) => "p4".into(),
            Atom::Tag(tag) => format!("@{tag}"),
            Atom::TagPrefix(prefix) => format!("@{prefix}*"),
            Atom::NoTags => "no tags".into(),
            Atom::Recurring => "recurring".into(),
            Atom::Status(Status::Done) => "done".into(),
            Atom::Status(Status::Open) => "open".into(),
            Atom::Search(words) => format!("search: {words}"),
        }
    }
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    tz: Tz,
    now: DateTime<Utc>,
    /// `(` and `!` open around the current position.
    depth: usize,
    /// Atoms read so far.
    terms: usize,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_spaces();
        self.chars.get(self.pos).copied()
    }

    fn error(&self, expected: &str) -> FilterError {
        let found = match self.chars.get(self.pos) {
            None => "end of filter".to_string(),
            Some(_) => {
                let rest: String = self.chars[self.pos..].iter().take(20).collect();
                format!("{:?}", rest.trim_end())
            }
        };
        FilterError { position: self.pos, expected: expected.to_string(), found }
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while self.peek() == Some('|') {
            self.pos += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while self.peek() == Some('&') {
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// Enters one more level of `(` or `!`, refusing to go deeper than [`MAX_DEPTH`].
    fn descend(&mut self) -> Result<(), FilterError> {
        if self.depth == MAX_DEPTH {
            return Err(FilterError {
                position: self.pos,
                expected: format!("at most {MAX_DEPTH} levels of ( and ! nesting"),
                found: "one level more".into(),
            });
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        match self.peek() {
            Some('!') => {
                self.descend()?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Filter::Not(Box::new(inner)))
            }
            Some('(') => {
                self.descend()?;
                let inner = self.or()?;
                if self.peek() != Some(')') {
                    return Err(self.error(") to close the ( "));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(inner)
            }
            None | Some('&' | '|' | ')') => Err(self.error(ATOM_HINT)),
            Some(_) => self.atom(),
        }
    }

    fn atom(&mut self) -> Result<Filter, FilterError> {
        self.skip_spaces();
        let start = self.pos;
        if self.terms == MAX_TERMS {
            return Err(FilterError {
                position: start,
                expected: format!("at most {MAX_TERMS} conditions"),
                found: "one more".into(),
            });
        }
        self.terms += 1;
        while let Some(&c) = self.chars.get(self.pos) {
            if matches!(c, '&' | '|' | ')') {
                break;
            }
            if c == '(' {
                return Err(FilterError {
                    position: self.pos,
                    expected: "& or | before (".into(),
                    found: "\"(\"".into(),
                });
            }
            self.pos += 1;
        }
        let raw: String = self.chars[start..self.pos].iter().collect();
        let text = raw.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        // Where a `keyword: value` atom's value starts in the original text.
        let value_at = raw.chars().position(|c| c == ':').map(|colon| {
            let spaces = raw.chars().skip(colon + 1).take_while(|c| c.is_whitespace()).count();
            start + colon + 1 + spaces
        });
        self.resolve(&text, start, value_at.unwrap_or(start)).map(Filter::Atom)
    }

    fn unknown(&self, at: usize, text: &str) -> FilterError {
        FilterError { position: at, expected: ATOM_HINT.into(), found: format!("{text:?}") }
    }

    fn start_of_local_day(&self, offset_days: i64) -> i64 {
        let today = self.now.with_timezone(&self.tz).date_naive();
        let day = today + Duration::days(offset_days);
        start_of_day(self.tz, day).timestamp_millis()
    }

    /// An instant named after `keyword:`; `after` turns a bare day into the next day's start.
    fn date(&self, value: &str, at: usize, after: bool) -> Result<i64, FilterError> {
        let due = parse_due(value, self.tz, self.now).map_err(|message| FilterError {
            position: at,
            expected: "a date such as tomorrow, nov 30 or 2026-12-01".into(),
            found: format!("{value:?} ({message})"),
        })?;
        let ms = due.at.timestamp_millis();
        Ok(match (due.all_day, after) {
            (true, true) => {
                let day = due.at.with_timezone(&self.tz).date_naive() + Duration::days(1);
                start_of_day(self.tz, day).timestamp_millis()
            }
            (false, true) => ms + 1,
            (_, false) => ms,
        })
    }

    fn resolve(&self, text: &str, at: usize, value_at: usize) -> Result<Atom, FilterError> {
        if text.is_empty() {
            return Err(self.unknown(at, text));
        }
        // Keyword forms with a value: "due before: friday", "search: milk".
        if let Some((keyword, value)) = text.split_once(':') {
            let value = value.trim();
            if value.is_empty() {
                return Err(FilterError {
                    position: value_at,
                    expected: format!("a value after {keyword}:"),
                    found: "nothing".into(),
                });
            }
            return match keyword.trim() {
                "due before" => Ok(Atom::DueBefore(self.date(value, value_at, false)?)),
                "due after" => Ok(Atom::DueAfter(self.date(value, value_at, true)?)),
                "created before" => Ok(Atom::CreatedBefore(self.date(value, value_at, false)?)),
                "created after" => Ok(Atom::CreatedAfter(self.date(value, value_at, true)?)),
                "search" => match check_query(value) {
                    Ok(()) => Ok(Atom::Search(value.to_string())),
                    Err(message) => Err(FilterError {
                        position: value_at,
                        expected: format!("search words within the limits ({message})"),
                        found: format!("{:?}", value.chars().take(MAX_QUERY_CHARS.min(40)).collect::<String>()),
                    }),
                },
                _ => Err(self.unknown(at, text)),
            };
        }
        if let Some(tag) = text.strip_prefix('@') {
            let (name, prefix) = match tag.strip_suffix('*') {
                Some(name) => (name, true),
                None => (tag, false),
            };
            let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || "-_./:+".contains(c));
            if !valid {
                return Err(FilterError {
                    position: at,
                    expected: "a tag such as @home or @home*".into(),
                    found: format!("{text:?}"),
                });
            }
            return Ok(if prefix { Atom::TagPrefix(name.to_string()) } else { Atom::Tag(name.to_string()) });
        }
        let now = self.now.timestamp_millis();
        let atom = match text {
            "today" => Atom::DueWithin { from: self.start_of_local_day(0), to: self.start_of_local_day(1) },
            "tomorrow" => Atom::DueWithin { from: self.start_of_local_day(1), to: self.start_of_local_day(2) },
            "overdue" => Atom::Overdue { now, start_of_today: self.start_of_local_day(0) },
            "no date" | "no due date" => Atom::NoDate,
            "no priority" => Atom::Priority(Priority::None),
            "p1" => Atom::Priority(Priority::Urgent),
            "p2" => Atom::Priority(Priority::High),
            "p3" => Atom::Priority(Priority::Medium),
            "p4" => Atom::Priority(Priority::Low),
            "no tags" | "no labels" => Atom::NoTags,
            "recurring" => Atom::Recurring,
            "done" | "completed" => Atom::Status(Status::Done),
            "open" => Atom::Status(Status::Open),
            other => {
                let days = other.strip_prefix("next ").unwrap_or(other);
                let number = days.strip_suffix(" days").or_else(|| days.strip_suffix(" day"));
                match number.and_then(|n| n.parse::<i64>().ok()) {
                    Some(n) if (1..=3650).contains(&n) => {
                        Atom::DueWithin { from: self.start_of_local_day(0), to: self.start_of_local_day(n) }
                    }
                    _ => return Err(self.unknown(at, text)),
                }
            }
        };
        Ok(atom)
    }
}
