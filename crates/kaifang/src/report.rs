//! `kaifang report links`: the transparency report as a table, CSV or JSON.
//! The table's columns are as wide as their widest cell, numbers to the
//! right, and instants are RFC 3339 (UTC) with the versions' comments;
//! amounts are shown in their currency's decimals (`128.00 CNY`).
use kaifang_client::Client;
use reqwest::Method;
use serde_json::Value;

use crate::cli::ReportCommand;
use crate::governance::since;

pub async fn report(client: &Client, cmd: &ReportCommand) -> anyhow::Result<()> {
    let ReportCommand::Links { since: s, format } = cmd;
    let from = since(s)?;
    let mut path = String::from("/api/v1/admin/reports/links?from=");
    path.push_str(&from.replace('+', "%2B").replace(':', "%3A"));
    let report = client.raw(Method::GET, &path, None).await?;
    match format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&report)?),
        "csv" => print!("{}", csv(&report)),
        "table" => print!("{}", tables(&report)),
        other => anyhow::bail!("--format is table, csv or json, not {other:?}"),
    }
    Ok(())
}

fn rows(report: &Value, key: &str) -> Vec<Value> {
    report[key].as_array().cloned().unwrap_or_default()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn csv(report: &Value) -> String {
    let mut out = String::from("owner,platform,conversation_kind,treatment,count,share\n");
    for r in rows(report, "rows") {
        out.push_str(&format!(
            "{},{},{},{},{},{:.4}\n",
            text(&r["owner"]),
            text(&r["platform"]),
            text(&r["conversation_kind"]),
            text(&r["treatment"]),
            r["count"],
            r["share"].as_f64().unwrap_or(0.0)
        ));
    }
    out
}

/// A table whose columns fit their widest cell; `right` marks the numeric
/// columns, aligned to the right.
fn table(headers: &[&str], right: &[bool], rows: &[Vec<String>]) -> String {
    let width = |i: usize| {
        rows.iter()
            .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
            .chain(std::iter::once(headers[i].chars().count()))
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..headers.len()).map(width).collect();
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i].saturating_sub(c.chars().count());
                if right.get(i).copied().unwrap_or(false) {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    let mut out = line(headers.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

fn rfc3339(ms: &Value) -> String {
    ms.as_i64()
        .and_then(|ms| {
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
        })
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| text(ms))
}

fn per_thousand(v: &Value) -> String {
    v.as_f64().map_or("-".to_owned(), |r| format!("{r:.2}"))
}

/// An amount in minor units as its currency writes it (`128.00 CNY`,
/// `500 JPY`); a currency `kaifang-pay` does not know stays in minor units,
/// said so, rather than guessed.
fn amount(minor: &Value, currency: &Value) -> String {
    let code = text(currency);
    let known = minor.as_i64().and_then(|m| {
        let c = kaifang_pay::Currency::from_code(&code).ok()?;
        kaifang_pay::Money::from_minor(m, c).ok()
    });
    match known {
        Some(money) => money.to_string(),
        None => format!("{} {code} (minor units)", text(minor)),
    }
}

/// The payments section: orders by merchant, wallet and outcome, each
/// wallet's totals beside the others', and the picker's order in force.
fn payments(report: &Value) -> String {
    let section = &report["payments"];
    let orders: Vec<Vec<String>> = rows(section, "rows")
        .iter()
        .map(|r| {
            vec![
                text(&r["merchant"]),
                text(&r["wallet"]),
                text(&r["outcome"]),
                text(&r["orders"]),
                amount(&r["amount_minor"], &r["currency"]),
            ]
        })
        .collect();
    let mut out = String::from("\npayments\n");
    out.push_str(&table(
        &["merchant", "wallet", "outcome", "orders", "amount"],
        &[false, false, false, true, true],
        &orders,
    ));
    let wallets: Vec<Vec<String>> = rows(section, "wallets")
        .iter()
        .map(|w| {
            vec![
                text(&w["wallet"]),
                text(&w["orders"]),
                amount(&w["amount_minor"], &w["currency"]),
                text(&w["paid_orders"]),
                amount(&w["paid_amount_minor"], &w["currency"]),
            ]
        })
        .collect();
    out.push_str("\nper wallet\n");
    out.push_str(&table(
        &["wallet", "orders", "amount", "paid", "paid amount"],
        &[false, true, true, true, true],
        &wallets,
    ));
    out.push_str(&format!(
        "\nwallet picker order: {}\n",
        text(&section["picker_order"])
    ));
    out
}

/// Every section of the report, as aligned tables.
fn tables(report: &Value) -> String {
    let links: Vec<Vec<String>> = rows(report, "rows")
        .iter()
        .map(|r| {
            vec![
                text(&r["owner"]),
                text(&r["platform"]),
                text(&r["conversation_kind"]),
                text(&r["treatment"]),
                text(&r["count"]),
                format!("{:.1}%", r["share"].as_f64().unwrap_or(0.0) * 100.0),
            ]
        })
        .collect();
    let mut out = table(
        &["owner", "platform", "kind", "treatment", "count", "share"],
        &[false, false, false, false, true, true],
        &links,
    );
    out.push_str(&format!(
        "\n{} links decided\n\nversions in force\n",
        text(&report["total"])
    ));
    let versions: Vec<Vec<String>> = rows(report, "versions_in_force")
        .iter()
        .map(|v| {
            vec![
                format!("v{}", text(&v["version"])),
                rfc3339(&v["from"]),
                text(&v["comment"]),
            ]
        })
        .collect();
    out.push_str(&table(&["version", "from", "comment"], &[], &versions));
    let complaints: Vec<Vec<String>> = rows(report, "complaints")
        .iter()
        .map(|c| {
            ["owner", "platform", "reason", "state", "count"]
                .iter()
                .map(|k| text(&c[*k]))
                .collect()
        })
        .collect();
    out.push_str("\ncomplaints\n");
    out.push_str(&table(
        &["owner", "platform", "reason", "outcome", "count"],
        &[false, false, false, false, true],
        &complaints,
    ));
    let penalties: Vec<Vec<String>> = rows(report, "penalties")
        .iter()
        .map(|p| {
            ["owner", "platform", "reason", "state", "count", "lifted"]
                .iter()
                .map(|k| text(&p[*k]))
                .collect()
        })
        .collect();
    out.push_str("\npenalties\n");
    out.push_str(&table(
        &["owner", "platform", "reason", "penalty", "count", "lifted"],
        &[false, false, false, false, true, true],
        &penalties,
    ));
    let rates: Vec<Vec<String>> = rows(report, "strike_rates")
        .iter()
        .map(|r| {
            vec![
                text(&r["category"]),
                text(&r["reason"]),
                format!("{}/{}", text(&r["house_strikes"]), text(&r["house_shares"])),
                per_thousand(&r["house_per_thousand"]),
                format!("{}/{}", text(&r["rival_strikes"]), text(&r["rival_shares"])),
                per_thousand(&r["rival_per_thousand"]),
            ]
        })
        .collect();
    out.push_str("\nstrikes per thousand shares\n");
    out.push_str(&table(
        &["category", "reason", "house", "‰", "rivals", "‰"],
        &[false, false, true, true, true, true],
        &rates,
    ));
    out.push_str(&payments(report));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_line_up_whatever_the_names_and_versions_read_as_instants() {
        let report = json!({
            "total": 3,
            "rows": [
                {"owner": "alibaba", "platform": "taobao", "conversation_kind": "group", "treatment": "inert", "count": 2, "share": 0.6667},
                {"owner": "a-very-long-owner-name", "platform": "x", "conversation_kind": "direct", "treatment": "live", "count": 1, "share": 1.0},
            ],
            "versions_in_force": [
                {"version": 0, "from": 1_800_000_000_000i64, "comment": "start-up policy (settings)"},
                {"version": 1, "from": 1_800_000_360_000i64, "comment": "groups open"},
            ],
            "complaints": [{"owner": "alibaba", "platform": "taobao", "reason": "fraud", "state": "upheld", "count": 1}],
            "penalties": [{"owner": "alibaba", "platform": "taobao", "reason": "fraud", "state": "restricted", "count": 1, "lifted": 0}],
            "strike_rates": [{"category": "commerce", "reason": "fraud", "house_strikes": 0, "house_shares": 0,
                              "house_per_thousand": null, "rival_strikes": 1, "rival_shares": 3, "rival_per_thousand": 333.333}],
        });
        let out = tables(&report);
        let lines: Vec<&str> = out.lines().collect();
        // The link table: every row's count ends in the same column.
        let end = |line: &str, cell: &str| line.find(cell).map(|i| i + cell.len());
        assert_eq!(end(lines[0], "count"), end(lines[1], "2"), "{out}");
        assert_eq!(end(lines[0], "count"), end(lines[2], " 1"), "{out}");
        assert_eq!(lines[1].find("taobao"), lines[0].find("platform"), "{out}");
        assert!(
            out.contains("v0       2027-01-15T08:00:00Z  start-up policy (settings)"),
            "{out}"
        );
        assert!(
            out.contains("v1       2027-01-15T08:06:00Z  groups open"),
            "{out}"
        );
        assert!(!out.contains("1800000000000"), "no raw epoch ms: {out}");
        assert!(
            out.contains("alibaba  taobao    fraud   restricted"),
            "{out}"
        );
        assert!(out.contains("0/0  -"), "{out}");
        assert!(out.contains("1/3  333.33"), "{out}");
        // No payments section in the report (an older server): empty
        // tables, the picker unknown rather than invented.
        assert!(
            out.contains("\npayments\nmerchant  wallet  outcome  orders  amount\n"),
            "{out}"
        );
        assert!(out.ends_with("\nwallet picker order: -\n"), "{out}");
    }

    #[test]
    fn payments_by_wallet_side_by_side_in_their_currencys_decimals() {
        let report = json!({
            "payments": {
                "picker_order": "neutral",
                "rows": [
                    {"merchant": "taobao", "wallet": "alipay", "outcome": "paid", "orders": 3, "amount_minor": 38_400, "currency": "CNY"},
                    {"merchant": "taobao", "wallet": "wechat-pay", "outcome": "failed", "orders": 12, "amount_minor": 5, "currency": "CNY"},
                    {"merchant": "jd", "wallet": "wechat-pay", "outcome": "paid", "orders": 1, "amount_minor": 500, "currency": "JPY"},
                    {"merchant": "jd", "wallet": "alipay", "outcome": "paid", "orders": 1, "amount_minor": 7, "currency": "XYZ"},
                ],
                "wallets": [
                    {"wallet": "alipay", "currency": "CNY", "orders": 3, "amount_minor": 38_400, "paid_orders": 3, "paid_amount_minor": 38_400},
                    {"wallet": "wechat-pay", "currency": "CNY", "orders": 12, "amount_minor": 5, "paid_orders": 0, "paid_amount_minor": 0},
                ],
            },
        });
        let out = payments(&report);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], "payments", "{out}");
        assert_eq!(
            &lines[2..7],
            [
                "merchant  wallet      outcome  orders               amount",
                "taobao    alipay      paid          3           384.00 CNY",
                "taobao    wechat-pay  failed       12             0.05 CNY",
                "jd        wechat-pay  paid          1              500 JPY",
                "jd        alipay      paid          1  7 XYZ (minor units)",
            ],
            "{out}"
        );
        // Both wallets' totals, one line each, columns aligned.
        assert_eq!(
            &lines[8..12],
            [
                "per wallet",
                "wallet      orders      amount  paid  paid amount",
                "alipay           3  384.00 CNY     3   384.00 CNY",
                "wechat-pay      12    0.05 CNY     0     0.00 CNY",
            ],
            "{out}"
        );
        assert_eq!(lines.last(), Some(&"wallet picker order: neutral"), "{out}");
    }
}
