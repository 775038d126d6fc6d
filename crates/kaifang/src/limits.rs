//! The open-file limit. Every WebSocket, HTTP connection and database
//! connection is a file descriptor, and most systems start a process with a
//! soft limit (often 1,024) far below the hard limit the administrator
//! allows; a server held to the soft limit refuses connections it could
//! serve. So at start the soft limit is raised to the hard one, which any
//! process may do, and both are logged for the operator to see what the
//! server can hold (raising the hard limit itself needs privileges: see
//! docs/operating.md).

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and logs both, at
/// info; a failure is logged as a warning and the server runs on.
#[cfg(unix)]
pub fn raise_open_files() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let before = getrlimit(Resource::Nofile);
    let shown = |v: Option<u64>| v.map_or_else(|| "unlimited".to_owned(), |v| v.to_string());
    if before.current == before.maximum {
        tracing::info!(
            soft = %shown(before.current),
            hard = %shown(before.maximum),
            "open-file limit already at its hard limit"
        );
        return;
    }
    let raised = Rlimit {
        current: before.maximum,
        maximum: before.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            let now = getrlimit(Resource::Nofile);
            tracing::info!(
                soft_before = %shown(before.current),
                soft = %shown(now.current),
                hard = %shown(now.maximum),
                "raised the open-file limit to its hard limit"
            );
        }
        Err(error) => tracing::warn!(
            %error,
            soft = %shown(before.current),
            hard = %shown(before.maximum),
            "cannot raise the open-file limit; connections are capped by the soft limit"
        ),
    }
}

/// Elsewhere there is no such limit to raise.
#[cfg(not(unix))]
pub fn raise_open_files() {}
