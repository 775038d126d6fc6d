//! The client's kept session: a small JSON file in the user's config folder,
//! readable by its owner only.
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

/// The default place: `$XDG_CONFIG_HOME/kaifang/client.json`, else
/// `$HOME/.config/kaifang/client.json`.
pub fn default_path() -> anyhow::Result<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .context("cannot find a config folder: set HOME or --client-config")?;
    Ok(base.join("kaifang").join("client.json"))
}

/// The kept token for `server`, if any.
pub fn token(path: &Path, server: &str) -> anyhow::Result<Option<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    Ok(v["sessions"][server]["token"].as_str().map(str::to_owned))
}

/// Keeps (or with `None`, forgets) the token for `server`.
pub fn store_token(
    path: &Path,
    server: &str,
    handle: &str,
    token: Option<&str>,
) -> anyhow::Result<()> {
    let mut v: Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| json!({ "sessions": {} }));
    if !v["sessions"].is_object() {
        v["sessions"] = json!({});
    }
    match token {
        Some(t) => v["sessions"][server] = json!({ "handle": handle, "token": t }),
        None => {
            if let Some(map) = v["sessions"].as_object_mut() {
                map.remove(server);
            }
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_private(path, &serde_json::to_string_pretty(&v)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
