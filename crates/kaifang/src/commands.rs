//! Each subcommand: a few lines that call a library.
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kaifang_client::Client;
use serde_json::Value;

use crate::cli::{AccountCommand, Cli, Command, ConversationCommand, Credentials};
use crate::client_config;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(dispatch(cli))
}

fn print(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn password(c: &Credentials) -> anyhow::Result<String> {
    if let Some(p) = &c.password {
        return Ok(p.clone());
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let p = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(
        !p.is_empty(),
        "no password: pass --password, set KAIFANG_PASSWORD, or write it on stdin"
    );
    Ok(p)
}

struct Session {
    client: Client,
    config: PathBuf,
    server: String,
}

impl Session {
    fn new(cli: &Cli) -> anyhow::Result<Self> {
        let config = match &cli.client_config {
            Some(p) => p.clone(),
            None => client_config::default_path()?,
        };
        let mut client = Client::new(&cli.server)?;
        if let Some(token) = std::env::var("KAIFANG_TOKEN")
            .ok()
            .or(client_config::token(&config, &cli.server)?)
        {
            client = client.with_token(token);
        }
        Ok(Self {
            client,
            config,
            server: cli.server.clone(),
        })
    }

    fn signed_in(&self) -> anyhow::Result<&Client> {
        anyhow::ensure!(
            self.client.token().is_some(),
            "not signed in: run `kaifang login <handle>` first"
        );
        Ok(&self.client)
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Serve { config } = &cli.command {
        return serve(config.clone()).await;
    }
    match &cli.command {
        Command::Backup { file, config } => return crate::maintenance::backup(file, config),
        Command::Restore { file, config } => return crate::maintenance::restore(file, config),
        Command::Migrate { check, config } => return crate::maintenance::migrate(*check, config),
        Command::Policy(crate::cli::PolicyCommand::Lint {
            file,
            operator,
            config,
            json,
        }) => {
            return crate::governance::lint(file, operator.as_deref(), config.as_deref(), *json);
        }
        Command::Links(cmd) => return crate::offline::links(cmd),
        Command::Admin(crate::cli::AdminCommand::Create {
            handle,
            password_stdin,
            display_name,
            config,
        }) => {
            crate::admin::create(
                handle,
                *password_stdin,
                display_name.as_deref(),
                config.as_ref(),
            )
            .await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Preview(cmd) => return crate::offline::preview(cmd).await,
        _ => {}
    }
    if let Command::Bench(args) = &cli.command {
        // Scenario E holds one socket per idle connection in this process too.
        crate::limits::raise_open_files();
        let opts = kaifang_bench::Options {
            servers: if args.urls.is_empty() {
                vec![cli.server.clone()]
            } else {
                args.urls.clone()
            },
            scenarios: args.scenarios.clone(),
            a_messages: args.a_messages,
            b_senders: args.b_senders,
            b_messages: args.b_messages,
            c_rate: args.c_rate,
            c_messages: args.c_messages,
            d_members: args.d_members,
            d_messages: args.d_messages,
            e_connections: args.e_connections,
            time_limit: std::time::Duration::from_secs(args.time_limit),
            ..Default::default()
        };
        let report = kaifang_bench::run(opts).await?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut s = Session::new(&cli)?;
    match cli.command {
        Command::Serve { .. }
        | Command::Bench(_)
        | Command::Links(_)
        | Command::Preview(_)
        | Command::Backup { .. }
        | Command::Restore { .. }
        | Command::Migrate { .. } => {}
        Command::Account(AccountCommand::Create {
            credentials,
            display_name,
            invite,
        }) => {
            let pw = password(&credentials)?;
            let (handle, name) = (&credentials.handle, display_name.as_deref());
            let created = match invite {
                Some(code) => s.client.sign_up_invited(handle, &pw, name, &code).await?,
                None => s.client.sign_up(handle, &pw, name).await?,
            };
            print(&created)?;
        }
        Command::Account(AccountCommand::ResetPassword { code, password }) => {
            let pw = self::password(&Credentials {
                handle: String::new(),
                password,
            })?;
            s.client.reset_password(&code, &pw).await?;
            println!("password changed: sign in with it");
        }
        Command::Login(credentials) => {
            let pw = password(&credentials)?;
            let token = s.client.sign_in(&credentials.handle, &pw).await?;
            client_config::store_token(&s.config, &s.server, &credentials.handle, Some(&token))?;
            println!(
                "signed in as {} (token kept in {})",
                credentials.handle,
                s.config.display()
            );
        }
        Command::Logout => {
            s.signed_in()?;
            s.client.sign_out().await?;
            client_config::store_token(&s.config, &s.server, "", None)?;
            println!("signed out");
        }
        Command::Whoami => print(&s.signed_in()?.me().await?)?,
        Command::Conversation(ConversationCommand::Create {
            with,
            title,
            members,
        }) => {
            let c = s.signed_in()?;
            let created = match (with, title) {
                (Some(with), _) => c.open_direct(&with).await?,
                (None, Some(title)) => c.create_group(&title, &members).await?,
                (None, None) => anyhow::bail!("give --with <handle> or --title <title>"),
            };
            print(&created)?;
        }
        Command::Conversation(ConversationCommand::List) => {
            print(&s.signed_in()?.conversations().await?)?
        }
        Command::Conversation(ConversationCommand::Add {
            conversation,
            handle,
        }) => {
            print(&s.signed_in()?.add_member(conversation, &handle).await?)?;
        }
        Command::Conversation(ConversationCommand::Remove {
            conversation,
            handle,
        }) => {
            s.signed_in()?.remove_member(conversation, &handle).await?;
            println!("removed {handle}");
        }
        Command::Send {
            conversation,
            text,
            txn,
            reply_to,
        } => {
            let client = s.signed_in()?;
            let sent = match reply_to {
                None => client.send(conversation, &text, txn.as_deref()).await?,
                Some(seq) => {
                    let body = serde_json::json!({
                        "body": text, "client_txn_id": txn, "reply_to": seq,
                    });
                    let path = format!("/api/v1/conversations/{conversation}/messages");
                    client
                        .raw(reqwest::Method::POST, &path, Some(&body))
                        .await?
                }
            };
            print(&sent)?;
        }
        Command::Edit {
            conversation,
            seq,
            text,
        } => print(&s.signed_in()?.edit(conversation, seq, &text).await?)?,
        Command::Recall { conversation, seq } => {
            s.signed_in()?.recall(conversation, seq).await?;
            print(&serde_json::json!({ "recalled": seq }))?;
        }
        Command::React {
            conversation,
            seq,
            emoji,
            remove,
        } => {
            s.signed_in()?
                .react(conversation, seq, &emoji, !remove)
                .await?;
            print(&serde_json::json!({ "seq": seq, "emoji": emoji, "on": !remove }))?;
        }
        Command::History {
            conversation,
            before_seq,
            limit,
        } => {
            print(
                &s.signed_in()?
                    .history(conversation, before_seq, limit)
                    .await?,
            )?;
        }
        Command::Search {
            query,
            conversation,
            before,
            limit,
        } => {
            print(
                &s.signed_in()?
                    .search(&query, conversation, before, limit)
                    .await?,
            )?;
        }
        Command::Policy(cmd) => crate::governance::policy(s.signed_in()?, &cmd).await?,
        Command::Report(cmd) => crate::report::report(s.signed_in()?, &cmd).await?,
        Command::Pay(cmd) => return crate::pay::pay(s.signed_in()?, &cmd).await,
        Command::Admin(cmd) => crate::admin::online(s.signed_in()?, &cmd).await?,
        Command::Tail {
            since,
            count,
            give_up_after,
        } => {
            let tail = crate::tail::Tail {
                since,
                count,
                give_up_after: std::time::Duration::from_secs(give_up_after),
            };
            crate::tail::run(s.signed_in()?, tail).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    // The log's format is a setting, so the settings are read before the
    // log exists, and read again after: their warnings (unknown variables)
    // are then written, in the chosen format.
    let settings = kaifang_server::Settings::load(config.as_deref()).context("invalid settings")?;
    start_log(settings.log.format);
    let settings = kaifang_server::Settings::load(config.as_deref()).context("invalid settings")?;
    crate::limits::raise_open_files();
    // Held until the process exits: one server per data folder, and no
    // restore under a running server.
    let _lock = crate::maintenance::DataLock::take(&settings.data_dir)?;
    let server = kaifang_server::Server::build(settings).await?;
    let addr = server.local_addr()?;
    let stop = stop_signal();
    if let Some(metrics) = server.metrics_addr() {
        let metrics = metrics?;
        tracing::info!(%metrics, "metrics are served on their own listener");
        // Before "listening on", which scripts take as "ready".
        println!("metrics on http://{metrics}");
    }
    tracing::info!(%addr, "kaifang is listening");
    // Printed plainly so scripts and tests can find the port when it is 0.
    println!("listening on http://{addr}");
    server.run(stop).await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The server's log on standard error (standard output carries only the
/// "listening on" line scripts read), at the `KAIFANG_LOG` level.
fn start_log(format: kaifang_server::LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("KAIFANG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        kaifang_server::LogFormat::Json => log.json().init(),
        // Colour codes are noise in a file or a journal.
        kaifang_server::LogFormat::Text => log.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

/// A future that completes at SIGINT (Ctrl-C) or SIGTERM, which is how
/// systemd and container runtimes ask a service to stop. The handlers are
/// installed here, before the future is first polled: a signal that
/// arrives once "listening on" is printed must stop the server gracefully,
/// not kill it with the default action (the accept loop may not poll its
/// shutdown future until it has no connection waiting).
fn stop_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => Some((term, int)),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot watch SIGTERM; only Ctrl-C stops");
                None
            }
        }
    };
    async move {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = signals {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
