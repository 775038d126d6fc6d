//! A real `kaifang serve` process on a free loopback port with its own
//! temporary data folder, and its own PostgreSQL database when the suite
//! runs with `KAIFANG_TEST_BACKEND=postgres`.
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct TestServer {
    child: Option<Child>,
    pub url: String,
    /// The `metrics.listen` listener's URL, when the server has one.
    pub metrics_url: Option<String>,
    pub data: PathBuf,
    _dir: Option<tempfile::TempDir>,
    env: Vec<(String, String)>,
    config: Option<PathBuf>,
    /// Dropped after the process is killed (`Drop` below runs first).
    _db: Option<super::pgdb::PgDb>,
}

/// Settings every test server gets: cheap password hashing (tests check the
/// flow, not the hash's cost), an ephemeral port, no system DNS, and the
/// first account as the operator.
const BASE_ENV: &[(&str, &str)] = &[
    ("KAIFANG_LISTEN", "127.0.0.1:0"),
    ("KAIFANG_AUTH__ARGON2_MEMORY_KIB", "1024"),
    ("KAIFANG_AUTH__ARGON2_ITERATIONS", "1"),
    // Most tests act as the operator through the first account; the tests
    // of `kaifang admin create` turn this off.
    ("KAIFANG_AUTH__FIRST_SIGNUP_BECOMES_ADMIN", "true"),
    ("KAIFANG_LOG", "warn"),
    // Previews may only reach names a test maps in `preview.resolve`: no
    // DNS query, let alone a connection, ever leaves the machine.
    ("KAIFANG_PREVIEW__SYSTEM_DNS", "false"),
];

/// The process, its URL and its metrics listener's URL.
type Spawned = (Child, String, Option<String>);

// The child is waited for by `TestServer::kill_hard`; a panic here fails
// the test anyway.
#[allow(clippy::zombie_processes)]
fn spawn(data: &Path, env: &[(String, String)], config: Option<&Path>) -> Spawned {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kaifang"));
    cmd.arg("serve");
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    cmd.env("KAIFANG_DATA_DIR", data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in BASE_ENV {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start kaifang serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut metrics_url = None;
    loop {
        assert!(Instant::now() < deadline, "server did not start in time");
        let line = lines
            .next()
            .expect("server exited before listening")
            .expect("read stdout");
        if let Some(url) = line.strip_prefix("metrics on ") {
            metrics_url = Some(url.trim().to_owned());
        }
        if let Some(url) = line.strip_prefix("listening on ") {
            // Keep draining stdout so the server never blocks on it.
            std::thread::spawn(move || for _ in lines {});
            return (child, url.trim().to_owned(), metrics_url);
        }
    }
}

impl TestServer {
    /// The Prometheus text at `/metrics` (on the metrics listener, if any).
    pub async fn metrics(&self) -> String {
        let base = self.metrics_url.as_ref().unwrap_or(&self.url);
        reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits (bounded) until the server reports `n` real-time clients: a
    /// long poll counts as one from the moment it is subscribed and
    /// waiting, a WebSocket once it is subscribed.
    pub async fn wait_for_clients(&self, n: u64) {
        let line = format!("kaifang_connected_clients {n}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let metrics = self.metrics().await;
            if metrics.lines().any(|l| l == line) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "never saw `{line}` in /metrics:\n{metrics}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn start() -> Self {
        Self::start_with(&[])
    }

    pub fn start_with(env: &[(&str, &str)]) -> Self {
        Self::start_full(env, None)
    }

    /// Always on the embedded SQLite database, whatever
    /// `KAIFANG_TEST_BACKEND` says: for what only SQLite has (its file,
    /// backup and restore). An empty `database.url` means SQLite.
    pub fn start_sqlite() -> Self {
        Self::start_with(&[("KAIFANG_DATABASE__URL", "")])
    }

    /// With a settings file (TOML) as well as variables.
    pub fn start_full(env: &[(&str, &str)], toml: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let config = toml.map(|text| {
            let path = dir.path().join("kaifang.toml");
            std::fs::write(&path, text).expect("write settings");
            path
        });
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // A test that names its own database keeps it.
        let own = env.iter().any(|(k, _)| k == "KAIFANG_DATABASE__URL");
        let db = (super::pgdb::wanted() && !own).then(super::pgdb::PgDb::create);
        if let Some(db) = &db {
            env.push(("KAIFANG_DATABASE__URL".into(), db.url.clone()));
        }
        let (child, url, metrics_url) = spawn(&data, &env, config.as_deref());
        Self {
            child: Some(child),
            url,
            metrics_url,
            data,
            _dir: Some(dir),
            env,
            config,
            _db: db,
        }
    }

    /// On a data folder the test owns (e.g. one a backup was restored into).
    pub fn start_in(data: &Path) -> Self {
        let (child, url, metrics_url) = spawn(data, &[], None);
        Self {
            child: Some(child),
            url,
            metrics_url,
            data: data.to_owned(),
            _dir: None,
            env: Vec::new(),
            config: None,
            _db: None,
        }
    }

    /// A `kaifang` command on this server's data: its data folder and the
    /// variables it was started with (its database, when PostgreSQL; not
    /// its settings file).
    pub fn offline_command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kaifang"));
        cmd.env("KAIFANG_DATA_DIR", &self.data);
        for (k, v) in BASE_ENV {
            cmd.env(k, v);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// The server process's id (to read its memory from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM, as systemd and container runtimes do to stop a
    /// service; returns the instant just before it was sent (`kill` takes
    /// a few milliseconds, in which the server may already have drained).
    pub fn sigterm(&self) -> Instant {
        let pid = self.pid().to_string();
        let before = Instant::now();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.expect("run kill").success(), "kill -TERM {pid}");
        before
    }

    /// Waits (at most `within`) for the process to exit on its own: its
    /// exit status and when the exit was seen. Panics (killing it) if it
    /// is still running by then.
    pub fn wait_exit(&mut self, within: Duration) -> (std::process::ExitStatus, Instant) {
        let mut child = self.child.take().expect("a running server");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                return (status, Instant::now());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Starts again on the same data folder (a new port).
    pub fn restart(&mut self) {
        self.kill_hard();
        let (child, url, metrics_url) = spawn(&self.data, &self.env, self.config.as_deref());
        self.child = Some(child);
        self.url = url;
        self.metrics_url = metrics_url;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// `kaifang serve` on SQLite in a fresh data folder under `dir`, with a
/// settings file and variables, that must refuse to start within 30 s
/// (`why` says what the failure means): its output.
pub fn serve_refused(dir: &Path, config: Option<&Path>, env: &[(&str, &str)], why: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kaifang"));
    cmd.arg("serve");
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    cmd.current_dir(dir)
        .env("KAIFANG_LISTEN", "127.0.0.1:0")
        .env("KAIFANG_DATA_DIR", dir.join("data"))
        .env("KAIFANG_DATABASE__URL", "")
        .env("KAIFANG_LOG", "warn")
        .env_remove("KAIFANG_TEST_BACKEND")
        .env_remove("KAIFANG_TEST_POSTGRES")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("start kaifang");
    refused_start(child, Duration::from_secs(30), why)
}

/// Waits (at most `within`) for a `kaifang` process that must refuse to
/// start, and returns its output. A server that starts anyway would never
/// exit: it is killed and the test fails with `why`.
pub fn refused_start(mut child: Child, within: Duration, why: &str) -> Output {
    let deadline = Instant::now() + within;
    while child.try_wait().expect("wait for kaifang").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{why}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("read kaifang's output")
}
