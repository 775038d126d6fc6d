//! `kaifang-paysim wechat|alipay --listen 127.0.0.1:PORT <provider flags>`: runs one simulator
//! until SIGINT or SIGTERM. The provider flags are those of `wechat::config_from_args` and
//! `alipay::config_from_args` (docs/payments.md). Once it listens it prints one line,
//! `listening on ADDR`, to stdout, so a test or a script can wait for it and read the port when
//! `:0` was asked for.
//!
//! Exit codes: 0 after a signal, 2 for arguments it refuses (nothing is bound then), 1 when
//! listening or serving fails. Every error is one line on stderr.
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use kaifang_paysim::{alipay, wechat};

const USAGE: &str = "usage: kaifang-paysim wechat|alipay --listen 127.0.0.1:PORT <provider flags>";

/// Why the simulator did not run, and with which exit code.
enum Failure {
    /// Arguments refused before anything was bound.
    Usage(String),
    /// Listening or serving failed.
    Runtime(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Runtime(format!("cannot start the runtime: {e}")))
        .and_then(|rt| rt.block_on(run(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("kaifang-paysim: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(m)) => {
            eprintln!("kaifang-paysim: {m}");
            ExitCode::FAILURE
        }
    }
}

/// The simulator asked for, configured.
enum Sim {
    Wechat(wechat::Config),
    Alipay(alipay::Config),
}

async fn run(args: Vec<String>) -> Result<(), Failure> {
    let (listen, sim) = parse(args).map_err(Failure::Usage)?;
    let stop = Stop::catch()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::Runtime(format!("cannot listen on {listen}: {e}")))?;
    let serving = |e: std::io::Error| Failure::Runtime(format!("cannot serve: {e}"));
    match sim {
        Sim::Wechat(config) => {
            let handle = wechat::serve(listener, config).await.map_err(serving)?;
            ready(handle.addr)?;
            stop.signalled().await;
            handle.stop();
        }
        Sim::Alipay(config) => {
            let handle = alipay::serve(listener, config).await.map_err(serving)?;
            ready(handle.addr)?;
            stop.signalled().await;
            handle.stop().await.map_err(serving)?;
        }
    }
    Ok(())
}

/// The address and the simulator's configuration; every check that needs no socket is done here,
/// the loopback one first, so that a refused address is never bound.
fn parse(mut args: Vec<String>) -> Result<(SocketAddr, Sim), String> {
    if args.is_empty() {
        return Err(USAGE.to_owned());
    }
    let provider = args.remove(0);
    let at = args
        .iter()
        .position(|a| a == "--listen")
        .ok_or_else(|| format!("--listen 127.0.0.1:PORT is required ({USAGE})"))?;
    let value = args.get(at + 1).cloned().ok_or("--listen needs a value")?;
    args.drain(at..=at + 1);
    let listen: SocketAddr = value.parse().map_err(|_| {
        format!("--listen {value:?} is not an address like 127.0.0.1:PORT or [::1]:PORT")
    })?;
    if !listen.ip().is_loopback() {
        return Err(format!(
            "--listen {listen}: the simulator listens on loopback only (127.0.0.0/8 or ::1)"
        ));
    }
    let sim = match provider.as_str() {
        "wechat" => Sim::Wechat(wechat::config_from_args(&args)?),
        "alipay" => Sim::Alipay(alipay::config_from_args(&args)?),
        other => return Err(format!("unknown provider {other:?} ({USAGE})")),
    };
    Ok((listen, sim))
}

/// Announces the address actually bound (the port, when 0 was asked for).
fn ready(addr: SocketAddr) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::Runtime(format!("cannot write to stdout: {e}")))
}

/// SIGINT and SIGTERM, caught from before the `listening on` line: a signal sent as soon as the
/// line is read must stop the simulator cleanly, not kill it by the default action.
struct Stop {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Stop {
    #[cfg(unix)]
    fn catch() -> Result<Self, Failure> {
        use tokio::signal::unix::{SignalKind, signal};
        let catch = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| Failure::Runtime(format!("cannot catch {name}: {e}")))
        };
        Ok(Self {
            int: catch(SignalKind::interrupt(), "SIGINT")?,
            term: catch(SignalKind::terminate(), "SIGTERM")?,
        })
    }

    /// Waits for SIGINT or SIGTERM.
    #[cfg(unix)]
    async fn signalled(mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }

    #[cfg(not(unix))]
    fn catch() -> Result<Self, Failure> {
        Ok(Self {})
    }

    /// Waits for Ctrl-C (no SIGTERM off Unix).
    #[cfg(not(unix))]
    async fn signalled(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
