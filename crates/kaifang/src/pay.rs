//! `kaifang pay reconcile --date D`: the ledger against each wallet provider's statement of a
//! day, one line per difference. Like `diff`, it exits 1 when there is a difference, so that a
//! nightly job can alert on it.
use std::process::ExitCode;

use kaifang_client::Client;
use reqwest::Method;
use serde_json::Value;

use crate::cli::PayCommand;

pub async fn pay(client: &Client, cmd: &PayCommand) -> anyhow::Result<ExitCode> {
    let PayCommand::Reconcile { date, format } = cmd;
    if !matches!(format.as_str(), "table" | "json") {
        anyhow::bail!("--format is table or json, not {format:?}");
    }
    let valid = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !valid {
        anyhow::bail!("--date {date:?}: write YYYY-MM-DD");
    }
    let report = client
        .raw(
            Method::GET,
            &format!("/api/v1/admin/payments/reconcile?date={date}"),
            None,
        )
        .await?;
    let differences = report["wallets"]
        .as_array()
        .map_or(0, |w| w.iter().map(|w| count(&w["differences"])).sum());
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", lines(&report));
    }
    Ok(if differences == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn count(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

/// One heading line per wallet, then its differences indented.
fn lines(report: &Value) -> String {
    let mut out = String::new();
    let date = report["date"].as_str().unwrap_or("?");
    for w in report["wallets"].as_array().into_iter().flatten() {
        let n = count(&w["differences"]);
        out.push_str(&format!(
            "{date} {}: {} ledger, {} statement, {}\n",
            w["wallet"].as_str().unwrap_or("?"),
            w["ledger_lines"],
            w["statement_lines"],
            match n {
                0 => "no difference".to_owned(),
                1 => "1 difference".to_owned(),
                n => format!("{n} differences"),
            }
        ));
        for d in w["differences"].as_array().into_iter().flatten() {
            out.push_str(&format!("  {}\n", d.as_str().unwrap_or("?")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_wallet_says_whether_it_agrees_and_lists_its_differences() {
        let report = serde_json::json!({
            "date": "2026-12-04",
            "wallets": [
                {"wallet": "alipay", "ledger_lines": 3, "statement_lines": 3, "differences": []},
                {"wallet": "wechat-pay", "ledger_lines": 1, "statement_lines": 2,
                 "differences": ["missing from the ledger: 4200001 (statement: payment 199.00 CNY of kaifang-00000007)"]},
            ]
        });
        assert_eq!(
            lines(&report),
            "2026-12-04 alipay: 3 ledger, 3 statement, no difference\n\
             2026-12-04 wechat-pay: 1 ledger, 2 statement, 1 difference\n  \
             missing from the ledger: 4200001 (statement: payment 199.00 CNY of kaifang-00000007)\n"
        );
    }
}
