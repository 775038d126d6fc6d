//! Dates as pages write them (`2016-05-24`, `2016-05-24T18:00:03+02:00`,
//! `2016-05-24 18:00:03.123Z`…) to one form: RFC 3339 in UTC with
//! milliseconds, `YYYY-MM-DDTHH:MM:SS.sssZ` (JavaScript's `toISOString`). What is not such a date is dropped, so that
//! clients can rely on the format.

fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = s.get(at..at + n)?;
    part.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Normalises an ISO 8601 date or date-time to UTC; `None` if it is not one.
pub fn normalise(s: &str) -> Option<String> {
    let b = s.trim().as_bytes();
    let (y, mo, d) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&mo) {
        return None;
    }
    if !(1..=31).contains(&d) || !(1000..=9999).contains(&y) {
        return None;
    }
    let mut secs = 0i64;
    let mut millis = 0u32;
    let mut i = 10;
    if matches!(b.get(10), Some(b'T' | b't' | b' ')) && b.get(11).is_some_and(u8::is_ascii_digit) {
        let (h, mi) = (digits(b, 11, 2)?, digits(b, 14, 2)?);
        if b.get(13) != Some(&b':') || h > 23 || mi > 59 {
            return None;
        }
        i = 16;
        let mut sec = 0;
        if b.get(16) == Some(&b':') {
            sec = digits(b, 17, 2).filter(|s| *s <= 60)?;
            i = 19;
            if b.get(19) == Some(&b'.') {
                let n = b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
                // Milliseconds: the first three digits, padded.
                millis = (0..3).fold(0, |acc, k| {
                    acc * 10
                        + if k < n {
                            u32::from(b[20 + k] - b'0')
                        } else {
                            0
                        }
                });
                i += 1 + n;
            }
        }
        secs = i64::from(h * 3600 + mi * 60 + sec);
        // Offset: `Z`, `+hh:mm`, `+hhmm`, `+hh`; none means UTC.
        match b.get(i) {
            Some(b'Z' | b'z') => i += 1,
            Some(&sign @ (b'+' | b'-')) => {
                let oh = digits(b, i + 1, 2).filter(|h| *h <= 23)?;
                let colon = usize::from(b.get(i + 3) == Some(&b':'));
                let om = digits(b, i + 3 + colon, 2).unwrap_or(0);
                let len = if digits(b, i + 3 + colon, 2).is_some() {
                    5 + colon
                } else {
                    3
                };
                let off = i64::from(oh * 3600 + om * 60);
                secs += if sign == b'+' { -off } else { off };
                i += len;
            }
            _ => {}
        }
    }
    if i != b.len() {
        return None;
    }
    let total = days_from_civil(i64::from(y), mo, d) * 86_400 + secs;
    let (days, rem) = (total.div_euclid(86_400), total.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    Some(format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

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

/// An English month name or its abbreviation ("Sep", "Sept", "Sept."), 1–12.
fn month(word: &str) -> Option<u32> {
    if word.len() < 3 || !word.is_ascii() {
        return None;
    }
    let w = word.to_ascii_lowercase();
    let n = MONTHS.iter().position(|m| {
        *m == w || (w.len() == 3 && m.starts_with(&w)) || (w == "sept" && *m == "september")
    })?;
    u32::try_from(n + 1).ok()
}

/// A day of the month as written: `5`, `05`, `11th`, `1st`.
fn day(word: &str) -> Option<u32> {
    let digits_end = word
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(word.len());
    let (n, suffix) = word.split_at(digits_end);
    let ok_suffix = matches!(
        suffix.to_ascii_lowercase().as_str(),
        "" | "st" | "nd" | "rd" | "th"
    );
    let short = (1..=2).contains(&n.len());
    let n: u32 = n.parse().ok()?;
    (ok_suffix && short && (1..=31).contains(&n)).then_some(n)
}

fn year(word: &str) -> Option<u32> {
    (word.len() == 4)
        .then(|| word.parse().ok())
        .flatten()
        .filter(|y| (1900..=2100).contains(y))
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A calendar day without a time: noon UTC, so that it is the same day
/// from UTC−11 to UTC+11 (metascraper does the same).
fn noon(y: u32, m: u32, d: u32) -> Option<String> {
    (d <= days_in_month(y, m)).then(|| format!("{y:04}-{m:02}-{d:02}T12:00:00.000Z"))
}

/// The first date in text written for people — "Thursday, May 26, 2016",
/// "26 May 2016", "Aug 14, 2020", "October 11th 2017" — or an ISO 8601 date
/// inside text ("by Ann | 2016-04-08T20:30:39+00:00"). English month
/// names only; a day without a time becomes noon UTC. `None` when there is
/// no such date: a number alone is never taken for one.
pub fn from_text(s: &str) -> Option<String> {
    // ISO first: it carries a time when there is one.
    let b = s.as_bytes();
    for start in 0..b.len().saturating_sub(9) {
        let at_word_start = start == 0 || !b[start - 1].is_ascii_alphanumeric();
        if !at_word_start || !b[start].is_ascii_digit() {
            continue;
        }
        let end = b[start..]
            .iter()
            .position(|c| !(c.is_ascii_digit() || b"-:.+TZtz".contains(c)))
            .map_or(b.len(), |n| start + n);
        let candidate = s.get(start..end)?.trim_end_matches(['.', ':', '-', '+']);
        let Some(iso) = normalise(candidate) else {
            continue;
        };
        if candidate.len() > 10 {
            return Some(iso);
        }
        // A day alone: noon, as for a day written in words.
        if let (Some(y), Some(m), Some(d)) = (
            year(&candidate[..4]),
            digits(b, start + 5, 2),
            digits(b, start + 8, 2),
        ) {
            return noon(y, m, d);
        }
    }
    let words: Vec<&str> = s
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_DATE_WORDS)
        .collect();
    for (i, w) in words.iter().enumerate() {
        let Some(m) = month(w) else { continue };
        let next = |k: usize| words.get(i + k).copied().unwrap_or("");
        // "May 26, 2016", "Oct 11th 2017"
        if let (Some(d), Some(y)) = (day(next(1)), year(next(2))) {
            return noon(y, m, d);
        }
        // "26 May 2016"
        if let (Some(d), Some(y)) = (i.checked_sub(1).and_then(|p| day(words[p])), year(next(1))) {
            return noon(y, m, d);
        }
    }
    None
}

/// Words of a text looked at for a date: a date line is short.
const MAX_DATE_WORDS: usize = 64;

#[cfg(test)]
mod tests {
    use super::{from_text, normalise};

    #[test]
    fn iso_dates_become_utc() {
        let n = |s| normalise(s);
        assert_eq!(n("2016-05-24").as_deref(), Some("2016-05-24T00:00:00.000Z"));
        assert_eq!(
            n("2021-09-17T08:00:00+08:00").as_deref(),
            Some("2021-09-17T00:00:00.000Z")
        );
        assert_eq!(
            n(" 2016-02-23T13:37:22.123-0500 ").as_deref(),
            Some("2016-02-23T18:37:22.123Z")
        );
        assert_eq!(
            n("2020-12-31T23:30Z").as_deref(),
            Some("2020-12-31T23:30:00.000Z")
        );
        assert_eq!(
            n("2021-01-01T00:30:00.5+01").as_deref(),
            Some("2020-12-31T23:30:00.500Z")
        );
        for bad in [
            "May 3, 2016",
            "2016-13-01",
            "2016-05-24Tx",
            "2016-05-24 junk",
            "",
            "2016",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_written_for_people_become_noon_utc() {
        let t = |s| from_text(s);
        let cases = [
            ("Thursday, May 26, 2016 ", "2016-05-26T12:00:00.000Z"),
            ("July 05, 2017", "2017-07-05T12:00:00.000Z"),
            ("Aug 14, 2020", "2020-08-14T12:00:00.000Z"),
            ("Sept. 3, 2019", "2019-09-03T12:00:00.000Z"),
            ("October 11th 2017", "2017-10-11T12:00:00.000Z"),
            ("26 May 2016", "2016-05-26T12:00:00.000Z"),
            (
                "by Kyt Dotson | May 16, 2016 | 3 comments",
                "2016-05-16T12:00:00.000Z",
            ),
            (
                "posted 2016-04-08T20:30:39+00:00",
                "2016-04-08T20:30:39.000Z",
            ),
            ("2016-04-08", "2016-04-08T12:00:00.000Z"),
            ("Feb 29, 2024", "2024-02-29T12:00:00.000Z"),
        ];
        for (text, want) in cases {
            assert_eq!(t(text).as_deref(), Some(want), "{text}");
        }
        for none in [
            "",
            "8:38 pm",
            "May",
            "May 2016",
            "Feb 30, 2023",
            "Mayday 5, 2016",
            "12 34 5678",
            "version 1.2.3",
            "room 2016-99-99",
            "今天",
            "May 5, 20160",
        ] {
            assert_eq!(t(none), None, "{none}");
        }
    }
}
