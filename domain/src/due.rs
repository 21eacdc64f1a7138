use chrono::{DateTime, Datelike, DurationRound, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A resolved due date: an instant, and whether only its day matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// For an all-day due date, the start of that day in the user's timezone.
    pub at: DateTime<Utc>,
    /// True when no time of day was given ("tomorrow", "2026-12-01").
    pub all_day: bool,
}

/// Longest due-date text, in characters: dates are short, and the phrase parser
/// need not see more.
pub const MAX_DUE_CHARS: usize = 100;

/// Parses a due date typed by a person, in their timezone `tz`, relative to `now`.
///
/// Accepts RFC 3339 (`2026-12-01T17:00:00Z`), ISO dates and local date-times
/// (`2026-12-01`, `2026-12-01 17:00`) and English phrases: `today`, `tomorrow 5pm`,
/// `next monday`, `friday 9:30`, `in 3 days`, `in 2 hours`, `nov 30`, `dec 1 at noon`.
/// Phrases without a time of day are all-day.
pub fn parse_due(text: &str, tz: Tz, now: DateTime<Utc>) -> Result<Due, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().count() > MAX_DUE_CHARS {
        return Err(format!("must be at most {MAX_DUE_CHARS} characters"));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(trimmed) {
        return checked(Due { at: at.with_timezone(&Utc), all_day: false });
    }
    if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        return checked(Due { at: start_of_day(tz, date), all_day: true });
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(trimmed, format) {
            return checked(Due { at: local_to_utc(tz, local), all_day: false });
        }
    }
    let phrase = normalize_phrase(trimmed);
    let timed = mentions_time_of_day(&phrase);
    let local_now = now.with_timezone(&tz);
    let not_understood = || {
        format!(
            "could not understand {trimmed:?} as a date; try \"tomorrow 5pm\", \"next monday\", \
             \"in 3 days\", \"nov 30\" or 2026-12-01T17:00:00Z"
        )
    };
    // interim asserts that a word has fewer than 16 letters (found by fuzzing); no
    // date word is that long. Any other assertion of it must not become a panic of ours.
    if phrase.split(|c: char| !c.is_alphabetic()).any(|word| word.len() >= 16) {
        return Err(not_understood());
    }
    let parsed = std::panic::catch_unwind(|| interim::parse_date_string(&phrase, local_now, interim::Dialect::Us))
        .map_err(|_| not_understood())?
        .map_err(|_| not_understood())?;
    let due = if timed {
        Due { at: parsed.with_timezone(&Utc), all_day: false }
    } else {
        Due { at: start_of_day(tz, parsed.date_naive()), all_day: true }
    };
    checked(due)
}

/// Keeps instants to whole milliseconds, the precision the store keeps.
pub(crate) fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(chrono::Duration::milliseconds(1)).unwrap_or(at)
}

fn checked(due: Due) -> Result<Due, String> {
    let year = due.at.year();
    if (1970..=9999).contains(&year) {
        Ok(Due { at: to_millis(due.at), ..due })
    } else {
        Err("must be between the years 1970 and 9999".into())
    }
}

/// Rewrites common phrasings into the grammar of `interim`.
fn normalize_phrase(text: &str) -> String {
    let lower = text.to_lowercase();
    let mut words: Vec<&str> = lower.split_whitespace().collect();
    if words.first() == Some(&"in") {
        words.remove(0);
    }
    let mut out: Vec<String> = Vec::with_capacity(words.len() + 1);
    let mut i = 0;
    while i < words.len() {
        let word = words[i].trim_end_matches(',');
        let next_is_weekday = words.get(i + 1).is_some_and(|w| is_weekday(w));
        let bare_hour = words.get(i + 1).and_then(|w| w.trim_end_matches(',').parse::<u32>().ok());
        match word {
            // "at 10" is 10:00, "at 4" 16:00: a bare hour after "at" is a time of day,
            // and people mean the afternoon by 1 to 6.
            "at" if bare_hour.is_some_and(|h| (1..=23).contains(&h)) => {
                let hour = bare_hour.unwrap_or(0);
                out.push(format!("{}:00", if hour <= 6 { hour + 12 } else { hour }));
                i += 1;
            }
            "at" | "on" | "by" => {}
            // "next monday" and "this monday" both mean the coming monday, as people
            // usually intend; "next week" keeps its meaning.
            "next" | "this" if next_is_weekday => {}
            "noon" | "midday" => out.push("12:00".into()),
            "midnight" => out.push("0:00".into()),
            "tonight" => {
                out.push("today".into());
                out.push("20:00".into());
            }
            "morning" => out.push("9:00".into()),
            "afternoon" => out.push("15:00".into()),
            "evening" => out.push("18:00".into()),
            _ => out.push(word.to_string()),
        }
        i += 1;
    }
    out.join(" ")
}

fn is_weekday(word: &str) -> bool {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    DAYS.iter().any(|d| word.starts_with(d))
}

/// Whether a normalised phrase names a time of day or an offset in hours/minutes.
fn mentions_time_of_day(phrase: &str) -> bool {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    words.iter().enumerate().any(|(i, w)| {
        let clock = w.contains(':') && w.chars().next().is_some_and(|c| c.is_ascii_digit());
        let meridiem = (w.ends_with("am") || w.ends_with("pm"))
            && w.trim_end_matches("am").trim_end_matches("pm").chars().all(|c| c.is_ascii_digit() || c == ':')
            && w.len() > 2;
        let bare_meridiem = (*w == "am" || *w == "pm") && i > 0;
        let unit = ["hour", "hours", "hr", "hrs", "h", "minute", "minutes", "min", "mins", "m"].contains(w)
            && i > 0
            && words[i - 1].chars().all(|c| c.is_ascii_digit());
        clock || meridiem || bare_meridiem || unit
    })
}

/// A task's new due date from words, as a person moving it means them: words that name
/// only a day keep the task's time of day ("postpone it to tuesday" stays at 15:00),
/// and words that name only a time keep its day ("it's actually at 4pm").
pub fn reschedule(current: Option<Due>, text: &str, tz: Tz, now: DateTime<Utc>) -> Result<Due, String> {
    let due = parse_due(text, tz, now)?;
    let Some(current) = current else { return Ok(due) };
    let old = current.at.with_timezone(&tz);
    let new = due.at.with_timezone(&tz);
    if due.all_day && !current.all_day {
        return Ok(Due { at: local_to_utc(tz, new.date_naive().and_time(old.time())), all_day: false });
    }
    if !due.all_day && !names_a_day(text) {
        return Ok(Due { at: local_to_utc(tz, old.date_naive().and_time(new.time())), all_day: false });
    }
    Ok(due)
}

/// Whether date words name a day (or an offset from now) rather than only a time of day.
fn names_a_day(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.chars().filter(|c| c.is_ascii_digit()).count() >= 4 && lower.contains('-')
        || lower.split(|c: char| !c.is_alphanumeric()).any(|word| {
            matches!(
                word,
                "today"
                    | "tomorrow"
                    | "tonight"
                    | "yesterday"
                    | "day"
                    | "days"
                    | "week"
                    | "weeks"
                    | "month"
                    | "months"
                    | "year"
                    | "years"
                    | "weekend"
                    | "hour"
                    | "hours"
                    | "hr"
                    | "hrs"
                    | "h"
                    | "minute"
                    | "minutes"
                    | "min"
                    | "mins"
                    | "m"
            ) || is_weekday(word)
                || crate::recurrence_text::MONTHS.iter().any(|m| word.len() >= 3 && m.starts_with(word))
        })
}

/// The UTC instant at which `date` starts in `tz`.
pub fn start_of_day(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    local_to_utc(tz, date.and_time(NaiveTime::MIN))
}

/// Resolves a local wall-clock time; in a DST gap, the first valid instant after it.
pub(crate) fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    for _ in 0..4 {
        if let Some(at) = tz.from_local_datetime(&probe).earliest() {
            return at.with_timezone(&Utc);
        }
        probe += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Tz {
        "Europe/Berlin".parse().unwrap()
    }

    /// Thursday 2026-11-26 10:00 in Berlin (09:00 UTC).
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
    }

    fn local(text: &str) -> (String, bool) {
        let due = parse_due(text, berlin(), now()).unwrap_or_else(|e| panic!("{text}: {e}"));
        (due.at.with_timezone(&berlin()).format("%Y-%m-%d %H:%M").to_string(), due.all_day)
    }

    #[test]
    fn phrases_resolve_in_the_users_timezone() {
        let table = [
            ("today", "2026-11-26 00:00", true),
            ("Tomorrow", "2026-11-27 00:00", true),
            ("tomorrow 5pm", "2026-11-27 17:00", false),
            ("tomorrow at 5pm", "2026-11-27 17:00", false),
            ("next monday", "2026-11-30 00:00", true),
            ("monday", "2026-11-30 00:00", true),
            ("in 3 days", "2026-11-29 00:00", true),
            ("in 2 hours", "2026-11-26 12:00", false),
            ("in 30 minutes", "2026-11-26 10:30", false),
            ("nov 30", "2026-11-30 00:00", true),
            ("November 30", "2026-11-30 00:00", true),
            ("friday 9:30", "2026-11-27 09:30", false),
            ("fri at 9:30am", "2026-11-27 09:30", false),
            ("dec 1 at noon", "2026-12-01 12:00", false),
            ("tonight", "2026-11-26 20:00", false),
            ("thursday at 10", "2026-11-26 10:00", false),
            ("friday at 4", "2026-11-27 16:00", false),
            ("next monday morning", "2026-11-30 09:00", false),
            ("5pm", "2026-11-26 17:00", false),
            ("2026-12-01", "2026-12-01 00:00", true),
            ("2026-12-01 17:00", "2026-12-01 17:00", false),
            ("2026-12-01T17:00", "2026-12-01 17:00", false),
            ("2026-12-01T17:00:00Z", "2026-12-01 18:00", false),
            ("2026-12-01T17:00:00+01:00", "2026-12-01 17:00", false),
        ];
        for (text, want, all_day) in table {
            assert_eq!(local(text), (want.to_string(), all_day), "{text}");
        }
    }

    #[test]
    fn rescheduling_keeps_the_part_not_named() {
        let at = |text: &str| parse_due(text, berlin(), now()).unwrap();
        let moved = |current: Option<Due>, text: &str| {
            let due = reschedule(current, text, berlin(), now()).unwrap();
            (due.at.with_timezone(&berlin()).format("%Y-%m-%d %H:%M").to_string(), due.all_day)
        };
        let timed = Some(at("tuesday 15:00"));
        assert_eq!(moved(timed, "next friday"), ("2026-11-27 15:00".into(), false), "a day keeps the time");
        assert_eq!(moved(timed, "4pm"), ("2026-12-01 16:00".into(), false), "a time keeps the day");
        assert_eq!(moved(timed, "saturday 9am"), ("2026-11-28 09:00".into(), false));
        assert_eq!(moved(timed, "in 2 hours"), ("2026-11-26 12:00".into(), false), "an offset is from now");
        assert_eq!(moved(Some(at("tuesday")), "friday"), ("2026-11-27 00:00".into(), true));
        assert_eq!(moved(Some(at("tuesday")), "4pm"), ("2026-12-01 16:00".into(), false));
        assert_eq!(moved(None, "4pm"), ("2026-11-26 16:00".into(), false));
        assert_eq!(moved(timed, "2026-12-24"), ("2026-12-24 15:00".into(), false));
    }

    #[test]
    fn the_same_words_mean_another_instant_elsewhere() {
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let due = parse_due("tomorrow 9am", tokyo, now()).unwrap();
        assert_eq!(due.at, Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap());
    }

    #[test]
    fn rejects_nonsense_with_a_hint() {
        for text in [
            "",
            "   ",
            "whenever",
            "the day after never",
            "2026-13-45",
            "0001-01-01T00:00:00Z",
            "thurs0myyyyyyyyyyyyyyyyyyyyyyyyeveningmpm",
        ] {
            let err = parse_due(text, berlin(), now()).unwrap_err();
            assert!(!err.is_empty(), "{text}");
        }
    }

    #[test]
    fn midnight_in_a_dst_gap_moves_forward() {
        // Chile springs forward at 00:00 -> 01:00 (2026-09-06 in America/Santiago).
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let at = start_of_day(santiago, date).with_timezone(&santiago);
        assert_eq!(at.date_naive(), date);
    }
}
