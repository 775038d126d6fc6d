//! Why the server could not start. Each variant names the part that failed
//! and carries its cause, so the operator reads what to fix; the binary
//! prints it and exits.
use std::net::SocketAddr;
use std::path::PathBuf;

/// A failure while building the server, before any connection is served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database could not be opened, migrated or read.
    #[error("database: {0}")]
    Database(#[from] kaifang_store::Error),
    /// The listen address could not be bound (in use, not permitted).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The `listen` setting.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A platform registry, the built-in one or one of `links.registries`,
    /// is missing or malformed (the message names the file).
    #[error(transparent)]
    Registry(#[from] kaifang_links::RegistryError),
    /// A threat list in `links.blocklists` could not be read.
    #[error(transparent)]
    Blocklist(#[from] kaifang_links::Error),
    /// The `links.policy` file could not be read.
    #[error("cannot read policy {path}: {source}")]
    PolicyFile {
        /// The file named by `links.policy`.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The start-up policy does not compile.
    #[error("start-up policy: {0}")]
    Policy(#[from] kaifang_policy::PolicyError),
    /// The argon2 parameters (`auth.argon2_*`) are out of range.
    #[error("argon2 settings: {0}")]
    Argon2(String),
    /// `bus.url` is set while the data is in the embedded SQLite database,
    /// which only one process can use: a cluster needs PostgreSQL.
    #[error(
        "bus.url is set but database.url is not: several servers can only share a PostgreSQL \
         database, never the embedded SQLite file; set database.url, or leave bus.url empty"
    )]
    BusWithoutPostgres,
    /// `bus.url` cannot be used (malformed); an unreachable bus is not an
    /// error: the server starts degraded and keeps trying.
    #[error("bus.url: {0}")]
    Bus(String),
    /// A `[payments]` setting is invalid, or a provider's key does not load (the message names
    /// the setting, never the secret).
    #[error("{0}")]
    Payments(String),
    /// The preview fetcher could not be built (e.g. its TLS set-up).
    #[error("preview fetcher: {0}")]
    PreviewClient(#[from] kaifang_fetch::FetchError),
}

#[cfg(test)]
mod tests {
    use super::StartError;
    use crate::{Server, Settings};

    fn settings(dir: &tempfile::TempDir) -> Settings {
        let mut settings = Settings {
            data_dir: dir.path().to_owned(),
            listen: "127.0.0.1:0".parse().expect("address"),
            ..Settings::default()
        };
        settings.preview.system_dns = false;
        settings
    }

    /// The operator is told which part failed, and why, not just "error".
    #[tokio::test]
    async fn a_taken_port_and_a_missing_policy_say_what_failed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut busy = settings(&dir);
        busy.listen = taken.local_addr().expect("address");
        match Server::build(busy).await {
            Err(StartError::Bind { addr, .. }) => assert_eq!(addr, taken.local_addr().unwrap()),
            Err(other) => panic!("expected a bind error, got {other}"),
            Ok(_) => panic!("bound a port already taken"),
        }

        let other_dir = tempfile::tempdir().expect("temp dir");
        let mut missing = settings(&other_dir);
        missing.links.policy = Some(other_dir.path().join("no-such.cedar"));
        match Server::build(missing).await {
            Err(e @ StartError::PolicyFile { .. }) => {
                assert!(e.to_string().contains("no-such.cedar"), "{e}")
            }
            Err(other) => panic!("expected a policy file error, got {other}"),
            Ok(_) => panic!("started without its policy file"),
        }
    }
}
