//! The `kaifang-paysim` binary as a script runs it: started on 127.0.0.1:0, waited for through its
//! `listening on` line, asked over loopback, stopped by a signal; and its refusals, each one line
//! on stderr with a non-zero exit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kaifang_paysim::Faults;

/// How long the binary may take to start listening, or to exit; generous for a loaded machine.
const WITHIN: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> String {
    format!(
        "{}/../pay/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn alipay_flags() -> Vec<String> {
    [
        "--app-id",
        "2021000000000001",
        "--merchant-public-key",
        &fixture("TEST_ONLY_rsa2048_pub.pem"),
        "--alipay-private-key",
        &fixture("TEST_ONLY_wechatpay_go_signer_key.pem"),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn wechat_flags() -> Vec<String> {
    // The APIv3 key is 32 characters in a file of its own.
    let v3 = format!("{}/paysim-binary-v3.key", env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(&v3, "0123456789abcdef0123456789abcdef\n").unwrap();
    [
        "--mchid",
        "1900000001",
        "--appid",
        "wx0000000000000001",
        "--merchant-serial",
        "MERCHANT-SERIAL",
        "--merchant-public-key",
        &fixture("TEST_ONLY_rsa2048_pub.pem"),
        "--platform-serial",
        "PLATFORM-SERIAL",
        "--platform-private-key",
        &fixture("TEST_ONLY_rsa2048_key.pem"),
        "--api-v3-key-file",
        &v3,
    ]
    .map(str::to_owned)
    .to_vec()
}

fn paysim(args: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kaifang-paysim"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A running binary, killed if the test ends without stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    /// Waits (bounded) for the process to exit.
    fn exited(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WITHIN;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after {WITHIN:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([format!("-{name}"), self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name}");
    }
}

/// Starts the binary and returns it with the address its `listening on` line names.
fn start(args: &[String]) -> (Running, SocketAddr) {
    let mut child = paysim(args).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(WITHIN).expect("a `listening on` line");
    let addr = line
        .strip_prefix("listening on ")
        .and_then(|a| a.trim_end().parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    (running, addr)
}

/// `GET /_sim/faults` over loopback, by hand: the status line and the body.
fn faults_of(addr: SocketAddr) -> Faults {
    let mut s = TcpStream::connect_timeout(&addr, WITHIN).unwrap();
    s.set_read_timeout(Some(WITHIN)).unwrap();
    write!(
        s,
        "GET /_sim/faults HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap()
}

/// Runs the binary to its end (bounded): exit status, stdout, stderr.
fn refused(args: &[String]) -> (ExitStatus, String, String) {
    let mut running = Running(paysim(args).spawn().unwrap());
    let status = running.exited();
    let mut out = String::new();
    let mut err = String::new();
    running
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    running
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.success(), "{args:?} succeeded");
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out, "", "{args:?} printed to stdout");
    (status, out, err)
}

fn with_listen(provider: &str, listen: &str, flags: Vec<String>) -> Vec<String> {
    let mut args = vec![
        provider.to_owned(),
        "--listen".to_owned(),
        listen.to_owned(),
    ];
    args.extend(flags);
    args
}

/// Starts `provider` with one fault on, reads the faults over loopback, stops it with `signal`.
fn serves_its_faults_and_stops(provider: &str, mut flags: Vec<String>, fault: &str, signal: &str) {
    flags.extend(["--fault".to_owned(), fault.to_owned()]);
    let (mut running, addr) = start(&with_listen(provider, "127.0.0.1:0", flags));
    let faults = faults_of(addr);
    let expected = Faults {
        duplicate: fault == "duplicate",
        out_of_order: fault == "out-of-order",
        ..Faults::default()
    };
    assert_eq!(faults, expected);
    running.signal(signal);
    assert!(running.exited().success());
    // Gone with it: nothing listens there any more.
    assert!(TcpStream::connect_timeout(&addr, WITHIN).is_err());
}

#[test]
fn alipay_serves_its_faults_and_stops_on_sigterm() {
    serves_its_faults_and_stops("alipay", alipay_flags(), "duplicate", "TERM");
}

#[test]
fn wechat_serves_its_faults_and_stops_on_sigint() {
    serves_its_faults_and_stops("wechat", wechat_flags(), "out-of-order", "INT");
}

#[test]
fn an_address_off_loopback_is_refused_before_binding() {
    // Every interface: refused from the parsed address, no socket is made.
    for provider in ["alipay", "wechat"] {
        let flags = if provider == "alipay" {
            alipay_flags()
        } else {
            wechat_flags()
        };
        for listen in ["0.0.0.0:0", "[::]:0"] {
            let (status, _, err) = refused(&with_listen(provider, listen, flags.clone()));
            assert_eq!(status.code(), Some(2), "{err}");
            assert!(err.contains("loopback only"), "{err}");
        }
    }
}

#[test]
fn a_missing_key_file_is_one_line() {
    let missing = format!("{}/no-such-key.pem", env!("CARGO_TARGET_TMPDIR"));
    let mut flags = alipay_flags();
    flags[3].clone_from(&missing);
    let (status, _, err) = refused(&with_listen("alipay", "127.0.0.1:0", flags));
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--merchant-public-key"), "{err}");
    let mut flags = wechat_flags();
    flags[11] = missing;
    let (_, _, err) = refused(&with_listen("wechat", "127.0.0.1:0", flags));
    assert!(err.contains("--platform-private-key"), "{err}");
}

#[test]
fn bad_arguments_are_one_line_never_a_panic() {
    let s = |v: &[&str]| v.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    for args in [
        s(&[]),
        s(&["paypal", "--listen", "127.0.0.1:0"]),
        alipay_flags(),
        [s(&["alipay"]), alipay_flags()].concat(),
        s(&["alipay", "--listen"]),
        with_listen("alipay", "localhost:0", alipay_flags()),
        with_listen("alipay", "127.0.0.1", alipay_flags()),
        with_listen("alipay", "127.0.0.1:0", s(&["--fault", "fire"])),
        [
            with_listen("alipay", "127.0.0.1:0", alipay_flags()),
            s(&["--hold-ms"]),
        ]
        .concat(),
    ] {
        let (status, _, err) = refused(&args);
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
    }
}
