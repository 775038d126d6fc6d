//! `kaifang links check` over JSON lines: one decision line per input line,
//! in order, so an operator can run a policy over a corpus of their own
//! messages before opening anything.
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kaifang_policy::{Context, ConversationKind, Role};
use kaifang_server::Links;
use serde::Deserialize;
use serde_json::json;

/// One input line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(default)]
    id: serde_json::Value,
    text: String,
    /// `direct` (default) or `group`.
    #[serde(default)]
    conversation_kind: Option<ConversationKind>,
    /// Members, the sender included (default 2 for direct, 3 for groups).
    #[serde(default)]
    members: Option<u32>,
}

/// The conversation a case is decided in.
pub fn context(kind: ConversationKind, members: Option<u32>) -> Context {
    let default = if kind == ConversationKind::Direct {
        2
    } else {
        3
    };
    Context {
        conversation_kind: kind,
        member_count: members.unwrap_or(default),
        sender_role: Role::Member,
    }
}

/// Decides every line of `input`, writing `{"id","links","policy_version"}`
/// lines to `out`. A line that is not a case gets a one-line error on
/// standard error naming its number, and the rest goes on; returns how many
/// lines failed.
pub fn run(links: &Links, input: impl BufRead, out: impl Write) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut progress = Progress::new();
    let mut failed = 0u64;
    for (n, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("line {}: cannot read standard input", n + 1))?;
        progress.tick(line.len() + 1);
        if line.trim().is_empty() {
            continue;
        }
        let case: Case = match serde_json::from_str(&line) {
            Ok(case) => case,
            Err(e) => {
                failed += 1;
                progress.clear();
                eprintln!("line {}: not a case ({e})", n + 1);
                continue;
            }
        };
        let kind = case.conversation_kind.unwrap_or(ConversationKind::Direct);
        let (decisions, version) = links.evaluate(&case.text, &context(kind, case.members));
        serde_json::to_writer(
            &mut out,
            &json!({ "id": case.id, "links": decisions, "policy_version": version }),
        )?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    progress.finish();
    Ok(failed)
}

/// A progress line on standard error, only when it is a terminal: lines done,
/// rate, and a bar when standard input is a file of known size.
struct Progress {
    on: bool,
    total_bytes: Option<u64>,
    bytes: u64,
    lines: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            on: std::io::stderr().is_terminal(),
            total_bytes: std::fs::metadata("/dev/stdin")
                .ok()
                .filter(|m| m.is_file() && m.len() > 0)
                .map(|m| m.len()),
            bytes: 0,
            lines: 0,
            started: now,
            last: now,
        }
    }

    fn tick(&mut self, bytes: usize) {
        self.lines += 1;
        self.bytes += bytes as u64;
        // Checking the clock every 1,024 lines keeps the cost off the loop.
        if self.on
            && self.lines.is_multiple_of(1024)
            && self.last.elapsed() >= Duration::from_millis(200)
        {
            self.last = Instant::now();
            self.draw();
        }
    }

    fn draw(&self) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = self.lines as f64 / secs;
        let bar = match self.total_bytes {
            Some(total) => {
                let done = (self.bytes.min(total) * 30 / total) as usize;
                let pct = self.bytes.min(total) * 100 / total;
                format!("[{}{}] {pct:>3}% ", "#".repeat(done), ".".repeat(30 - done))
            }
            None => String::new(),
        };
        eprint!("\r{bar}{} lines, {rate:.0} lines/s ", self.lines);
    }

    fn clear(&self) {
        if self.on {
            eprint!("\r\x1b[2K");
        }
    }

    fn finish(&self) {
        if self.on {
            self.draw();
            eprintln!();
        }
    }
}
