//! The penalty ladder as a setting, and what is in force at an instant.
//!
//! Both are pure: the time is a parameter, so the tests move a clock of
//! their own through a penalty's life instead of waiting for it.
use std::collections::BTreeMap;
use std::fmt;

use kaifang_policy::Penalty as PenaltyFact;
use kaifang_store::{Penalty, PenaltyState, Rung, Timestamp};
use serde::{Deserialize, Serialize};

/// The penalty ladder (`moderation.ladder`): the n-th strike within the
/// window takes the n-th rung, and every strike past the end the last one.
/// Written as strings: `"restricted"` (until an appeal is granted) or
/// `"suspended <n><unit>"` with unit `s`, `m`, `h`, `d` or `w`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Ladder(Vec<Rung>);

impl Default for Ladder {
    /// WeChat's published ladder: restricted until fixed and appealed, then
    /// 12 hours, a day, and a week for the fourth strike and after.
    fn default() -> Self {
        let hour = 3_600_000;
        let suspended = |hours: i64| Rung {
            state: PenaltyState::Suspended,
            duration_ms: Some(hours * hour),
        };
        Self(vec![
            Rung {
                state: PenaltyState::Restricted,
                duration_ms: None,
            },
            suspended(12),
            suspended(24),
            suspended(168),
        ])
    }
}

impl Ladder {
    /// The rungs, first strike first.
    pub fn rungs(&self) -> &[Rung] {
        &self.0
    }
}

/// Why a ladder setting is refused; names the rung.
#[derive(Debug, PartialEq, Eq)]
pub struct LadderError(String);

impl fmt::Display for LadderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LadderError {}

fn parse_rung(text: &str) -> Result<Rung, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["restricted"] => Ok(Rung {
            state: PenaltyState::Restricted,
            duration_ms: None,
        }),
        ["suspended", span] => Ok(Rung {
            state: PenaltyState::Suspended,
            duration_ms: Some(parse_span(span)?),
        }),
        _ => Err("expected \"restricted\" or \"suspended <n><s|m|h|d|w>\"".to_owned()),
    }
}

fn parse_span(span: &str) -> Result<i64, String> {
    let unit_at = span
        .find(|c: char| !c.is_ascii_digit())
        .ok_or("the duration needs a unit: s, m, h, d or w")?;
    let (digits, unit) = span.split_at(unit_at);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("{span:?} does not start with a number"))?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h, d or w")),
    };
    match n.checked_mul(unit_ms) {
        Some(ms) if ms > 0 => Ok(ms),
        Some(_) => Err("a suspension must last longer than zero".to_owned()),
        None => Err(format!("{span:?} is too long")),
    }
}

impl TryFrom<Vec<String>> for Ladder {
    type Error = LadderError;

    fn try_from(rungs: Vec<String>) -> Result<Self, Self::Error> {
        if rungs.is_empty() {
            return Err(LadderError("the ladder needs at least one rung".into()));
        }
        rungs
            .iter()
            .enumerate()
            .map(|(i, text)| {
                parse_rung(text)
                    .map_err(|why| LadderError(format!("rung {} ({text:?}): {why}", i + 1)))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl From<Ladder> for Vec<String> {
    fn from(ladder: Ladder) -> Self {
        ladder
            .0
            .iter()
            .map(|r| match r.duration_ms {
                None => r.state.as_str().to_owned(),
                Some(ms) => format!("{} {}", r.state.as_str(), span(ms)),
            })
            .collect()
    }
}

/// A duration in the largest unit that divides it.
fn span(ms: i64) -> String {
    let units = [
        (604_800_000, "w"),
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
    ];
    for (unit, name) in units {
        if ms % unit == 0 {
            return format!("{}{name}", ms / unit);
        }
    }
    format!("{}s", ms / 1_000)
}

/// The policy's word for a stored penalty state.
pub fn fact(state: PenaltyState) -> PenaltyFact {
    match state {
        PenaltyState::Restricted => PenaltyFact::Restricted,
        PenaltyState::Suspended => PenaltyFact::Suspended,
    }
}

/// The penalty book at `now` — each domain's heaviest penalty in force
/// (suspended over restricted) — and the next instant it changes by
/// itself (a suspension ending), if any.
pub fn book_at(
    penalties: &[Penalty],
    now: Timestamp,
) -> (BTreeMap<String, PenaltyFact>, Option<Timestamp>) {
    let mut book = BTreeMap::new();
    let mut next: Option<Timestamp> = None;
    for p in penalties.iter().filter(|p| p.in_force(now)) {
        let state = fact(p.state);
        book.entry(p.domain.clone())
            .and_modify(|s: &mut PenaltyFact| *s = (*s).max(state))
            .or_insert(state);
        if let Some(end) = p.ends_at {
            next = Some(next.map_or(end, |n| n.min(end)));
        }
    }
    (book, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder(rungs: &[&str]) -> Result<Ladder, LadderError> {
        Ladder::try_from(rungs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_default_is_wechats_ladder_and_reads_back_as_written() {
        let written: Vec<String> = Ladder::default().into();
        assert_eq!(
            written,
            [
                "restricted",
                "suspended 12h",
                "suspended 1d",
                "suspended 1w"
            ]
        );
        assert_eq!(
            ladder(&[
                "restricted",
                "suspended 12h",
                "suspended 1d",
                "suspended 1w"
            ]),
            Ok(Ladder::default())
        );
        assert_eq!(
            ladder(&["suspended 90s"]).unwrap().rungs()[0].duration_ms,
            Some(90_000)
        );
    }

    #[test]
    fn a_malformed_ladder_names_the_rung() {
        let why = |rungs: &[&str]| ladder(rungs).unwrap_err().to_string();
        assert_eq!(why(&[]), "the ladder needs at least one rung");
        assert!(why(&["restricted", "banned"]).starts_with("rung 2 (\"banned\"): expected"));
        assert!(why(&["suspended 12"]).contains("needs a unit"));
        assert!(why(&["suspended 12y"]).contains("unknown unit \"y\""));
        assert!(why(&["suspended 0h"]).contains("longer than zero"));
        assert!(why(&["suspended h"]).contains("does not start with a number"));
        assert!(why(&["suspended 99999999999999w"]).contains("too long"));
    }

    fn penalty(id: i64, domain: &str, state: PenaltyState, ends_at: Option<i64>) -> Penalty {
        Penalty {
            id,
            domain: domain.into(),
            platform: "p".into(),
            owner: "o".into(),
            complaint_id: id,
            strike: 1,
            state,
            starts_at: 100,
            ends_at,
            lifted_at: None,
            lifted_by: None,
        }
    }

    /// A test clock walks a 12-hour suspension on top of a restriction
    /// through its life: the suspension rules while it lasts, then the
    /// restriction is back, and the book says when to look again.
    #[test]
    fn a_suspension_expires_on_its_instant_and_the_restriction_remains() {
        let twelve_hours = 12 * 3_600_000;
        let rows = [
            penalty(1, "taobao.com", PenaltyState::Restricted, None),
            penalty(
                2,
                "taobao.com",
                PenaltyState::Suspended,
                Some(100 + twelve_hours),
            ),
            penalty(3, "jd.com", PenaltyState::Suspended, Some(500)),
        ];
        let (book, next) = book_at(&rows, 200);
        assert_eq!(book.get("taobao.com"), Some(&PenaltyFact::Suspended));
        assert_eq!(book.get("jd.com"), Some(&PenaltyFact::Suspended));
        assert_eq!(next, Some(500), "jd.com's suspension ends first");

        let (book, next) = book_at(&rows, 500);
        assert_eq!(book.get("jd.com"), None, "ended at its instant");
        assert_eq!(next, Some(100 + twelve_hours));

        let (book, next) = book_at(&rows, 100 + twelve_hours);
        assert_eq!(book.get("taobao.com"), Some(&PenaltyFact::Restricted));
        assert_eq!(next, None, "a restriction waits for its appeal");

        let mut lifted = rows[0].clone();
        lifted.lifted_at = Some(300);
        let (book, _) = book_at(&[lifted], 400);
        assert!(book.is_empty());
    }
}
