//! A line diff between two policy versions.
use serde::Serialize;
use utoipa::ToSchema;

use super::GovernanceService;
use crate::service::accounts::Caller;
use crate::service::error::Result;

/// One line of a diff.
#[derive(Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct DiffLine {
    /// `=` kept, `-` removed, `+` added.
    #[schema(value_type = String, pattern = "^[=+-]$")]
    pub op: &'static str,
    /// The line.
    pub line: String,
}

/// The diff between two versions, line by line.
#[derive(Debug, Serialize, ToSchema)]
pub struct Diff {
    /// Every line of both versions, in order.
    pub lines: Vec<DiffLine>,
}

/// A line diff (longest common subsequence; policies are small).
pub fn diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(DiffLine {
                op: "=",
                line: a[i].to_owned(),
            });
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(DiffLine {
                op: "+",
                line: b[j].to_owned(),
            });
            j += 1;
        } else {
            out.push(DiffLine {
                op: "-",
                line: a[i].to_owned(),
            });
            i += 1;
        }
    }
    out
}

impl GovernanceService {
    /// A line diff between two versions.
    pub async fn diff(&self, caller: &Caller, from: i64, to: i64) -> Result<Diff> {
        self.admin(caller).await?;
        let (a, b) = (self.version_text(from).await?, self.version_text(to).await?);
        Ok(Diff {
            lines: diff(&a.text, &b.text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_diffs() {
        let d = diff("a\nb\nc", "a\nc\nd");
        let ops: Vec<(&str, &str)> = d.iter().map(|l| (l.op, l.line.as_str())).collect();
        assert_eq!(ops, [("=", "a"), ("-", "b"), ("=", "c"), ("+", "d")]);
    }
}
