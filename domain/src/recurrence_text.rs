//! Natural-language recurrence ("every other monday", "every month on the 1st",
//! "weekdays until 2027-06-30") turned into an RFC 5545 RRULE.

use chrono::NaiveDate;

/// What a recurrence phrase means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRecurrence {
    /// The RRULE body, without COUNT/UNTIL.
    pub rule: String,
    /// `until <date>`.
    pub until: Option<NaiveDate>,
    /// `for N times` / `N times`.
    pub count: Option<u32>,
}

const DAYS: [(&str, &str); 7] = [
    ("monday", "MO"),
    ("tuesday", "TU"),
    ("wednesday", "WE"),
    ("thursday", "TH"),
    ("friday", "FR"),
    ("saturday", "SA"),
    ("sunday", "SU"),
];

const MONTHS: [&str; 12] = [
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

/// Parses a recurrence phrase.
pub fn parse_recurrence_text(text: &str) -> Result<ParsedRecurrence, String> {
    let lower = text.trim().to_lowercase().replace(',', " ");
    let mut words: Vec<&str> = lower.split_whitespace().filter(|w| !matches!(*w, "and" | "&")).collect();
    let hint = || {
        format!(
            "could not understand {text:?} as a recurrence; try \"every day\", \"every other monday\", \
             \"every month on the 1st\", \"every last friday\", \"weekdays\" or \"every year on mar 15\""
        )
    };
    // Bounds at the end: "until 2027-06-30", "for 10 times", "5 times".
    let mut until = None;
    let mut count = None;
    if let Some(at) = words.iter().position(|w| *w == "until") {
        let date = words.get(at + 1).ok_or_else(hint)?;
        until = Some(
            NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| format!("until needs a date such as 2027-06-30, not {date:?}"))?,
        );
        words.truncate(at);
    }
    if words.last() == Some(&"times") && words.len() >= 2 {
        let n = words[words.len() - 2].parse::<u32>().map_err(|_| hint())?;
        count = Some(n);
        words.truncate(words.len() - 2);
        if words.last() == Some(&"for") {
            words.pop();
        }
    }
    let rule = rule_of(&words).ok_or_else(hint)?;
    Ok(ParsedRecurrence { rule, until, count })
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
        // "every month on the last day"
        (None | Some("MONTHLY"), ["last", "day"]) => {
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

    #[test]
    fn phrases_become_rules() {
        let table = [
            ("every day", "FREQ=DAILY"),
            ("Daily", "FREQ=DAILY"),
            ("every week", "FREQ=WEEKLY"),
            ("monthly", "FREQ=MONTHLY"),
            ("every year", "FREQ=YEARLY"),
            ("every weekday", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
            ("weekends", "FREQ=WEEKLY;BYDAY=SA,SU"),
            ("every monday", "FREQ=WEEKLY;BYDAY=MO"),
            ("every other monday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
            ("every mon, wed and fri", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
            ("every tuesday & thursday", "FREQ=WEEKLY;BYDAY=TU,TH"),
            ("every 3 days", "FREQ=DAILY;INTERVAL=3"),
            ("every 2 weeks", "FREQ=WEEKLY;INTERVAL=2"),
            ("every other month", "FREQ=MONTHLY;INTERVAL=2"),
            ("every 6 hours", "FREQ=HOURLY;INTERVAL=6"),
            ("every month on the 1st", "FREQ=MONTHLY;BYMONTHDAY=1"),
            ("monthly on the 15th", "FREQ=MONTHLY;BYMONTHDAY=15"),
            ("every 1st", "FREQ=MONTHLY;BYMONTHDAY=1"),
            ("every month on the last day", "FREQ=MONTHLY;BYMONTHDAY=-1"),
            ("every last friday", "FREQ=MONTHLY;BYDAY=-1FR"),
            ("every month on the first monday", "FREQ=MONTHLY;BYDAY=1MO"),
            ("every year on mar 15", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15"),
            ("every march 15th", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15"),
            ("every 15 march", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15"),
        ];
        for (text, rule) in table {
            assert_eq!(parse_recurrence_text(text).map(|p| p.rule), Ok(rule.to_string()), "{text}");
        }
    }

    #[test]
    fn bounds_and_errors() {
        let p = parse_recurrence_text("every day until 2027-06-30").unwrap();
        assert_eq!((p.rule.as_str(), p.until), ("FREQ=DAILY", NaiveDate::from_ymd_opt(2027, 6, 30)));
        let p = parse_recurrence_text("every week for 10 times").unwrap();
        assert_eq!(p.count, Some(10));
        assert_eq!(parse_recurrence_text("every monday 3 times").unwrap().count, Some(3));
        for bad in
            ["", "sometimes", "every", "every blue moon", "every day until tomorrow-ish", "every 32nd", "every other"]
        {
            assert!(parse_recurrence_text(bad).is_err(), "{bad}");
        }
    }
}
