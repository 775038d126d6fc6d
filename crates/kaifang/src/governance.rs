//! `kaifang policy …` (`kaifang report …` is in `report.rs`).
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use kaifang_client::Client;
use kaifang_policy::{FairnessSettings, PlatformFacts, check_non_discrimination_with};
use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::PolicyCommand;

/// `30d`, `12h`, `45m` → an RFC 3339 instant that long ago.
pub(crate) fn since(text: &str) -> anyhow::Result<String> {
    let (n, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .with_context(|| format!("--since {text:?}: use e.g. 30d, 12h or 45m"))?;
    let secs = match unit {
        "d" => n * 86_400,
        "h" => n * 3_600,
        "m" => n * 60,
        _ => anyhow::bail!("--since {text:?}: use e.g. 30d, 12h or 45m"),
    };
    let t = time::OffsetDateTime::now_utc() - time::Duration::seconds(secs);
    Ok(t.format(&time::format_description::well_known::Rfc3339)?)
}

pub fn lint(
    file: &Path,
    operator: Option<&str>,
    config: Option<&Path>,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut settings = kaifang_server::Settings::load(config).context("invalid settings")?;
    if let Some(op) = operator {
        settings.links.operator_owner = op.to_owned();
    }
    let links = kaifang_server::Links::load(settings.links.clone())?;
    let engine = links
        .compile(&text)
        .map_err(|e| anyhow::anyhow!("{} does not compile: {e}", file.display()))?;
    let platforms = PlatformFacts::from_registry(links.registry());
    let fairness = FairnessSettings {
        max_group_members: u32::try_from(settings.limits.max_group_members).unwrap_or(u32::MAX),
        ..FairnessSettings::default()
    };
    let report = check_non_discrimination_with(&engine, &platforms, links.operator(), &fairness);
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    }
    // The verdict is the complete check's; the sampled matrix is for display.
    let how = format!(
        "{} {} case(s){}",
        report.check.method,
        report.check.cases,
        if report.check.exhaustive {
            ""
        } else {
            ", not exhaustive"
        }
    );
    let wallets = format!(
        "wallet offers: {} merchant(s), {} case(s){}; picker order {}",
        report.wallets.merchants,
        report.wallets.cases,
        if report.wallets.exhaustive {
            ""
        } else {
            ", not exhaustive"
        },
        report.wallets.picker
    );
    if report.passed {
        writeln!(
            out,
            "{}: no self-preferencing found for operator {:?} ({} platforms checked, {how}; {wallets})",
            file.display(),
            links.operator(),
            platforms.len()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    for c in &report.check.counterexamples {
        // The verdict stands even if the reader stops reading.
        let _ = writeln!(
            out,
            "counterexample ({}): rival {} gets {} where the house's {} gets {} — context {} — policies {:?}",
            c.category,
            serde_json::to_string(&c.rival)?,
            outcome(c.rival_treatment, c.rival_preview),
            serde_json::to_string(&c.house)?,
            outcome(c.house_treatment, c.house_preview),
            serde_json::to_string(&c.context)?,
            c.policies
        );
    }
    let v = serde_json::to_value(&report.offences)?;
    for o in v.as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "rival {} ({}) gets {} where the house's {} gets {} — {} — policies {}",
            o["rival"],
            o["category"],
            o["rival_treatment"],
            o["house"],
            o["house_treatment"],
            o["context"],
            o["policies"]
        );
    }
    if let Some(e) = &report.wallets.error {
        let _ = writeln!(out, "wallet offers not checked: {e}");
    }
    for o in &report.wallets.offences {
        let _ = writeln!(
            out,
            "wallet: at {} ({}), the house's {} is offered where {} ({}) is refused — context {} ({} of the conversations tried) — refused by {:?} (none: nothing permits it), offered by {:?}",
            o.merchant,
            o.merchant_owner,
            o.house,
            o.rival,
            o.rival_owner,
            serde_json::to_string(&o.context)?,
            o.contexts,
            o.policies,
            o.house_policies
        );
    }
    eprintln!(
        "kaifang: self-preferencing for operator {:?} ({how}; {} counterexample(s), {} sampled matrix offence(s), {} wallet offence(s)); offending policies: {}",
        links.operator(),
        report.check.counterexamples.len(),
        report.offences.len(),
        report.wallets.offences.len(),
        report.offending_policies.join(", ")
    );
    Ok(ExitCode::FAILURE)
}

/// `inert`, or `live, no preview`.
fn outcome(t: kaifang_policy::Treatment, preview: bool) -> String {
    if preview || t <= kaifang_policy::Treatment::Inert {
        t.to_string()
    } else {
        format!("{t}, no preview")
    }
}

fn print(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub async fn policy(client: &Client, cmd: &PolicyCommand) -> anyhow::Result<()> {
    match cmd {
        PolicyCommand::Lint { .. } => {}
        PolicyCommand::Propose { file, comment } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            print(
                &client
                    .raw(
                        Method::POST,
                        "/api/v1/admin/policies",
                        Some(&json!({ "text": text, "comment": comment })),
                    )
                    .await?,
            )?;
        }
        PolicyCommand::Activate { version, at } => {
            let path = format!("/api/v1/admin/policies/{version}/activate");
            print(
                &client
                    .raw(Method::POST, &path, Some(&json!({ "at": at })))
                    .await?,
            )?;
        }
        PolicyCommand::Rollback { version } => {
            print(
                &client
                    .raw(
                        Method::POST,
                        "/api/v1/admin/policies/rollback",
                        Some(&json!({ "to": version })),
                    )
                    .await?,
            )?;
        }
        PolicyCommand::History => print(
            &client
                .raw(Method::GET, "/api/v1/admin/policies", None)
                .await?,
        )?,
        PolicyCommand::Replay { file, since: s } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            print(&replay(client, &text, s).await?)?;
        }
    }
    Ok(())
}

/// Slices of the range replayed one request each, so that a long replay
/// shows its progress.
const REPLAY_SLICES: i64 = 20;

async fn replay(client: &Client, text: &str, since_text: &str) -> anyhow::Result<Value> {
    let fmt = &time::format_description::well_known::Rfc3339;
    let to = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let from = time::OffsetDateTime::parse(&since(since_text)?, fmt)?;
    let step = (to - from) / REPLAY_SLICES as i32;
    let (mut replayed, mut changed) = (0u64, 0u64);
    let mut changes: std::collections::BTreeMap<String, (Value, u64)> = Default::default();
    for i in 0..REPLAY_SLICES {
        let a = from + step * i as i32;
        let b = if i == REPLAY_SLICES - 1 {
            to
        } else {
            from + step * (i as i32 + 1)
        };
        let body = json!({ "text": text, "from": a.format(fmt)?, "to": b.format(fmt)? });
        let part = client
            .raw(Method::POST, "/api/v1/admin/replay", Some(&body))
            .await?;
        replayed += part["replayed"].as_u64().unwrap_or(0);
        changed += part["changed"].as_u64().unwrap_or(0);
        for c in part["changes"].as_array().into_iter().flatten() {
            let key = format!(
                "{}|{}|{}|{}|{}",
                c["owner"], c["platform"], c["conversation_kind"], c["from"], c["to"]
            );
            let entry = changes.entry(key).or_insert_with(|| (c.clone(), 0));
            entry.1 += c["count"].as_u64().unwrap_or(0);
        }
        let done = ((i + 1) * 30 / REPLAY_SLICES) as usize;
        eprint!(
            "\rreplay [{}{}] {:>3}% · {replayed} links, {changed} would change",
            "#".repeat(done),
            "-".repeat(30 - done),
            (i + 1) * 100 / REPLAY_SLICES
        );
    }
    eprintln!();
    let mut list: Vec<(Value, u64)> = changes.into_values().collect();
    list.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let list: Vec<Value> = list
        .into_iter()
        .map(|(mut c, n)| {
            c["count"] = json!(n);
            c
        })
        .collect();
    Ok(json!({ "replayed": replayed, "changed": changed, "changes": list }))
}
