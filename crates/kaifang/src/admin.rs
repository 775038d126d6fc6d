//! `kaifang admin …`: the first administrator, created offline in the
//! database itself, and the operator API for everything else.
use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context as _;
use kaifang_client::Client;
use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{AdminCommand, InviteCommand, PreviewRulesCommand};

/// `kaifang admin create`: opens the database the settings name, as the
/// server would, and creates an administrator there.
pub async fn create(
    handle: &str,
    password_stdin: bool,
    display_name: Option<&str>,
    config: Option<&PathBuf>,
) -> anyhow::Result<()> {
    let settings =
        kaifang_server::Settings::load(config.map(PathBuf::as_path)).context("invalid settings")?;
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        std::env::var("KAIFANG_PASSWORD").unwrap_or_default()
    };
    anyhow::ensure!(
        !password.is_empty(),
        "no password: write it on stdin with --password-stdin, or set KAIFANG_PASSWORD"
    );
    let user = kaifang_server::create_administrator(&settings, handle, &password, display_name)
        .await
        .with_context(|| format!("cannot create administrator {handle:?}"))?;
    // Never the database URL: it may hold a password.
    let place = if settings.database.url.is_empty() {
        settings.sqlite_path().display().to_string()
    } else {
        "the PostgreSQL database (database.url)".to_owned()
    };
    println!(
        "created administrator {} (id {}) in {place}",
        user.handle, user.id
    );
    Ok(())
}

/// `7d`, `12h`, `30m`, `45s` → seconds.
fn seconds(text: &str) -> anyhow::Result<u64> {
    let (n, unit) = text.split_at(text.len().saturating_sub(1));
    let bad = || format!("--valid {text:?}: use e.g. 7d, 12h, 30m or 45s");
    let n: u64 = n.parse().with_context(bad)?;
    let unit = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => anyhow::bail!(bad()),
    };
    n.checked_mul(unit).with_context(bad)
}

fn print(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// The commands that go through a server's admin API.
pub async fn online(client: &Client, cmd: &AdminCommand) -> anyhow::Result<()> {
    let user = |handle: &str, tail: &str| format!("/api/v1/admin/users/{handle}/{tail}");
    match cmd {
        AdminCommand::Create { .. } => anyhow::bail!("`admin create` needs no server"),
        AdminCommand::Grant { handle } => {
            let path = format!("/api/v1/admin/administrators/{handle}");
            client.raw(Method::PUT, &path, None).await?;
            println!("done");
        }
        AdminCommand::Revoke { handle } => {
            let path = format!("/api/v1/admin/administrators/{handle}");
            client.raw(Method::DELETE, &path, None).await?;
            println!("done");
        }
        AdminCommand::Invite(InviteCommand::Create { uses, valid }) => {
            let valid_seconds = valid.as_deref().map(seconds).transpose()?;
            let body = json!({ "max_uses": uses, "valid_seconds": valid_seconds });
            let made = client
                .raw(Method::POST, "/api/v1/admin/invites", Some(&body))
                .await?;
            print(&made)?;
        }
        AdminCommand::Invite(InviteCommand::List) => {
            print(
                &client
                    .raw(Method::GET, "/api/v1/admin/invites", None)
                    .await?,
            )?;
        }
        AdminCommand::Invite(InviteCommand::Revoke { id }) => {
            let path = format!("/api/v1/admin/invites/{id}");
            client.raw(Method::DELETE, &path, None).await?;
            println!("revoked invite {id}");
        }
        AdminCommand::Users { after, limit } => {
            let mut path = format!("/api/v1/admin/users?limit={limit}");
            if let Some(after) = after {
                path.push_str(&format!("&after={after}"));
            }
            print(&client.raw(Method::GET, &path, None).await?)?;
        }
        AdminCommand::Suspend { handle } => {
            let path = user(handle, "suspension");
            print(&client.raw(Method::PUT, &path, None).await?)?;
        }
        AdminCommand::Restore { handle } => {
            let path = user(handle, "suspension");
            print(&client.raw(Method::DELETE, &path, None).await?)?;
        }
        AdminCommand::RemoveMessage { id } => {
            let path = format!("/api/v1/admin/messages/{id}");
            print(&client.raw(Method::DELETE, &path, None).await?)?;
        }
        AdminCommand::ResetPassword { handle } => {
            let path = user(handle, "password-reset");
            print(&client.raw(Method::POST, &path, None).await?)?;
        }
        AdminCommand::PreviewRules(cmd) => preview_rules(client, cmd).await?,
    }
    Ok(())
}

/// `kaifang admin preview-rules …`: the rules as lines `LIST RULE`, so
/// that they can be read, grepped and fed back.
async fn preview_rules(client: &Client, cmd: &PreviewRulesCommand) -> anyhow::Result<()> {
    match cmd {
        PreviewRulesCommand::List => {
            let listing = client.preview_rules().await?;
            let mut any = false;
            for list in ["allow", "deny"] {
                for rule in listing[list].as_array().into_iter().flatten() {
                    any = true;
                    println!("{list} {}", rule["display"].as_str().unwrap_or_default());
                }
            }
            if !any {
                println!("no preview rules: every domain may be previewed");
            }
        }
        PreviewRulesCommand::Add { list, rule } => {
            let added = client.add_preview_rule(list, rule).await?;
            println!("{list} {}", added["display"].as_str().unwrap_or_default());
        }
        PreviewRulesCommand::Remove { list, rule } => {
            client.remove_preview_rule(list, rule).await?;
            println!("removed {list} {rule}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn validity_reads_units() {
        assert_eq!(super::seconds("7d").ok(), Some(604_800));
        assert_eq!(super::seconds("45s").ok(), Some(45));
        for bad in ["", "d", "7", "7w", "-1h", "99999999999999999999d"] {
            assert!(super::seconds(bad).is_err(), "{bad}");
        }
    }
}
