//! The ops query language, in the style of the task filter language:
//! `kind:reminder & status:running & waiting:timer & created after: 2026-11-01`.
//!
//! Conditions: `kind:` (or `name:`) a workflow, `status:` one of running, pending,
//! suspended, completed, failed, terminated, canceled; `waiting:` timer, event,
//! activity, child or suspended; `task:` and `user:` (whose instances, from Errand's
//! records); `id:` an id prefix; `parent:` an instance; `custom:` text in the custom
//! status; `created after:`/`created before:`/`updated after:`/`updated before:` a
//! date (`2026-11-01`, `2026-11-01T10:00:00Z`, `today`, `3h ago`, `2 days ago`);
//! `timer before:`/`timer after:` when the next timer is due; `stuck` (ready work
//! untouched for 5 minutes) or `stuck: 30m`; and any other word, text in the id or the
//! custom status. Combined with `&` (also a space), `|`, `!` and parentheses.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// A parsed query, before `task:` and `user:` are resolved to instance ids.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Every instance.
    All,
    /// Both.
    And(Box<Query>, Box<Query>),
    /// Either.
    Or(Box<Query>, Box<Query>),
    /// Not.
    Not(Box<Query>),
    /// A condition the engine evaluates.
    Engine(errand_engine::inspect::Atom),
    /// Instances of this task.
    Task(String),
    /// Instances of this user.
    User(String),
    /// Text in the id or the custom status.
    Text(String),
}

/// Why a query does not parse: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {message}")]
pub struct QueryError {
    /// 0-based character offset.
    pub position: usize,
    /// What was wrong.
    pub message: String,
}

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 2000;
/// Deepest nesting of `(` and `!`.
const MAX_DEPTH: usize = 32;
/// How long ready work may wait before `stuck` calls it stuck, by default.
pub const STUCK_AFTER: Duration = Duration::minutes(5);

/// The workflow name a `kind:` names (Errand's kinds and their workflow names).
pub fn workflow_name(kind: &str) -> String {
    match kind {
        "confirmation" | "confirm" => errand_workflows::names::CONFIRM_ACTION.to_string(),
        other => other.to_string(),
    }
}

/// Parses `text` at `now`.
pub fn parse(text: &str, now: DateTime<Utc>) -> Result<Query, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > MAX_QUERY_CHARS {
        return Err(QueryError {
            position: MAX_QUERY_CHARS,
            message: format!("a query is at most {MAX_QUERY_CHARS} characters"),
        });
    }
    let mut parser = Parser { chars, at: 0, now, depth: 0 };
    parser.skip_space();
    if parser.at == parser.chars.len() {
        return Ok(Query::All);
    }
    let query = parser.or()?;
    parser.skip_space();
    if parser.at < parser.chars.len() {
        return Err(parser.error(format!("unexpected {:?}", parser.chars[parser.at])));
    }
    Ok(query)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    now: DateTime<Utc>,
    depth: usize,
}

const STATUSES: [(&str, dapr_durabletask_proto::OrchestrationStatus); 8] = {
    use dapr_durabletask_proto::OrchestrationStatus as S;
    [
        ("running", S::Running),
        ("pending", S::Pending),
        ("suspended", S::Suspended),
        ("completed", S::Completed),
        ("failed", S::Failed),
        ("terminated", S::Terminated),
        ("canceled", S::Canceled),
        ("continued_as_new", S::ContinuedAsNew),
    ]
};

/// The durabletask status code a name names.
pub fn status_code(name: &str) -> Option<i32> {
    STATUSES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s as i32)
}

/// A status code's name.
pub fn status_name(code: i32) -> &'static str {
    STATUSES.iter().find(|(_, s)| *s as i32 == code).map(|(n, _)| *n).unwrap_or("unknown")
}

impl Parser {
    fn error(&self, message: String) -> QueryError {
        QueryError { position: self.at, message }
    }

    fn skip_space(&mut self) {
        while self.at < self.chars.len() && self.chars[self.at].is_whitespace() {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.chars.get(self.at).copied()
    }

    fn or(&mut self) -> Result<Query, QueryError> {
        let mut left = self.and()?;
        while self.peek() == Some('|') {
            self.at += 1;
            left = Query::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Query, QueryError> {
        let mut left = self.unary()?;
        loop {
            match self.peek() {
                Some('&') => {
                    self.at += 1;
                }
                // A space between conditions is an and.
                Some(c) if c != '|' && c != ')' => {}
                _ => return Ok(left),
            }
            left = Query::And(Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Query, QueryError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error("too deeply nested".into()));
        }
        match self.peek() {
            Some('!') => {
                self.at += 1;
                self.depth += 1;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Query::Not(Box::new(inner)))
            }
            Some('(') => {
                self.at += 1;
                self.depth += 1;
                let inner = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(')') {
                    return Err(self.error("expected )".into()));
                }
                self.at += 1;
                Ok(inner)
            }
            Some(_) => self.atom(),
            None => Err(self.error("expected a condition".into())),
        }
    }

    /// A word: up to whitespace, an operator or a parenthesis; or a quoted string.
    fn word(&mut self) -> String {
        self.skip_space();
        if self.chars.get(self.at) == Some(&'"') {
            self.at += 1;
            let start = self.at;
            while self.at < self.chars.len() && self.chars[self.at] != '"' {
                self.at += 1;
            }
            let word: String = self.chars[start..self.at].iter().collect();
            self.at = (self.at + 1).min(self.chars.len());
            return word;
        }
        let start = self.at;
        while self.at < self.chars.len()
            && !self.chars[self.at].is_whitespace()
            && !"&|()!".contains(self.chars[self.at])
        {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    /// The rest of a date value: words up to an operator.
    fn phrase(&mut self) -> String {
        self.skip_space();
        let start = self.at;
        while self.at < self.chars.len() && !"&|()".contains(self.chars[self.at]) {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect::<String>().trim().to_string()
    }

    fn atom(&mut self) -> Result<Query, QueryError> {
        use errand_engine::inspect::{Atom, Wait};
        let start = self.at;
        let word = self.word();
        if word.is_empty() {
            return Err(self.error("expected a condition".into()));
        }
        let lower = word.to_lowercase();
        // Two-word keys: "created after:", "timer before:".
        if matches!(lower.as_str(), "created" | "updated" | "timer") {
            let second = self.word().to_lowercase();
            let key = format!("{lower} {second}");
            self.skip_space();
            let at = self.at;
            let value = self.phrase();
            let when = self.instant(&value).map_err(|message| QueryError { position: at, message })?;
            let micros = when.timestamp_micros();
            return Ok(Query::Engine(match key.as_str() {
                "created after:" => Atom::CreatedAfter(micros),
                "created before:" => Atom::CreatedBefore(micros),
                "updated after:" => Atom::UpdatedAfter(micros),
                "updated before:" => Atom::UpdatedBefore(micros),
                "timer before:" => Atom::TimerBefore(micros),
                "timer after:" => Atom::TimerAfter(micros),
                _ => {
                    return Err(QueryError {
                        position: start,
                        message: format!("expected \"{lower} after:\" or \"{lower} before:\""),
                    })
                }
            }));
        }
        if lower == "stuck" {
            return Ok(Query::Engine(Atom::Stuck(STUCK_AFTER.num_microseconds().unwrap_or(i64::MAX))));
        }
        let Some((key, value)) = word.split_once(':') else {
            return Ok(Query::Text(word));
        };
        let key = key.to_lowercase();
        let value = if value.is_empty() { self.word() } else { value.to_string() };
        if value.is_empty() {
            return Err(self.error(format!("expected a value after {key}:")));
        }
        let value_lower = value.to_lowercase();
        Ok(match key.as_str() {
            "kind" | "name" => Query::Engine(Atom::Name(workflow_name(&value_lower))),
            "status" => match status_code(&value_lower) {
                Some(code) => Query::Engine(Atom::Status(code)),
                None => {
                    return Err(QueryError {
                        position: start,
                        message: format!(
                            "unknown status {value:?}; use {}",
                            STATUSES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                        ),
                    })
                }
            },
            "waiting" => match Wait::parse(&value_lower) {
                Some(wait) => Query::Engine(Atom::Waiting(wait)),
                None => {
                    return Err(QueryError {
                        position: start,
                        message: "waiting: takes timer, event, activity, child or suspended".into(),
                    })
                }
            },
            "stuck" => {
                let minutes = duration(&value_lower).ok_or_else(|| QueryError {
                    position: start,
                    message: "stuck: takes a duration such as 30s, 10m, 2h or 1d".into(),
                })?;
                Query::Engine(Atom::Stuck(minutes.num_microseconds().unwrap_or(i64::MAX)))
            }
            "task" => Query::Task(value),
            "user" => Query::User(value),
            "id" => Query::Engine(Atom::IdPrefix(value)),
            "parent" => Query::Engine(Atom::Parent(value)),
            "custom" => Query::Engine(Atom::CustomStatus(value)),
            other => {
                return Err(QueryError {
                    position: start,
                    message: format!(
                        "unknown key {other:?}; use kind, status, waiting, task, user, id, parent, custom, stuck, \
                         created/updated after/before or timer after/before"
                    ),
                })
            }
        })
    }

    fn instant(&self, text: &str) -> Result<DateTime<Utc>, String> {
        instant(text, self.now)
    }
}

/// "30s", "10m", "2h", "1d" -> a duration.
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let n: i64 = text[..split].parse().ok()?;
    let unit = text[split..].trim();
    Some(match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => Duration::seconds(n),
        "m" | "min" | "mins" | "minute" | "minutes" => Duration::minutes(n),
        "h" | "hr" | "hrs" | "hour" | "hours" => Duration::hours(n),
        "d" | "day" | "days" => Duration::days(n),
        "w" | "week" | "weeks" => Duration::weeks(n),
        _ => return None,
    })
}

/// A date in a query: RFC 3339, a day (UTC midnight), `today`, `yesterday`, `3h ago`.
pub fn instant(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now));
    }
    let lower = text.to_lowercase();
    let today = now.date_naive().and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now);
    match lower.as_str() {
        "now" => return Ok(now),
        "today" => return Ok(today),
        "yesterday" => return Ok(today - Duration::days(1)),
        _ => {}
    }
    if let Some(ago) = lower.strip_suffix(" ago").or_else(|| lower.strip_suffix("ago")) {
        if let Some(d) = duration(&ago.replace(' ', "")) {
            return Ok(now - d);
        }
    }
    Err(format!("expected a date such as 2026-11-01, 2026-11-01T10:00:00Z, today or 3h ago, not {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use errand_engine::inspect::{Atom, Wait};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap()
    }

    #[test]
    fn reads_the_issue_example_and_friends() {
        let q = parse("kind:reminder & status:running & waiting:timer & created after: 2026-11-01", now()).unwrap();
        let created = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap().timestamp_micros();
        let want = Query::And(
            Box::new(Query::And(
                Box::new(Query::And(
                    Box::new(Query::Engine(Atom::Name("reminder".into()))),
                    Box::new(Query::Engine(Atom::Status(status_code("running").unwrap()))),
                )),
                Box::new(Query::Engine(Atom::Waiting(Wait::Timer))),
            )),
            Box::new(Query::Engine(Atom::CreatedAfter(created))),
        );
        assert_eq!(q, want);
        assert_eq!(parse("", now()).unwrap(), Query::All);
        assert_eq!(parse("kind:confirmation", now()).unwrap(), Query::Engine(Atom::Name("confirm_action".into())));
        let q = parse("!(status:completed | status:failed) user:u1", now()).unwrap();
        assert!(matches!(q, Query::And(a, b) if matches!(*a, Query::Not(_)) && *b == Query::User("u1".into())));
        let hour_ago = (now() - Duration::hours(3)).timestamp_micros();
        assert_eq!(parse("updated before: 3h ago", now()).unwrap(), Query::Engine(Atom::UpdatedBefore(hour_ago)));
        assert_eq!(parse("stuck:10m", now()).unwrap(), Query::Engine(Atom::Stuck(600_000_000)));
        assert_eq!(parse("\"waiting for\"", now()).unwrap(), Query::Text("waiting for".into()));
    }

    #[test]
    fn errors_say_where_and_what() {
        for (text, position, part) in [
            ("status:sleeping", 0, "unknown status"),
            ("kind:reminder & waiting:nap", 16, "waiting: takes"),
            ("created after: someday", 15, "expected a date"),
            ("colour:red", 0, "unknown key"),
            ("(kind:reminder", 14, "expected )"),
            ("kind:reminder &", 15, "expected a condition"),
            ("created sometime: today", 0, "expected \"created after:\""),
        ] {
            let e = parse(text, now()).unwrap_err();
            assert_eq!(e.position, position, "{text}: {e}");
            assert!(e.message.contains(part), "{text}: {e}");
        }
        assert!(parse(&"(".repeat(100), now()).is_err());
        assert!(parse(&"x".repeat(3000), now()).is_err());
    }
}
