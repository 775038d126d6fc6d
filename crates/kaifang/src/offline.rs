//! Commands that need no server: the link engine and the preview extractor.
use std::io::{BufRead, Read, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use kaifang_policy::ConversationKind;
use serde_json::json;

use crate::cli::{LinksCommand, PreviewCommand};

pub fn links(cmd: &LinksCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LinksCommand::Check {
            kind,
            members,
            config,
            text,
        } => {
            let settings =
                kaifang_server::Settings::load(config.as_deref()).context("invalid settings")?;
            let engine = kaifang_server::Links::load(settings.links)?;
            let kind = match kind.as_str() {
                "direct" => ConversationKind::Direct,
                "group" => ConversationKind::Group,
                other => anyhow::bail!("--kind is direct or group, not {other:?}"),
            };
            let Some(text) = text.as_deref().filter(|t| *t != "-") else {
                let failed =
                    crate::batch::run(&engine, std::io::stdin().lock(), std::io::stdout().lock())?;
                if failed > 0 {
                    anyhow::bail!("{failed} line(s) were not cases (see above)");
                }
                return Ok(ExitCode::SUCCESS);
            };
            let ctx = crate::batch::context(kind, *members);
            let (decisions, version) = engine.evaluate(text, &ctx);
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({ "links": decisions, "policy_version": version })
                )?
            );
        }
        LinksCommand::Extract => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for (n, line) in std::io::stdin().lock().lines().enumerate() {
                let line = line.context("cannot read stdin")?;
                if line.trim().is_empty() {
                    continue;
                }
                let case: serde_json::Value = serde_json::from_str(&line)
                    .with_context(|| format!("line {}: not JSON", n + 1))?;
                let text = case["text"]
                    .as_str()
                    .with_context(|| format!("line {}: no \"text\" string", n + 1))?;
                let urls: Vec<&str> = kaifang_links::extract(text).iter().map(|f| f.url).collect();
                writeln!(out, "{}", json!({ "id": case["id"], "urls": urls }))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn preview(cmd: &PreviewCommand) -> anyhow::Result<ExitCode> {
    let cfg = kaifang_preview::ExtractConfig::default();
    let preview = match cmd {
        PreviewCommand::Extract {
            page_url,
            content_type,
        } => {
            let url = url::Url::parse(page_url).context("--page-url is not a URL")?;
            let mut html = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut html)
                .context("cannot read the page from stdin")?;
            kaifang_preview::extract(&html, &url, content_type.as_deref(), &cfg)
        }
        PreviewCommand::Fetch { url } => {
            let url = url::Url::parse(url).context("not a URL")?;
            let fetcher = kaifang_fetch::Fetcher::new(kaifang_fetch::FetchConfig::default())?;
            let page = fetcher.fetch_page(&url).await?;
            let mut p = kaifang_preview::extract(
                &page.body,
                &page.final_url,
                page.content_type.as_deref(),
                &cfg,
            );
            if let Some(oembed) = p.oembed_url.clone().and_then(|o| url::Url::parse(&o).ok())
                && let Ok(json) = fetcher.fetch_json(&oembed).await
            {
                kaifang_preview::apply_oembed(&mut p, &json);
            }
            p
        }
    };
    println!("{}", serde_json::to_string_pretty(&preview)?);
    Ok(ExitCode::SUCCESS)
}
