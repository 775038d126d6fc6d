//! Issue 5 end to end: a scheduled opening of group chats, the report and
//! the replay with exact counts, the lint, and every bad input.
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{TestServer, id, status, user};

const TAOBAO: &str = "https://item.taobao.com/item.htm?id=678";

fn read(path: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path),
    )
    .unwrap()
}

fn rfc3339_in(ms: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(ms);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn count(report: &Value, kind: &str, treatment: &str) -> i64 {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["platform"] == "taobao"
                && r["conversation_kind"] == kind
                && r["treatment"] == treatment
        })
        .map(|r| r["count"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn groups_open_at_the_scheduled_instant_and_the_figures_show_it() {
    let server = TestServer::start();
    let admin = user(&server, "operator").await; // first account: admin
    let bob = user(&server, "bob").await;
    let g = id(&admin
        .create_group("shoppers", &["bob".into()])
        .await
        .unwrap());
    let d = id(&admin.open_direct("bob").await.unwrap());

    // Before: inert in the group, live in the direct chat.
    let m = bob.send(g, TAOBAO, None).await.unwrap();
    assert_eq!(m["links"][0]["treatment"], "inert");
    bob.send(g, TAOBAO, None).await.unwrap();
    assert_eq!(
        bob.send(d, TAOBAO, None).await.unwrap()["links"][0]["treatment"],
        "live"
    );

    // Propose and schedule the opening two seconds ahead.
    let open = read("policies/examples/groups-open.cedar");
    let v = admin
        .raw(
            Method::POST,
            "/api/v1/admin/policies",
            Some(&json!({"text": open, "comment": "groups open"})),
        )
        .await
        .unwrap();
    let version = v["id"].as_i64().unwrap();
    let at = rfc3339_in(2_000);
    let a = admin
        .raw(
            Method::POST,
            &format!("/api/v1/admin/policies/{version}/activate"),
            Some(&json!({"at": at})),
        )
        .await
        .unwrap();
    assert_eq!(a["version_id"], version);
    // Not yet.
    assert_eq!(
        bob.send(g, TAOBAO, None).await.unwrap()["links"][0]["treatment"],
        "inert"
    );
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    let m = bob.send(g, TAOBAO, None).await.unwrap();
    assert_eq!(
        m["links"][0]["treatment"], "live",
        "the group opened at the scheduled instant"
    );

    // The report: 3 inert and 1 live in groups, 1 live direct; versions 0 then v.
    let report = admin
        .raw(Method::GET, "/api/v1/admin/reports/links", None)
        .await
        .unwrap();
    assert_eq!(count(&report, "group", "inert"), 3);
    assert_eq!(count(&report, "group", "live"), 1);
    assert_eq!(count(&report, "direct", "live"), 1);
    assert_eq!(report["total"], 5);
    // Over time (daily buckets over the default 30 days): the same counts.
    assert_eq!(report["bucket_ms"], 86_400_000);
    let over_time: i64 = report["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["conversation_kind"] == "group" && p["treatment"] == "inert")
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(over_time, 3);
    let versions: Vec<i64> = report["versions_in_force"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [0, version]);
    // Payments: no order on this server, and the picker's order in force
    // (the default); the payments e2e checks a populated section.
    assert_eq!(report["payments"]["picker_order"], "neutral");
    assert_eq!(report["payments"]["rows"], json!([]));
    assert_eq!(report["payments"]["wallets"], json!([]));

    // Replay the opening over the log: exactly the 3 inert group links change.
    let replay = admin
        .raw(
            Method::POST,
            "/api/v1/admin/replay",
            Some(&json!({"text": open})),
        )
        .await
        .unwrap();
    assert_eq!(
        (replay["replayed"].as_i64(), replay["changed"].as_i64()),
        (Some(5), Some(3))
    );
    assert_eq!(
        replay["changes"][0],
        json!({"owner":"alibaba","platform":"taobao","conversation_kind":"group","from":"inert","to":"live","count":3})
    );

    // Fairness of what is in force now, history, diff, rollback, audit.
    let fair = admin
        .raw(Method::GET, "/api/v1/admin/fairness", None)
        .await
        .unwrap();
    assert_eq!(fair["passed"], true);
    // The verdict is the complete check's, which says how it ran.
    assert_eq!(fair["check"]["method"], "enumerated");
    // Operator `kaifang` owns no registered platform: nothing to compare.
    assert_eq!(fair["check"]["cases"], 0, "{}", fair["check"]);
    assert_eq!(fair["check"]["exhaustive"], true);
    assert_eq!(fair["check"]["counterexamples"], json!([]));
    // Wallet offers are in the same report, with the picker order in force.
    assert_eq!(fair["wallets"]["picker"], "neutral");
    assert!(fair["wallets"]["merchants"].as_u64().unwrap() > 0);
    assert_eq!(fair["wallets"]["offences"], json!([]));
    let history = admin
        .raw(Method::GET, "/api/v1/admin/policies", None)
        .await
        .unwrap();
    assert_eq!(history["active_version"], version);
    let diff = admin
        .raw(
            Method::GET,
            &format!("/api/v1/admin/policies/diff?from=0&to={version}"),
            None,
        )
        .await
        .unwrap();
    assert!(diff["lines"].as_array().unwrap().iter().any(|l| {
        l["op"] == "-"
            && l["line"]
                .as_str()
                .unwrap()
                .contains("groups-rival-platforms-inert")
    }));
    let zero = admin
        .raw(
            Method::POST,
            "/api/v1/admin/policies",
            Some(&json!({"text": read("policies/default.cedar")})),
        )
        .await
        .unwrap();
    admin
        .raw(
            Method::POST,
            "/api/v1/admin/policies/rollback",
            Some(&json!({"to": zero["id"]})),
        )
        .await
        .unwrap();
    assert_eq!(
        bob.send(g, TAOBAO, None).await.unwrap()["links"][0]["treatment"],
        "inert"
    );
    let audit = admin
        .raw(Method::GET, "/api/v1/admin/audit", None)
        .await
        .unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "policy.propose",
        "policy.activate",
        "policy.replay",
        "policy.rollback",
    ] {
        assert!(actions.contains(&a), "audit lacks {a}: {actions:?}");
    }
    // CSV.
    let csv = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/admin/reports/links?format=csv",
            server.url
        ))
        .bearer_auth(admin.token().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("owner,platform,conversation_kind,treatment,count,share\n"));
    // The CLI: replay with progress, and the report as a table.
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kaifang"))
            .args(["--server", &server.url])
            .args(args)
            .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .env("KAIFANG_TOKEN", admin.token().unwrap())
            .output()
            .unwrap()
    };
    let out = cli(&[
        "policy",
        "replay",
        "policies/examples/groups-open.cedar",
        "--since",
        "1h",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (replayed["replayed"].as_i64(), replayed["changed"].as_i64()),
        (Some(6), Some(4))
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("100%"));
    let out = cli(&["report", "links", "--since", "1h", "--format", "table"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("taobao"));
    // Three before the opening, one after the roll-back.
    assert!(csv.contains("alibaba,taobao,group,inert,4,"), "{csv}");
}

#[tokio::test]
async fn bad_governance_input_is_refused_clearly() {
    let server = TestServer::start();
    let admin = user(&server, "operator").await;
    let bob = user(&server, "bob").await;
    let post = |c: &kaifang_client::Client, path: &str, body: Value| {
        let c = c.clone();
        let path = path.to_owned();
        async move { c.raw(Method::POST, &path, Some(&body)).await }
    };
    // Non-admins: 404 everywhere; no token: 401.
    assert_eq!(
        status(bob.raw(Method::GET, "/api/v1/admin/policies", None).await),
        404
    );
    assert_eq!(
        status(post(&bob, "/api/v1/admin/policies", json!({"text": "x"})).await),
        404
    );
    assert_eq!(
        status(
            bob.raw(Method::GET, "/api/v1/admin/reports/links", None)
                .await
        ),
        404
    );
    let anon = reqwest::get(format!("{}/api/v1/admin/policies", server.url))
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    // An invalid policy: Cedar's message, nothing changes.
    match post(
        &admin,
        "/api/v1/admin/policies",
        json!({"text": "permit(principal, action, resource) when { resource.nope };"}),
    )
    .await
    {
        Err(kaifang_client::Error::Api { status, detail, .. }) => {
            assert_eq!(status, 422);
            assert!(detail.contains("nope"), "{detail}");
        }
        other => panic!("expected 422, got {other:?}"),
    }
    let history = admin
        .raw(Method::GET, "/api/v1/admin/policies", None)
        .await
        .unwrap();
    assert!(history["versions"].as_array().unwrap().is_empty());
    // Activation times: malformed, in the past; unknown versions.
    let v = post(
        &admin,
        "/api/v1/admin/policies",
        json!({"text": read("policies/default.cedar")}),
    )
    .await
    .unwrap();
    let path = format!("/api/v1/admin/policies/{}/activate", v["id"]);
    assert_eq!(
        status(post(&admin, &path, json!({"at": "tomorrow"})).await),
        400
    );
    assert_eq!(
        status(post(&admin, &path, json!({"at": "2021-09-17T00:00:00+08:00"})).await),
        400
    );
    assert_eq!(
        status(post(&admin, "/api/v1/admin/policies/999/activate", json!({})).await),
        404
    );
    assert_eq!(
        status(
            post(
                &admin,
                "/api/v1/admin/policies/rollback",
                json!({"to": 999})
            )
            .await
        ),
        404
    );
    // A pending activation can be cancelled, once.
    let pending = post(&admin, &path, json!({"at": rfc3339_in(3_600_000)}))
        .await
        .unwrap();
    let cancel = format!("/api/v1/admin/activations/{}", pending["id"]);
    admin.raw(Method::DELETE, &cancel, None).await.unwrap();
    assert_eq!(status(admin.raw(Method::DELETE, &cancel, None).await), 409);
    // Report ranges: inverted, too long, malformed, unknown format.
    for (from, to) in [
        ("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("2020-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("yesterday", "2026-01-01T00:00:00Z"),
    ] {
        let path = format!(
            "/api/v1/admin/reports/links?from={}&to={}",
            crate::urlencode(from),
            crate::urlencode(to)
        );
        assert_eq!(
            status(admin.raw(Method::GET, &path, None).await),
            400,
            "{from} .. {to}"
        );
    }
    assert_eq!(
        status(
            admin
                .raw(Method::GET, "/api/v1/admin/reports/links?format=xml", None)
                .await
        ),
        400
    );
    // The public report is off by default.
    assert_eq!(
        reqwest::get(format!("{}/api/v1/public/reports/links", server.url))
            .await
            .unwrap()
            .status(),
        404
    );
}

#[test]
fn the_lint_passes_the_default_and_catches_the_planted_rule() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kaifang"))
            .args(args)
            .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .env_remove("KAIFANG_CONFIG")
            .output()
            .unwrap()
    };
    for operator in ["kaifang", "tencent", "jd", "alibaba"] {
        let ok = run(&[
            "policy",
            "lint",
            "policies/default.cedar",
            "--operator",
            operator,
        ]);
        assert!(
            ok.status.success(),
            "{operator}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        // Which check ran, and how much it covered.
        let said = String::from_utf8_lossy(&ok.stdout);
        assert!(said.contains("no self-preferencing found"), "{said}");
        assert!(said.contains(" enumerated "), "{said}");
        // Wallet offers are checked too, and the picker setting is named.
        assert!(said.contains("wallet offers: "), "{said}");
        assert!(!said.contains("wallet offers: 0 merchant(s)"), "{said}");
        assert!(said.contains("picker order neutral"), "{said}");
    }
    let planted = run(&[
        "policy",
        "lint",
        "policies/examples/planted-self-preferencing.cedar",
        "--operator",
        "jd",
    ]);
    assert!(!planted.status.success());
    let err = String::from_utf8_lossy(&planted.stderr);
    assert!(err.contains("planted-rival-commerce-inert"), "{err}");
    assert!(err.contains("enumerated"), "{err}");
    assert_eq!(err.trim().lines().count(), 1);
    // The counterexample: both links' facts, the context, the policy.
    let said = String::from_utf8_lossy(&planted.stdout);
    let line = said
        .lines()
        .find(|l| l.starts_with("counterexample (commerce)"))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(line.contains(r#""owner":"jd""#), "{line}");
    assert!(line.contains(r#""conversation_kind":"group""#), "{line}");
    assert!(line.contains("planted-rival-commerce-inert"), "{line}");
    // A rule no sampled group size shows: the verdict still fails, with the
    // group size that shows it.
    let huge = run(&[
        "policy",
        "lint",
        "policies/examples/planted-huge-groups.cedar",
        "--operator",
        "jd",
    ]);
    assert!(!huge.status.success());
    let err = String::from_utf8_lossy(&huge.stderr);
    assert!(err.contains("0 sampled matrix offence(s)"), "{err}");
    assert!(err.contains("huge-groups-rivals-inert"), "{err}");
    let said = String::from_utf8_lossy(&huge.stdout);
    assert!(said.contains(r#""member_count":1001"#), "{said}");
    let dir = tempfile::tempdir().unwrap();
    // The house wallet alone at a rival's shop: a wallet offence, named with its merchant,
    // both wallets and the rule; the links are as fair as the default's.
    let wallets = dir.path().join("house-wallet-at-taobao.cedar");
    std::fs::write(
        &wallets,
        format!(
            "{}\n@id(\"taobao-house-wallet-only\") forbid (principal, action == Kaifang::Action::\"offer_wallet\", resource) when {{ context.merchant == \"taobao\" && !resource.operator_owned }};",
            read("policies/default.cedar")
        ),
    )
    .unwrap();
    let out = run(&[
        "policy",
        "lint",
        wallets.to_str().unwrap(),
        "--operator",
        "tencent",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0 counterexample(s)"), "{err}");
    assert!(err.contains("1 wallet offence(s)"), "{err}");
    assert!(err.contains("taobao-house-wallet-only"), "{err}");
    let said = String::from_utf8_lossy(&out.stdout);
    let line = said
        .lines()
        .find(|l| l.starts_with("wallet: at taobao (alibaba)"))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        line.contains("wechat-pay is offered where alipay (ant) is refused"),
        "{line}"
    );
    assert!(
        line.contains(r#"refused by ["taobao-house-wallet-only"]"#),
        "{line}"
    );
    let bad = dir.path().join("bad.cedar");
    std::fs::write(&bad, "permit(principal,").unwrap();
    let out = run(&["policy", "lint", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim().lines().count(),
        1
    );
}

/// The report's payments section read through the server and the CLI:
/// orders written into the database (the checkout itself is the payments
/// e2e's), counted by merchant, wallet and outcome, both wallets' totals side
/// by side, and the picker order the settings put in force, not the default.
#[tokio::test]
async fn the_report_counts_orders_per_wallet_and_names_the_picker_order() {
    let server = TestServer::start_with(&[
        ("KAIFANG_DATABASE__URL", ""),
        ("KAIFANG_PAYMENTS__PICKER_ORDER", "alphabetical"),
    ]);
    let admin = user(&server, "operator").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    {
        let db = rusqlite::Connection::open(server.data.join("kaifang.db")).unwrap();
        db.busy_timeout(Duration::from_secs(10)).unwrap();
        let buyer: i64 = db
            .query_row("SELECT id FROM users WHERE handle = 'operator'", [], |r| {
                r.get(0)
            })
            .unwrap();
        // (merchant, wallet, amount, state, created how long ago)
        let orders = [
            ("taobao", "alipay", 12_800, "paid", 60_000),
            ("taobao", "alipay", 12_800, "paid", 120_000),
            ("taobao", "wechat-pay", 500, "failed", 60_000),
            ("jd", "wechat-pay", 9_900, "refunded", 60_000),
            // Before the range asked for below: not counted.
            ("taobao", "alipay", 1, "paid", 2 * 86_400_000),
        ];
        for (merchant, wallet, amount, state, ago) in orders {
            db.execute(
                "INSERT INTO orders (buyer_id, merchant, wallet, amount_minor, currency, state, \
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'CNY', ?5, ?6, ?6)",
                rusqlite::params![buyer, merchant, wallet, amount, state, now - ago],
            )
            .unwrap();
        }
    }
    let from = rfc3339_in(-86_400_000);
    let report = admin
        .raw(
            Method::GET,
            &format!(
                "/api/v1/admin/reports/links?from={}",
                crate::urlencode(&from)
            ),
            None,
        )
        .await
        .unwrap();
    let payments = &report["payments"];
    assert_eq!(payments["picker_order"], "alphabetical");
    assert_eq!(
        payments["rows"],
        json!([
            {"merchant": "jd", "wallet": "wechat-pay", "outcome": "refunded", "orders": 1, "amount_minor": 9_900, "currency": "CNY"},
            {"merchant": "taobao", "wallet": "alipay", "outcome": "paid", "orders": 2, "amount_minor": 25_600, "currency": "CNY"},
            {"merchant": "taobao", "wallet": "wechat-pay", "outcome": "failed", "orders": 1, "amount_minor": 500, "currency": "CNY"},
        ])
    );
    assert_eq!(
        payments["wallets"],
        json!([
            {"wallet": "alipay", "currency": "CNY", "orders": 2, "amount_minor": 25_600, "paid_orders": 2, "paid_amount_minor": 25_600},
            {"wallet": "wechat-pay", "currency": "CNY", "orders": 2, "amount_minor": 10_400, "paid_orders": 1, "paid_amount_minor": 9_900},
        ])
    );
    // The CLI's table, in yuan, with the picker order.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args(["--server", &server.url])
        .args(["report", "links", "--since", "1d", "--format", "table"])
        .env("KAIFANG_TOKEN", admin.token().unwrap())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("taobao    alipay      paid           2  256.00 CNY"),
        "{table}"
    );
    assert!(
        table.contains("wechat-pay       2  104.00 CNY     1    99.00 CNY"),
        "{table}"
    );
    assert!(
        table.ends_with("wallet picker order: alphabetical\n"),
        "{table}"
    );
}
