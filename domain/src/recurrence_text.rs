//! Natural-language recurrence ("every other monday", "every month on the 1st",
//! "weekdays until 2027-06-30") turned into an RFC 5545 RRULE.

use chrono::NaiveDate;

/// Longest recurrence phrase, in characters.
pub const MAX_RECURRENCE_CHARS: usize = 200;

/// What a recurrence phrase means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRecurrence {
    /// The RRULE body, without COUNT/UNTIL.
    pub rule: String,
    /// `until <date>`.
    pub until: Option<NaiveDate>,
    /// `for N times` / `N times`.
    pub count: Option<u32>,
    /// `starting <date>`: no occurrence before that day.
    pub starts: Option<NaiveDate>,
    /// `every!`: the next occurrence counts from completion.
    pub from_completion: bool,
}

/// Weekday names and their RRULE codes, Monday first.
pub(crate) const DAYS: [(&str, &str); 7] = [
    ("monday", "MO"),
    ("tuesday", "TU"),
    ("wednesday", "WE"),
    ("thursday", "TH"),
    ("friday", "FR"),
    ("saturday", "SA"),
    ("sunday", "SU"),
];

/// Month names, January first.
pub(crate) const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn weekday(word: &str) -> Option<&'static str> {
    let word = word.trim_end_matches('s');
    DAYS.iter().find(|(name, _)| word.len() >= 3 && name.starts_with(word)).map(|(_, code)| *code)
}

fn month(word: &str) -> Option<u32> {
    MONTHS.iter().position(|name| word.len() >= 3 && name.starts_with(word)).map(|i| i as u32 + 1)
}

fn is_zero(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b == b'0')
}

/// `1st`, `2nd`, `15th`, `31` -> 1..=31.
fn day_of_month(word: &str) -> Option<i32> {
    let digits = word.trim_end_matches(|c: char| c.is_alphabetic());
    digits.parse::<i32>().ok().filter(|d| (1..=31).contains(d))
}

/// `first`..`fourth`, `last`, `1st`.. -> position of a weekday in the month.
fn ordinal(word: &str) -> Option<i32> {
    match word {
        "first" | "1st" => Some(1),
        "second" | "2nd" => Some(2),
        "third" | "3rd" => Some(3),
        "fourth" | "4th" => Some(4),
        "fifth" | "5th" => Some(5),
        "last" => Some(-1),
        _ => None,
    }
}

fn unit(word: &str) -> Option<&'static str> {
    match word.trim_end_matches('s') {
        "hour" => Some("HOURLY"),
        "day" => Some("DAILY"),
        "week" => Some("WEEKLY"),
        "month" => Some("MONTHLY"),
        "year" => Some("YEARLY"),
        _ => None,
    }
}

const EXAMPLES: &str = "try \"every day\", \"every other monday\", \"every monday 9am\", \
     \"every month on the 1st\", \"every 3rd friday\", \"every jan 27th\", \"weekdays\" or \"every! 3 days\"";

/// Parses a recurrence phrase: a schedule ("every other monday"), optionally with a time
/// ("at 9am"), bounds ("until 2027-06-30", "for 10 times"), a first day ("starting
/// 2027-01-04") and `every!` for counting from completion. An error says what was
/// understood and what was not.
pub fn parse_recurrence_text(text: &str) -> Result<ParsedRecurrence, String> {
    let length = text.trim().chars().count();
    if length > MAX_RECURRENCE_CHARS {
        return Err(format!("a recurrence is at most {MAX_RECURRENCE_CHARS} characters, not {length}"));
    }
    let lower = text.trim().to_lowercase().replace(',', " ");
    let mut from_completion = false;
    let mut words: Vec<&str> = Vec::new();
    for word in lower.split_whitespace().filter(|w| !matches!(*w, "and" | "&")) {
        match word.strip_suffix('!') {
            Some(bare @ ("every" | "each")) => {
                from_completion = true;
                words.push(bare);
            }
            _ => words.push(word),
        }
    }
    if words.is_empty() {
        return Err(format!("a recurrence is needed; {EXAMPLES}"));
    }
    // "every 0 days" would otherwise read as "every day".
    if let Some(pair) =
        words.windows(3).find(|w| matches!(w[0], "every" | "each") && is_zero(w[1]) && unit(w[2]).is_some())
    {
        return Err(format!("\"{} {} {}\" never repeats: the interval must be at least 1", pair[0], pair[1], pair[2]));
    }
    let until = take_date(&mut words, "until")?;
    let starts = take_date(&mut words, "starting")?;
    let count = take_count(&mut words)?;
    let time = take_time(&mut words)?;
    let Some(mut rule) = rule_of(&words) else {
        let understood = (1..words.len()).rev().find(|n| rule_of(&words[..*n]).is_some());
        return Err(match understood {
            Some(n) => format!("understood {:?} but not {:?}; {EXAMPLES}", words[..n].join(" "), words[n..].join(" ")),
            None => format!("could not understand {text:?} as a recurrence; {EXAMPLES}"),
        });
    };
    if let Some((hour, minute)) = time {
        if rule.starts_with("FREQ=HOURLY") {
            return Err("a time of day does not fit a rule that repeats every few hours".into());
        }
        rule.push_str(&format!(";BYHOUR={hour};BYMINUTE={minute};BYSECOND=0"));
    }
    Ok(ParsedRecurrence { rule, until, count, starts, from_completion })
}

/// Takes `<keyword> <date>` out of `words`: the date is the words up to the next
/// keyword of the phrase, written as 2027-06-30, "jun 30 2027" or "30 june 2027".
fn take_date(words: &mut Vec<&str>, keyword: &str) -> Result<Option<NaiveDate>, String> {
    let Some(at) = words.iter().position(|w| *w == keyword) else {
        return Ok(None);
    };
    let mut end = at + 1;
    while end < words.len()
        && !matches!(words[end], "until" | "starting" | "for" | "at")
        && !words[end].ends_with("times")
    {
        end += 1;
    }
    let mut date_words: Vec<&str> = words[at + 1..end].to_vec();
    if date_words.first() == Some(&"on") {
        date_words.remove(0);
    }
    let date = parse_date(&date_words).ok_or_else(|| {
        format!("{keyword} needs a date such as 2027-06-30 or jun 30 2027, not {:?}", date_words.join(" "))
    })?;
    words.drain(at..end);
    Ok(Some(date))
}

fn parse_date(words: &[&str]) -> Option<NaiveDate> {
    match words {
        [iso] => NaiveDate::parse_from_str(iso, "%Y-%m-%d").ok(),
        [a, b, year] => {
            let year = year.parse::<i32>().ok()?;
            let (m, d) = match (month(a), month(b)) {
                (Some(m), _) => (m, day_of_month(b)?),
                (None, Some(m)) => (m, day_of_month(a)?),
                _ => return None,
            };
            NaiveDate::from_ymd_opt(year, m, d as u32)
        }
        _ => None,
    }
}

/// Takes "for 10 times" / "10 times" out of `words`.
fn take_count(words: &mut Vec<&str>) -> Result<Option<u32>, String> {
    let Some(at) = words.iter().position(|w| *w == "times" || *w == "time") else {
        return Ok(None);
    };
    let n = at
        .checked_sub(1)
        .and_then(|i| words[i].parse::<u32>().ok())
        .ok_or_else(|| "a count reads \"for 10 times\"".to_string())?;
    let mut start = at - 1;
    if start > 0 && words[start - 1] == "for" {
        start -= 1;
    }
    words.drain(start..=at);
    Ok(Some(n))
}

/// Takes a time of day out of `words`: "at 9am", "9:30pm", "at 17:00", "noon".
fn take_time(words: &mut Vec<&str>) -> Result<Option<(u32, u32)>, String> {
    for i in 0..words.len() {
        let after_at = i > 0 && words[i - 1] == "at";
        if let Some(time) = parse_time(words[i], after_at) {
            let start = if after_at { i - 1 } else { i };
            words.drain(start..=i);
            return Ok(Some(time));
        }
        if after_at {
            return Err(format!("\"at\" needs a time such as 9am or 17:30, not {:?}", words[i]));
        }
    }
    if words.last() == Some(&"at") {
        return Err("\"at\" needs a time such as 9am or 17:30".into());
    }
    Ok(None)
}

/// `9am`, `9:30pm`, `17:00`, `noon`, `midnight`; a bare hour (`9`) only after "at".
fn parse_time(word: &str, after_at: bool) -> Option<(u32, u32)> {
    match word {
        "noon" => return Some((12, 0)),
        "midnight" => return Some((0, 0)),
        _ => {}
    }
    let (clock, meridiem) = if let Some(c) = word.strip_suffix("am") {
        (c, Some(false))
    } else if let Some(c) = word.strip_suffix("pm") {
        (c, Some(true))
    } else {
        (word, None)
    };
    if meridiem.is_none() && !clock.contains(':') && !after_at {
        return None;
    }
    let (hour, minute) = match clock.split_once(':') {
        Some((h, m)) if m.len() == 2 => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        Some(_) => return None,
        None => (clock.parse::<u32>().ok()?, 0),
    };
    let hour = match meridiem {
        Some(pm) if (1..=12).contains(&hour) => hour % 12 + if pm { 12 } else { 0 },
        Some(_) => return None,
        None => hour,
    };
    (hour < 24 && minute < 60).then_some((hour, minute))
}

fn rule_of(words: &[&str]) -> Option<String> {
    let phrase = words.join(" ");
    let simple = match phrase.as_str() {
        "daily" | "every day" | "each day" => Some("FREQ=DAILY"),
        "weekly" | "every week" | "each week" => Some("FREQ=WEEKLY"),
        "monthly" | "every month" | "each month" => Some("FREQ=MONTHLY"),
        "yearly" | "annually" | "every year" | "each year" => Some("FREQ=YEARLY"),
        "hourly" | "every hour" => Some("FREQ=HOURLY"),
        "weekdays" | "every weekday" | "every workday" | "workdays" => Some("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
        "weekends" | "every weekend" => Some("FREQ=WEEKLY;BYDAY=SA,SU"),
        _ => None,
    };
    if let Some(rule) = simple {
        return Some(rule.to_string());
    }
    let mut rest: &[&str] = words;
    // "monthly on the 1st" reads as "every month on the 1st".
    let mut freq: Option<&str> = match rest.first() {
        Some(&"monthly") => Some("MONTHLY"),
        Some(&"yearly") | Some(&"annually") => Some("YEARLY"),
        Some(&"weekly") => Some("WEEKLY"),
        _ => None,
    };
    if freq.is_none() && !matches!(rest.first(), Some(&"every") | Some(&"each")) {
        return None;
    }
    rest = &rest[1..];
    let mut interval = 1;
    match rest.first() {
        Some(&"other") => {
            interval = 2;
            rest = &rest[1..];
        }
        Some(n) if n.parse::<u32>().is_ok() && rest.get(1).and_then(|w| unit(w)).is_some() => {
            interval = n.parse().ok()?;
            rest = &rest[1..];
        }
        _ => {}
    }
    if freq.is_none() {
        if let Some(u) = rest.first().and_then(|w| unit(w)) {
            freq = Some(u);
            rest = &rest[1..];
        }
    }
    let rest: Vec<&str> = rest.iter().copied().filter(|w| !matches!(*w, "on" | "the" | "of" | "in")).collect();
    let mut parts = Vec::new();
    match (freq, rest.as_slice()) {
        // "every monday", "every other mon wed fri"
        (None | Some("WEEKLY"), days) if !days.is_empty() && days.iter().all(|d| weekday(d).is_some()) => {
            freq = Some("WEEKLY");
            let codes: Vec<&str> = days.iter().filter_map(|d| weekday(d)).collect();
            parts.push(format!("BYDAY={}", codes.join(",")));
        }
        // "every last friday", "every month on the first monday"
        (None | Some("MONTHLY"), [which, day]) if ordinal(which).is_some() && weekday(day).is_some() => {
            freq = Some("MONTHLY");
            parts.push(format!("BYDAY={}{}", ordinal(which)?, weekday(day)?));
        }
        // "every month on the last day", "every last day"
        (None | Some("MONTHLY"), ["last", "day"] | ["last", "day", "month"]) => {
            freq = Some("MONTHLY");
            parts.push("BYMONTHDAY=-1".into());
        }
        // "every 1st", "every month on the 15th"
        (None | Some("MONTHLY"), [day]) if day_of_month(day).is_some() => {
            freq = Some("MONTHLY");
            parts.push(format!("BYMONTHDAY={}", day_of_month(day)?));
        }
        // "every march 15", "every year on 15 march"
        (None | Some("YEARLY"), [a, b])
            if (month(a).is_some() && day_of_month(b).is_some())
                || (day_of_month(a).is_some() && month(b).is_some()) =>
        {
            freq = Some("YEARLY");
            let (m, d) = if month(a).is_some() { (month(a)?, day_of_month(b)?) } else { (month(b)?, day_of_month(a)?) };
            parts.push(format!("BYMONTH={m};BYMONTHDAY={d}"));
        }
        (Some(_), []) => {}
        _ => return None,
    }
    let mut rule = format!("FREQ={}", freq?);
    if interval > 1 {
        rule.push_str(&format!(";INTERVAL={interval}"));
    }
    for part in parts {
        rule.push(';');
        rule.push_str(&part);
    }
    Some(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> String {
        parse_recurrence_text(text).unwrap_or_else(|e| panic!("{text}: {e}")).rule
    }

    #[test]
    fn phrases_become_rules() {
        let table = [
            ("every day", "FREQ=DAILY"),
            ("Daily", "FREQ=DAILY"),
            ("every week", "FREQ=WEEKLY"),
            ("monthly", "FREQ=MONTHLY"),
            ("every year", "FREQ=YEARLY"),
            ("annually", "FREQ=YEARLY"),
            ("every weekday", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
            ("weekdays", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
            ("every weekend", "FREQ=WEEKLY;BYDAY=SA,SU"),
            ("weekends", "FREQ=WEEKLY;BYDAY=SA,SU"),
            ("every monday", "FREQ=WEEKLY;BYDAY=MO"),
            ("every mon, fri", "FREQ=WEEKLY;BYDAY=MO,FR"),
            ("every other monday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
            ("every mon, wed and fri", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
            ("every tuesday & thursday", "FREQ=WEEKLY;BYDAY=TU,TH"),
            ("every 3 days", "FREQ=DAILY;INTERVAL=3"),
            ("every 2 weeks", "FREQ=WEEKLY;INTERVAL=2"),
            ("every other month", "FREQ=MONTHLY;INTERVAL=2"),
            ("every 12 hours", "FREQ=HOURLY;INTERVAL=12"),
            ("every 6 hours", "FREQ=HOURLY;INTERVAL=6"),
            ("every hour", "FREQ=HOURLY"),
            ("every 3rd friday", "FREQ=MONTHLY;BYDAY=3FR"),
            ("every first monday", "FREQ=MONTHLY;BYDAY=1MO"),
            ("every last friday", "FREQ=MONTHLY;BYDAY=-1FR"),
            ("every month on the first monday", "FREQ=MONTHLY;BYDAY=1MO"),
            ("every 27th", "FREQ=MONTHLY;BYMONTHDAY=27"),
            ("every 1st", "FREQ=MONTHLY;BYMONTHDAY=1"),
            ("every month on the 1st", "FREQ=MONTHLY;BYMONTHDAY=1"),
            ("monthly on the 15th", "FREQ=MONTHLY;BYMONTHDAY=15"),
            ("every last day", "FREQ=MONTHLY;BYMONTHDAY=-1"),
            ("every month on the last day", "FREQ=MONTHLY;BYMONTHDAY=-1"),
            ("every jan 27th", "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=27"),
            ("every year on mar 15", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15"),
            ("every march 15th", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15"),
            ("every 15 march", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15"),
            ("every monday 9am", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
            ("every monday at 9am", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
            ("every day at 17:30", "FREQ=DAILY;BYHOUR=17;BYMINUTE=30;BYSECOND=0"),
            ("every weekday at 8:15am", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=8;BYMINUTE=15;BYSECOND=0"),
            ("every day at noon", "FREQ=DAILY;BYHOUR=12;BYMINUTE=0;BYSECOND=0"),
            ("every friday at 5pm", "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=0;BYSECOND=0"),
            ("every 1st at 9", "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
            ("every sunday at midnight", "FREQ=WEEKLY;BYDAY=SU;BYHOUR=0;BYMINUTE=0;BYSECOND=0"),
        ];
        assert!(table.len() >= 40);
        for (text, expected) in table {
            assert_eq!(rule(text), expected, "{text}");
        }
    }

    #[test]
    fn bounds_start_and_mode() {
        let p = parse_recurrence_text("every day until 2027-06-30").unwrap();
        assert_eq!((p.rule.as_str(), p.until), ("FREQ=DAILY", NaiveDate::from_ymd_opt(2027, 6, 30)));
        let p = parse_recurrence_text("every week for 10 times").unwrap();
        assert_eq!(p.count, Some(10));
        assert_eq!(parse_recurrence_text("every monday 3 times").unwrap().count, Some(3));
        let p = parse_recurrence_text("every monday 9am starting 2027-01-04 until jun 30 2027").unwrap();
        assert_eq!(p.starts, NaiveDate::from_ymd_opt(2027, 1, 4));
        assert_eq!(p.until, NaiveDate::from_ymd_opt(2027, 6, 30));
        assert_eq!(p.rule, "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0");
        let p = parse_recurrence_text("every! 3 days").unwrap();
        assert!(p.from_completion);
        assert_eq!(p.rule, "FREQ=DAILY;INTERVAL=3");
        assert!(!parse_recurrence_text("every 3 days").unwrap().from_completion);
        let p = parse_recurrence_text("every other week starting 4 january 2027 for 5 times").unwrap();
        assert_eq!((p.count, p.starts), (Some(5), NaiveDate::from_ymd_opt(2027, 1, 4)));
    }

    #[test]
    fn errors_say_what_was_understood() {
        for bad in [
            "",
            "sometimes",
            "every",
            "every blue moon",
            "every day until tomorrow-ish",
            "every 32nd",
            "every other",
            "every 6 hours at 9am",
            "every day at teatime",
            "every monday starting soon",
            "every 12am",
            "every 0 days",
            "every 000 weeks",
        ] {
            assert!(parse_recurrence_text(bad).is_err(), "{bad}");
        }
        let err = parse_recurrence_text("every monday when it rains").unwrap_err();
        assert!(err.contains("understood \"every monday\" but not \"when it rains\""), "{err}");
        let err = parse_recurrence_text("every day at teatime").unwrap_err();
        assert!(err.contains("teatime"), "{err}");
        let err = parse_recurrence_text("every 0 days").unwrap_err();
        assert!(err.contains("at least 1"), "{err}");
        let err = parse_recurrence_text(&"every day ".repeat(30)).unwrap_err();
        assert!(err.contains("at most 200 characters"), "{err}");
    }
}
