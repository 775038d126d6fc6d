//! `kaifang backup`, `restore` and `migrate`: the database file, opened
//! directly (so they work with the server up or down), and the data
//! folder's lock that keeps a restore away from a running server.
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use kaifang_store::sqlite_maintenance as db;

/// The name of the lock file in the data folder.
const LOCK_FILE: &str = "kaifang.lock";

/// An exclusive advisory lock (`flock`) on `data_dir/kaifang.lock`, held by
/// a server while it serves and by a restore or migration while it runs.
/// The operating system drops it when the process ends, however it ends.
pub struct DataLock {
    _file: File,
}

impl DataLock {
    /// Takes the lock, or says which process holds it.
    pub fn take(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data folder {}", data_dir.display()))?;
        let path = data_dir.join(LOCK_FILE);
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if file.try_lock().is_err() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                String::new()
            } else {
                format!(" (process {holder})")
            };
            anyhow::bail!(
                "data folder {} is in use by a running kaifang{who}; stop it first",
                data_dir.display()
            );
        }
        // The holder's process id, for the message above; the file itself
        // is never removed, so that two starts cannot lock two files.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()));
        Ok(Self { _file: file })
    }
}

fn settings(config: &Option<PathBuf>) -> anyhow::Result<kaifang_server::Settings> {
    kaifang_server::Settings::load(config.as_deref()).context("invalid settings")
}

fn names(list: &[db::Migration]) -> String {
    list.iter()
        .map(|m| format!("{} {}", m.version, m.name))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn backup(file: &Path, config: &Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let settings = settings(config)?;
    let schema = db::backup(&settings.sqlite_path(), file).context("backup failed")?;
    println!(
        "backed up {} to {} (schema version {})",
        settings.sqlite_path().display(),
        file.display(),
        schema.version
    );
    Ok(ExitCode::SUCCESS)
}

pub fn restore(file: &Path, config: &Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let settings = settings(config)?;
    // Checked before the lock, so a refused file leaves no trace.
    db::inspect(file).context("restore refused")?;
    let _lock = DataLock::take(&settings.data_dir).context("restore refused")?;
    let target = settings.sqlite_path();
    let done = db::restore(file, &target).context("restore refused")?;
    println!(
        "restored {} as {} (schema version {})",
        file.display(),
        target.display(),
        done.schema.version
    );
    if let Some(old) = done.replaced {
        println!("the database it replaced is kept as {}", old.display());
    }
    if !done.schema.pending.is_empty() {
        println!(
            "the next start migrates it: {}",
            names(&done.schema.pending)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn migrate(check: bool, config: &Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let settings = settings(config)?;
    let path = settings.sqlite_path();
    let schema = db::check(&path)?;
    if check {
        if schema.pending.is_empty() {
            println!(
                "{} is at schema version {}, the latest this kaifang knows: nothing to run",
                path.display(),
                schema.version
            );
        } else {
            println!(
                "{} is at schema version {}; this kaifang would apply:",
                path.display(),
                schema.version
            );
            for m in &schema.pending {
                println!("  {} {}", m.version, m.name);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::ensure!(
        path.exists(),
        "no database at {}: a server creates it at its first start",
        path.display()
    );
    let _lock = DataLock::take(&settings.data_dir)?;
    let ran = db::migrate(&path)?;
    if ran.is_empty() {
        println!("nothing to run: schema version {}", schema.version);
    } else {
        println!("applied {}; schema version {}", names(&ran), db::latest());
    }
    Ok(ExitCode::SUCCESS)
}
