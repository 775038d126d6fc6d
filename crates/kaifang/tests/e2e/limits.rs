//! The open-file limit: a server started with a low soft limit raises it to
//! the hard limit, and says so in its log.
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The soft and hard "Max open files" of a process, from `/proc`.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no open-file line in:\n{limits}"));
    let fields: Vec<&str> = line["Max open files".len()..].split_whitespace().collect();
    (fields[0].to_owned(), fields[1].to_owned())
}

/// Started (through `sh`, whose `ulimit` lowers the soft limit for what it
/// runs) with a soft limit of 256 under a higher hard limit, the server
/// runs with soft == hard and logs both values.
#[test]
fn the_open_file_soft_limit_is_raised_to_the_hard_limit() {
    let (_, hard) = open_file_limits(std::process::id());
    let low = 256;
    assert!(
        hard == "unlimited" || hard.parse::<u64>().unwrap() > low,
        "this machine's hard limit ({hard}) leaves nothing to raise"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -S -n {low} && exec \"$0\" serve"))
        .arg(env!("CARGO_BIN_EXE_kaifang"))
        .env("KAIFANG_DATA_DIR", dir.path())
        .env("KAIFANG_LISTEN", "127.0.0.1:0")
        .env("KAIFANG_DATABASE__URL", "")
        .env("KAIFANG_PREVIEW__SYSTEM_DNS", "false")
        .env("KAIFANG_LOG", "info")
        .env("KAIFANG_LOG__FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Lines from both outputs, read on threads so that neither blocks.
    let (lines, seen) = mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let out = lines.clone();
    std::thread::spawn(move || {
        stdout
            .lines()
            .map_while(Result::ok)
            .for_each(|l| drop(out.send(l)))
    });
    std::thread::spawn(move || {
        stderr
            .lines()
            .map_while(Result::ok)
            .for_each(|l| drop(lines.send(l)))
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut listening, mut logged) = (false, None);
    while !(listening && logged.is_some()) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = seen.recv_timeout(left) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no 'listening on' and limit log line within 30 s");
        };
        listening |= line.starts_with("listening on ");
        if line.contains("open-file limit") {
            logged = Some(serde_json::from_str::<serde_json::Value>(&line).unwrap());
        }
    }
    let (soft, hard) = open_file_limits(child.id());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(soft, hard, "soft limit not raised");
    let logged = logged.unwrap();
    let fields = &logged["fields"];
    assert_eq!(fields["soft_before"], low.to_string(), "{logged}");
    assert_eq!(fields["soft"].as_str(), Some(hard.as_str()), "{logged}");
    assert_eq!(fields["hard"].as_str(), Some(hard.as_str()), "{logged}");
}
