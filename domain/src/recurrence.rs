use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{Frequency, RRule, RRuleSet, Unvalidated};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::recurrence_text::parse_recurrence_text;
use crate::Invalid;

/// Longest RRULE accepted, in characters.
pub const MAX_RULE_CHARS: usize = 300;

/// Largest `count` a series may have.
const MAX_COUNT: u32 = 10_000;

/// How a task repeats: an RFC 5545 RRULE (without `COUNT`/`UNTIL`, which live in
/// their own fields), evaluated in the owner's timezone from the task's due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    /// The RRULE body, e.g. `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO`.
    pub rule: String,
    /// The words the user typed, when the rule came from natural language.
    #[serde(default)]
    pub text: Option<String>,
    /// Next occurrence counts from completion instead of from the schedule.
    #[serde(default)]
    pub from_completion: bool,
    /// Last day (inclusive, in the owner's timezone) an occurrence may fall on.
    #[serde(default)]
    pub until: Option<NaiveDate>,
    /// Total number of occurrences in the series.
    #[serde(default)]
    pub count: Option<u32>,
    /// First day (in the owner's timezone) an occurrence may fall on.
    #[serde(default)]
    pub starts: Option<NaiveDate>,
}

/// Recurrence as a client sends it: an RRULE `rule` or a natural-language `text`
/// ("every other monday", "every month on the 1st"), plus the optional mode and bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecurrenceInput {
    /// RFC 5545 RRULE, with or without the `RRULE:` prefix; `COUNT` and `UNTIL` inside
    /// it are moved to `count` and `until`.
    #[serde(default)]
    pub rule: Option<String>,
    /// Natural-language recurrence ("every other monday").
    #[serde(default)]
    pub text: Option<String>,
    /// Count the next occurrence from completion (default false).
    #[serde(default)]
    pub from_completion: Option<bool>,
    /// Last day of the series (YYYY-MM-DD, inclusive).
    #[serde(default)]
    pub until: Option<NaiveDate>,
    /// Number of occurrences (1 to 10000).
    #[serde(default)]
    pub count: Option<u32>,
    /// First day of the series (YYYY-MM-DD); no occurrence falls before it.
    #[serde(default)]
    pub starts: Option<NaiveDate>,
}

/// Recurrence as the API returns it, with the next three occurrences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecurrenceView {
    /// RFC 5545 RRULE body.
    pub rule: String,
    /// A normalised description derived from the rule and its bounds
    /// ("every other monday at 9:00 until 2027-06-30").
    pub text: String,
    /// Whether the next occurrence counts from completion.
    pub from_completion: bool,
    /// Last day of the series, inclusive.
    pub until: Option<NaiveDate>,
    /// Number of occurrences in the series.
    pub count: Option<u32>,
    /// First day of the series.
    pub starts: Option<NaiveDate>,
    /// The next three occurrences after now, in UTC.
    pub next: Vec<DateTime<Utc>>,
}

impl Recurrence {
    /// Validates client input into a stored recurrence.
    pub fn from_input(input: &RecurrenceInput) -> Result<Recurrence, Invalid> {
        if input.rule.as_ref().is_some_and(|r| r.chars().count() > MAX_RULE_CHARS) {
            return Err(Invalid::new("rule", format!("must be at most {MAX_RULE_CHARS} characters")));
        }
        // A rule made from words is wrong in the words: report it there.
        let rule_field = if input.rule.is_none() { "text" } else { "rule" };
        let mut phrase_starts = None;
        let mut phrase_from_completion = false;
        let (rule_text, text, phrase_count, phrase_until) = match (&input.rule, &input.text) {
            (Some(rule), _) => (rule.clone(), input.text.clone(), None, None),
            (None, Some(text)) => {
                let parsed = parse_recurrence_text(text).map_err(|m| Invalid::new("text", m))?;
                phrase_starts = parsed.starts;
                phrase_from_completion = parsed.from_completion;
                (parsed.rule, Some(text.clone()), parsed.count, parsed.until)
            }
            (None, None) => {
                return Err(Invalid::new("rule", "give a rule (RFC 5545 RRULE) or a text such as every monday"))
            }
        };
        let (rule, inline_count, inline_until) = split_rule(&rule_text)?;
        let inline_count = inline_count.or(phrase_count);
        let inline_until = inline_until.or(phrase_until);
        let count = merge_bound("count", input.count, inline_count)?;
        let until = merge_bound("until", input.until, inline_until)?;
        let starts = merge_bound("starts", input.starts, phrase_starts)?;
        if let Some(count) = count {
            if !(1..=MAX_COUNT).contains(&count) {
                return Err(Invalid::new("count", format!("must be between 1 and {MAX_COUNT}")));
            }
        }
        let recurrence = Recurrence {
            rule,
            text: text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()),
            from_completion: input.from_completion.unwrap_or(phrase_from_completion),
            until,
            count,
            starts,
        };
        let parsed = recurrence.parsed_rule().map_err(|e| Invalid::new(rule_field, e.message))?;
        if matches!(parsed.get_freq(), Frequency::Minutely | Frequency::Secondly) {
            return Err(Invalid::new(rule_field, "may repeat at most hourly"));
        }
        if !(1..=1000).contains(&parsed.get_interval()) {
            return Err(Invalid::new(rule_field, "the interval must be between 1 and 1000"));
        }
        // Validation needs a start; a fixed one exercises the rule's own constraints,
        // and whether it ever produces a date (30 February never comes).
        let start = DateTime::<Utc>::UNIX_EPOCH.with_timezone(&rrule::Tz::UTC);
        let rule = parsed.validate(start).map_err(|e| Invalid::new(rule_field, e.to_string()))?;
        if RRuleSet::new(start).rrule(rule).all(1).dates.is_empty() {
            return Err(Invalid::new(rule_field, "never occurs: no date fits every part of the rule"));
        }
        Ok(recurrence)
    }

    /// Whether occurrences have a time of day of their own (`BYHOUR`, or hourly).
    pub fn has_time_of_day(&self) -> bool {
        self.rule.starts_with("FREQ=HOURLY") || self.rule.contains("BYHOUR=")
    }

    fn parsed_rule(&self) -> Result<RRule<Unvalidated>, Invalid> {
        RRule::<Unvalidated>::from_str(&self.rule).map_err(|e| Invalid::new("rule", e.to_string()))
    }

    /// Occurrences strictly after `after`, at most `limit`, for a series that starts at
    /// `anchor`, evaluated in `tz` so that wall-clock times survive DST changes.
    pub fn occurrences_after(
        &self,
        anchor: DateTime<Utc>,
        after: DateTime<Utc>,
        tz: Tz,
        limit: u16,
    ) -> Vec<DateTime<Utc>> {
        let rtz = rrule::Tz::Tz(tz);
        let start = anchor.with_timezone(&rtz);
        let Ok(mut rule) = self.parsed_rule() else {
            return Vec::new();
        };
        if let Some(count) = self.count {
            rule = rule.count(count);
        }
        let Ok(rule) = rule.validate(start) else {
            return Vec::new();
        };
        // Nothing before the first day: look only after its local midnight.
        let mut after = after.with_timezone(&rtz);
        if let Some(first) = self.starts.and_then(|d| d.and_hms_opt(0, 0, 0)) {
            if let Some(midnight) = rtz.from_local_datetime(&first).earliest() {
                after = after.max(midnight - chrono::Duration::seconds(1));
            }
        }
        let set = RRuleSet::new(start).rrule(rule).after(after);
        let mut dates: Vec<DateTime<Utc>> = set
            .all(limit.saturating_add(1))
            .dates
            .into_iter()
            .filter(|at| self.until.is_none_or(|until| at.date_naive() <= until))
            .filter(|at| self.starts.is_none_or(|starts| at.date_naive() >= starts))
            .map(|at| at.with_timezone(&Utc))
            .collect();
        // An hourly rule meets a local hour that does not exist (the spring-forward gap)
        // as the same instant twice (found by the property tests).
        dates.dedup();
        dates.truncate(usize::from(limit));
        dates
    }

    /// The API view, with the next three occurrences after `now`.
    pub fn view(&self, anchor: DateTime<Utc>, now: DateTime<Utc>, tz: Tz) -> RecurrenceView {
        RecurrenceView {
            rule: self.rule.clone(),
            text: self.describe(),
            from_completion: self.from_completion,
            until: self.until,
            count: self.count,
            starts: self.starts,
            next: self.occurrences_after(anchor, now, tz, 3),
        }
    }
}

impl Recurrence {
    /// The normalised description: the schedule, then its mode and bounds.
    pub fn describe(&self) -> String {
        let mut text = describe(&self.rule);
        if self.from_completion {
            text.push_str(", counted from completion");
        }
        if let Some(starts) = self.starts {
            text.push_str(&format!(" starting {starts}"));
        }
        if let Some(until) = self.until {
            text.push_str(&format!(" until {until}"));
        }
        if let Some(count) = self.count {
            text.push_str(&format!(" for {count} times"));
        }
        text
    }
}

/// The parts of an RFC 5545 rule besides COUNT and UNTIL, which are taken out.
const RULE_PARTS: [&str; 12] = [
    "FREQ",
    "INTERVAL",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
];

/// Normalises a rule and takes `COUNT=` and `UNTIL=` out of it.
fn split_rule(raw: &str) -> Result<(String, Option<u32>, Option<NaiveDate>), Invalid> {
    let upper = raw.trim().to_ascii_uppercase();
    let body = upper.strip_prefix("RRULE:").unwrap_or(&upper);
    if body.is_empty() {
        return Err(Invalid::new("rule", "must not be empty"));
    }
    // The rrule crate slices rule text by bytes (a non-ASCII character made it panic,
    // found by fuzzing); every valid rule is ASCII.
    if !body.is_ascii() {
        return Err(Invalid::new("rule", "must be ASCII, such as FREQ=WEEKLY;BYDAY=MO"));
    }
    if body.contains('\n') || body.contains("DTSTART") {
        return Err(Invalid::new("rule", "must be a single RRULE line without DTSTART; the due date is the start"));
    }
    let mut count = None;
    let mut until = None;
    let mut parts = Vec::new();
    for part in body.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(value) = part.strip_prefix("COUNT=") {
            count = Some(value.parse::<u32>().map_err(|_| Invalid::new("rule", "COUNT must be a positive number"))?);
        } else if let Some(value) = part.strip_prefix("UNTIL=") {
            let day = value.get(..8).unwrap_or(value);
            until = Some(
                NaiveDate::parse_from_str(day, "%Y%m%d")
                    .map_err(|_| Invalid::new("rule", "UNTIL must be a date such as 20261231"))?,
            );
        } else {
            let Some((name, value)) = part.split_once('=').filter(|(_, value)| !value.is_empty()) else {
                return Err(Invalid::new("rule", format!("each part of a rule reads NAME=VALUE, not {part:?}")));
            };
            // The rrule crate passes over names it does not know, so a typo would
            // silently change the rule (found by fuzzing).
            if !RULE_PARTS.contains(&name) {
                return Err(Invalid::new("rule", format!("{name:?} is not a part of an RRULE")));
            }
            if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-,".contains(&b)) {
                return Err(Invalid::new("rule", format!("{name} has a character a rule does not use")));
            }
            parts.push(part);
        }
    }
    Ok((parts.join(";"), count, until))
}

fn merge_bound<T: PartialEq>(field: &str, explicit: Option<T>, inline: Option<T>) -> Result<Option<T>, Invalid> {
    match (explicit, inline) {
        (Some(a), Some(b)) if a != b => {
            Err(Invalid::new(field, format!("disagrees with the {} in the rule", field.to_uppercase())))
        }
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
    }
}

/// A short English description of a rule, e.g. "every other monday at 9:00".
fn describe(rule: &str) -> String {
    let mut freq = "";
    let mut interval = 1u32;
    let mut days: Vec<&str> = Vec::new();
    let mut month_days = Vec::new();
    let mut month = None;
    let (mut hour, mut minute) = (None, 0u32);
    for part in rule.split(';') {
        match part.split_once('=') {
            Some(("FREQ", f)) => freq = f,
            Some(("INTERVAL", n)) => interval = n.parse().unwrap_or(1),
            Some(("BYDAY", list)) => days.extend(list.split(',')),
            Some(("BYMONTHDAY", list)) => month_days.extend(list.split(',').map(|d| format!("the {}", ordinal(d)))),
            Some(("BYMONTH", m)) => month = m.parse::<usize>().ok(),
            Some(("BYHOUR", h)) => hour = h.parse::<u32>().ok(),
            Some(("BYMINUTE", m)) => minute = m.parse().unwrap_or(0),
            _ => {}
        }
    }
    let unit = match freq {
        "YEARLY" => "year",
        "MONTHLY" => "month",
        "WEEKLY" => "week",
        "DAILY" => "day",
        _ => "hour",
    };
    let every = match interval {
        1 => "every".to_string(),
        2 => "every other".to_string(),
        n => format!("every {n}"),
    };
    let plain_days = !days.is_empty() && days.iter().all(|d| d.len() == 2);
    let mut text = if freq == "WEEKLY" && plain_days {
        let names: Vec<String> = days.iter().map(|d| day_name(d)).collect();
        match (interval, days.as_slice()) {
            (1, ["MO", "TU", "WE", "TH", "FR"]) => "every weekday".to_string(),
            (1, ["SA", "SU"]) => "every weekend".to_string(),
            (1 | 2, _) => format!("{every} {}", join(&names)),
            (n, _) => format!("every {n} weeks on {}", join(&names)),
        }
    } else {
        let mut text = match interval {
            1 | 2 => format!("{every} {unit}"),
            n => format!("every {n} {unit}s"),
        };
        let mut on: Vec<String> = days.iter().map(|d| day_name(d)).collect();
        on.extend(month_days);
        if let (Some(m), [day]) = (month, on.as_slice()) {
            text.push_str(&format!(
                " on {} {}",
                crate::recurrence_text::MONTHS.get(m.wrapping_sub(1)).unwrap_or(&"?"),
                day.trim_start_matches("the ")
            ));
        } else if !on.is_empty() {
            text.push_str(" on ");
            text.push_str(&join(&on));
        }
        text
    };
    if let Some(hour) = hour {
        text.push_str(&format!(" at {hour}:{minute:02}"));
    }
    text
}

/// "a", "a and b", "a, b and c".
fn join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn day_name(code: &str) -> String {
    let (prefix, day) = code.split_at(code.len().saturating_sub(2));
    let name = match day {
        "MO" => "monday",
        "TU" => "tuesday",
        "WE" => "wednesday",
        "TH" => "thursday",
        "FR" => "friday",
        "SA" => "saturday",
        "SU" => "sunday",
        other => other,
    };
    match prefix {
        "" | "+" => name.to_string(),
        "-1" => format!("the last {name}"),
        n => format!("the {} {name}", ordinal(n.trim_start_matches('+'))),
    }
}

fn ordinal(n: &str) -> String {
    match n.parse::<i32>() {
        Ok(-1) => "last day".to_string(),
        Ok(v) if v > 0 => {
            let suffix = match (v % 10, v % 100) {
                (1, r) if r != 11 => "st",
                (2, r) if r != 12 => "nd",
                (3, r) if r != 13 => "rd",
                _ => "th",
            };
            format!("{v}{suffix}")
        }
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(rule: &str) -> RecurrenceInput {
        RecurrenceInput { rule: Some(rule.into()), ..Default::default() }
    }

    #[test]
    fn validation_table() {
        let ok = [
            ("FREQ=DAILY", "FREQ=DAILY"),
            ("rrule:freq=weekly;interval=2;byday=mo", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
            ("FREQ=MONTHLY;BYMONTHDAY=1", "FREQ=MONTHLY;BYMONTHDAY=1"),
            ("FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;BYDAY=-1FR"),
            ("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15"),
        ];
        for (input, stored) in ok {
            assert_eq!(Recurrence::from_input(&rule(input)).unwrap().rule, stored, "{input}");
        }
        let bad = [
            ("", "rule"),
            ("FREQ=FORTNIGHTLY", "rule"),
            ("FREQ=WEEKLY;BYDAY=XX", "rule"),
            ("FREQ=DAILY;INTERVAL=0", "rule"),
            ("FREQ=MINUTELY", "rule"),
            ("FREQ=MONTHLY;BYMONTHDAY=32", "rule"),
            ("DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY", "rule"),
            ("FREQ=DAILY;COUNT=0", "count"),
            ("FREQ=DAILY;COUNT=x", "rule"),
            ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "rule"),
            ("FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=31", "rule"),
            ("FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=31", "rule"),
            ("COUNT=3;RRULE:;FREQ=DAILY", "rule"),
            ("FREQ=YEARLY;BYDAY=3\u{fffd}0", "rule"),
            ("FREQ=DAILY;BYDAY", "rule"),
            ("FREQ=DAILY;BYMONTH=11;BYMONTHDAY=31;BYDAY=MO", "rule"),
        ];
        for (input, field) in bad {
            assert_eq!(Recurrence::from_input(&rule(input)).unwrap_err().field, field, "{input:?}");
        }
        let text_only = RecurrenceInput { text: Some("every other monday".into()), ..Default::default() };
        let from_text = Recurrence::from_input(&text_only).unwrap();
        assert_eq!(
            (from_text.rule.as_str(), from_text.describe().as_str()),
            ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "every other monday")
        );
        let long = format!("FREQ=DAILY;{}", "BYHOUR=1;".repeat(40));
        assert_eq!(Recurrence::from_input(&rule(&long)).unwrap_err().field, "rule");
        for unknown in ["FREQ=DAILY;OUNT=5", "FREQ=DAILY;BYDAY=MO\u{1f}", "FREQ=DAILY;X-NAME=1"] {
            assert_eq!(Recurrence::from_input(&rule(unknown)).unwrap_err().field, "rule", "{unknown}");
        }
        let spaced = Recurrence::from_input(&rule("FREQ=WEEKLY; BYDAY=MO")).unwrap();
        assert_eq!(spaced.rule, "FREQ=WEEKLY;BYDAY=MO");
        let leap = Recurrence::from_input(&rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29")).unwrap();
        assert_eq!(leap.rule, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29");
        let zero = RecurrenceInput { text: Some("every 0 days".into()), ..Default::default() };
        assert_eq!(Recurrence::from_input(&zero).unwrap_err().field, "text");
        let never = RecurrenceInput { text: Some("every feb 30".into()), ..Default::default() };
        assert_eq!(Recurrence::from_input(&never).unwrap_err().field, "text");
        let nonsense = RecurrenceInput { text: Some("now and then".into()), ..Default::default() };
        assert_eq!(Recurrence::from_input(&nonsense).unwrap_err().field, "text");
        let bounded = RecurrenceInput { text: Some("every day until 2027-01-31".into()), ..Default::default() };
        assert_eq!(Recurrence::from_input(&bounded).unwrap().until, NaiveDate::from_ymd_opt(2027, 1, 31));
    }

    #[test]
    fn count_and_until_move_out_of_the_rule() {
        let r = Recurrence::from_input(&rule("FREQ=DAILY;COUNT=5;UNTIL=20261231T000000Z")).unwrap();
        assert_eq!(r.rule, "FREQ=DAILY");
        assert_eq!(r.count, Some(5));
        assert_eq!(r.until, NaiveDate::from_ymd_opt(2026, 12, 31));
        let conflict = RecurrenceInput { count: Some(3), ..rule("FREQ=DAILY;COUNT=5") };
        assert_eq!(Recurrence::from_input(&conflict).unwrap_err().field, "count");
    }

    #[test]
    fn next_keeps_wall_clock_time_across_dst() {
        // Weekly on Monday 09:00 in New York; DST ends on 2026-11-01.
        let ny: Tz = "America/New_York".parse().unwrap();
        let anchor = ny.with_ymd_and_hms(2026, 10, 19, 9, 0, 0).unwrap().with_timezone(&Utc);
        let now = Utc.with_ymd_and_hms(2026, 10, 20, 0, 0, 0).unwrap();
        let r = Recurrence::from_input(&rule("FREQ=WEEKLY;BYDAY=MO")).unwrap();
        let next = r.view(anchor, now, ny).next;
        let utc = |d, h| Utc.with_ymd_and_hms(2026, 10, d, h, 0, 0).unwrap();
        assert_eq!(
            next,
            vec![
                utc(26, 13),
                Utc.with_ymd_and_hms(2026, 11, 2, 14, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 11, 9, 14, 0, 0).unwrap()
            ]
        );
        // The same rule evaluated in UTC would drift by an hour in local time.
        let in_utc = r.view(anchor, now, Tz::UTC).next;
        assert_eq!(in_utc[1], Utc.with_ymd_and_hms(2026, 11, 2, 13, 0, 0).unwrap());
    }

    #[test]
    fn an_hourly_series_crosses_the_spring_forward_gap_once() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let anchor = ny.with_ymd_and_hms(2023, 3, 12, 1, 58, 0).unwrap().with_timezone(&Utc);
        let r = Recurrence::from_input(&rule("FREQ=HOURLY")).unwrap();
        let next = r.occurrences_after(anchor, anchor - chrono::Duration::milliseconds(1), ny, 4);
        let utc = |h| Utc.with_ymd_and_hms(2023, 3, 12, h, 58, 0).unwrap();
        assert_eq!(next, vec![utc(6), utc(7), utc(8), utc(9)]);
    }

    #[test]
    fn next_respects_count_and_until() {
        let anchor = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let before = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let counted = Recurrence::from_input(&rule("FREQ=DAILY;COUNT=2")).unwrap();
        assert_eq!(counted.view(anchor, before, Tz::UTC).next.len(), 2);
        let bounded = RecurrenceInput { until: NaiveDate::from_ymd_opt(2026, 12, 2), ..rule("FREQ=DAILY") };
        let next = Recurrence::from_input(&bounded).unwrap().view(anchor, before, Tz::UTC).next;
        assert_eq!(next, vec![anchor, anchor + chrono::Duration::days(1)]);
    }

    #[test]
    fn descriptions() {
        assert_eq!(describe("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"), "every other monday");
        assert_eq!(describe("FREQ=WEEKLY;BYDAY=MO,WE,FR"), "every monday, wednesday and friday");
        assert_eq!(describe("FREQ=WEEKLY;INTERVAL=3;BYDAY=TU"), "every 3 weeks on tuesday");
        assert_eq!(describe("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"), "every weekday");
        assert_eq!(describe("FREQ=MONTHLY;BYMONTHDAY=1"), "every month on the 1st");
        assert_eq!(describe("FREQ=DAILY;INTERVAL=3"), "every 3 days");
        assert_eq!(describe("FREQ=MONTHLY;BYDAY=-1FR"), "every month on the last friday");
        assert_eq!(describe("FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=27"), "every year on january 27th");
        assert_eq!(describe("FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0"), "every monday at 9:00");
        let input = RecurrenceInput { text: Some("every! day until 2027-06-30".into()), ..Default::default() };
        let r = Recurrence::from_input(&input).unwrap();
        assert!(r.from_completion);
        assert_eq!(r.describe(), "every day, counted from completion until 2027-06-30");
    }

    /// Phrases -> the next three occurrences, in the user's timezone, from a task due
    /// on Monday 2027-03-22 09:00 in Berlin (DST starts there on 2027-03-28).
    #[test]
    fn phrases_give_the_right_next_dates() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let local = |y, m, d, h, min| berlin.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().with_timezone(&Utc);
        let anchor = local(2027, 3, 22, 9, 0);
        let now = local(2027, 3, 21, 0, 0);
        let table: [(&str, [DateTime<Utc>; 3]); 10] = [
            ("every day", [local(2027, 3, 22, 9, 0), local(2027, 3, 23, 9, 0), local(2027, 3, 24, 9, 0)]),
            // Wall-clock 9:00 on both sides of the DST change (08:00 UTC, then 07:00 UTC).
            ("every monday 9am", [local(2027, 3, 22, 9, 0), local(2027, 3, 29, 9, 0), local(2027, 4, 5, 9, 0)]),
            ("every other monday", [local(2027, 3, 22, 9, 0), local(2027, 4, 5, 9, 0), local(2027, 4, 19, 9, 0)]),
            // The series starts at the due time, so 7:30 on the due day is already past.
            (
                "every weekday at 7:30",
                [local(2027, 3, 23, 7, 30), local(2027, 3, 24, 7, 30), local(2027, 3, 25, 7, 30)],
            ),
            ("every 3rd friday", [local(2027, 4, 16, 9, 0), local(2027, 5, 21, 9, 0), local(2027, 6, 18, 9, 0)]),
            ("every 27th", [local(2027, 3, 27, 9, 0), local(2027, 4, 27, 9, 0), local(2027, 5, 27, 9, 0)]),
            ("every last day", [local(2027, 3, 31, 9, 0), local(2027, 4, 30, 9, 0), local(2027, 5, 31, 9, 0)]),
            ("every jan 27th", [local(2028, 1, 27, 9, 0), local(2029, 1, 27, 9, 0), local(2030, 1, 27, 9, 0)]),
            ("every 12 hours", [local(2027, 3, 22, 9, 0), local(2027, 3, 22, 21, 0), local(2027, 3, 23, 9, 0)]),
            (
                "every monday starting 2027-04-12",
                [local(2027, 4, 12, 9, 0), local(2027, 4, 19, 9, 0), local(2027, 4, 26, 9, 0)],
            ),
        ];
        for (text, expected) in table {
            let input = RecurrenceInput { text: Some(text.into()), ..Default::default() };
            let r = Recurrence::from_input(&input).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(r.view(anchor, now, berlin).next, expected.to_vec(), "{text}");
        }
        let counted = RecurrenceInput { text: Some("every day for 2 times".into()), ..Default::default() };
        assert_eq!(Recurrence::from_input(&counted).unwrap().view(anchor, now, berlin).next.len(), 2);
        let until = RecurrenceInput { text: Some("every day until 2027-03-23".into()), ..Default::default() };
        assert_eq!(Recurrence::from_input(&until).unwrap().view(anchor, now, berlin).next.len(), 2);
    }
}
