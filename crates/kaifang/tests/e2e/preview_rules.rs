//! Issue 11, item 4 end to end: the operator's per-domain preview rules
//! (API, CLI, every bad input, the limit, the audit log, a second node),
//! and a sender hiding the preview of their own message.
use std::process::Command;
use std::time::{Duration, Instant};

use kaifang_client::Client;
use reqwest::Method;
use serde_json::{Value, json};

use crate::nodes::Pair;
use crate::previews::{preview_of, shop};
use crate::{PASSWORD, TestServer, id, refusal, status, user};

/// The shop on loopback under two names: a "taobao" one and an
/// "example.com" one, so that rules can tell them apart.
fn settings(port: u16) -> String {
    format!(
        "[preview]\nallow_addresses = [\"127.0.0.1:{port}\"]\n[preview.resolve]\n\
         \"item.taobao.com\" = \"127.0.0.1\"\n\"shop.example.com\" = \"127.0.0.1\"\n"
    )
}

async fn add(admin: &Client, list: &str, rule: &str) -> Result<Value, kaifang_client::Error> {
    admin.add_preview_rule(list, rule).await
}

/// The rules of one list, in their canonical text.
async fn listed(admin: &Client, list: &str) -> Vec<String> {
    admin.preview_rules().await.unwrap()[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_owned())
        .collect()
}

/// The answer to `GET /api/v1/previews?url=`: status and problem type.
async fn preview_request(server: &TestServer, token: &str, url: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/previews", server.url))
        .query(&[("url", url)])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn operators_deny_and_allow_previews_by_domain() {
    let (port, _, pages) = shop().await;
    let server = TestServer::start_full(&[], Some(&settings(port)));
    let root = user(&server, "root").await; // the first account: an administrator
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let mut stream = bob.stream(None).await.unwrap();

    // Nobody but an administrator learns the endpoint exists.
    assert_eq!(status(alice.preview_rules().await), 404);
    assert_eq!(status(add(&alice, "deny", "example.com").await), 404);
    assert_eq!(
        status(alice.remove_preview_rule("deny", "example.com").await),
        404
    );
    let anon = Client::new(&server.url).unwrap();
    assert_eq!(status(anon.preview_rules().await), 401);

    // No rule yet: every domain may be previewed, as before.
    let empty = root.preview_rules().await.unwrap();
    assert_eq!(empty["allow"], json!([]));
    assert_eq!(empty["deny"], json!([]));
    assert_eq!(empty["max_rules"], 10_000);

    // Deny the shop's "taobao" name by subdomain wildcard: written in any
    // case with a trailing dot, stored in one spelling; a repeat is 200.
    let added = add(&root, "deny", " *.TAOBAO.com. ").await.unwrap();
    assert_eq!(added["rule"], "*.taobao.com");
    assert_eq!(added["list"], "deny");
    assert_eq!(added["created_by"], "root");
    let again = root
        .raw(
            Method::POST,
            "/api/v1/admin/preview-rules",
            Some(&json!({"list": "deny", "rule": "*.taobao.com"})),
        )
        .await
        .unwrap();
    assert_eq!(again["rule"], "*.taobao.com");
    assert_eq!(listed(&root, "deny").await, ["*.taobao.com"]);

    // A denied link is decided without a preview and nothing is fetched;
    // a link to another host still gets its card. Its event is the signal
    // that the previews got past the denied one.
    let taobao = format!("http://item.taobao.com:{port}/item.htm?id=1");
    let denied = alice
        .send(c, &format!("看看 {taobao}"), None)
        .await
        .unwrap();
    assert_eq!(denied["links"][0]["treatment"], "live");
    assert_eq!(denied["links"][0]["preview"], false);
    let shop_link = format!("http://shop.example.com:{port}/item.htm?id=2");
    let other = alice.send(c, &shop_link, None).await.unwrap();
    assert_eq!(other["links"][0]["preview"], true);
    preview_of(&mut stream, &other).await;
    assert_eq!(*pages.lock().unwrap(), ["/item.htm?id=2"]);
    // Asked for directly, the denied host's preview is refused, saying why.
    let token = alice.token().unwrap().to_owned();
    let (code, problem) = preview_request(&server, &token, &taobao).await;
    assert_eq!(code, 422, "{problem}");
    assert_eq!(problem["type"], "/problems/preview-rule");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("preview rules"),
        "{problem}"
    );
    assert_eq!(pages.lock().unwrap().len(), 1, "nothing fetched for it");

    // An allowlist admits only what it names; deny still wins over it.
    add(&root, "allow", "domain:taobao.com").await.unwrap();
    let still = alice.send(c, &taobao, None).await.unwrap();
    assert_eq!(still["links"][0]["preview"], false, "deny wins");
    let unlisted = alice.send(c, &shop_link, None).await.unwrap();
    assert_eq!(
        unlisted["links"][0]["preview"], false,
        "not on the allowlist"
    );
    let (code, _) = preview_request(&server, &token, &shop_link).await;
    assert_eq!(code, 422);
    // Without the deny rule, the allowed domain is previewed again.
    root.remove_preview_rule("deny", "*.taobao.com")
        .await
        .unwrap();
    assert_eq!(
        status(root.remove_preview_rule("deny", "*.taobao.com").await),
        404,
        "removed already"
    );
    let allowed = alice.send(c, &taobao, None).await.unwrap();
    assert_eq!(allowed["links"][0]["preview"], true);
    preview_of(&mut stream, &allowed).await;
    let (code, body) = preview_request(&server, &token, &shop_link).await;
    assert_eq!(code, 422, "still not on the allowlist: {body}");

    // Every change is in the audit log, with the rule.
    let audit = root
        .raw(Method::GET, "/api/v1/admin/audit", None)
        .await
        .unwrap();
    let entries: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("preview_rules."))
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (
                "preview_rules.remove".to_owned(),
                json!({"list": "deny", "rule": "*.taobao.com"}).to_string()
            ),
            (
                "preview_rules.add".to_owned(),
                json!({"list": "allow", "rule": "domain:taobao.com"}).to_string()
            ),
            (
                "preview_rules.add".to_owned(),
                json!({"list": "deny", "rule": "*.taobao.com"}).to_string()
            ),
        ]
    );
}

/// Every rule that is not a domain is refused with 400 problem+json naming
/// it, as is a list that does not exist; nothing is stored.
#[tokio::test]
async fn a_preview_rule_that_is_not_a_domain_is_refused_naming_it() {
    let server = TestServer::start();
    let root = user(&server, "root").await;
    for bad in [
        "http://x/",
        "*.",
        "a b",
        "",
        "   ",
        "127.0.0.1",
        "::1",
        "[::1]",
        "example.com:8080",
        "example.com/path",
        "a.*.example.com",
        "exa_mple.com",
        "domain:co.uk",
        "domain:www.example.com",
    ] {
        for list in ["allow", "deny"] {
            let (code, detail) = refusal(add(&root, list, bad).await);
            assert_eq!(code, 400, "{bad:?}: {detail}");
            assert!(
                detail.contains(&format!("`{bad}` is not a domain rule")),
                "{bad:?}: {detail}"
            );
        }
        let (code, detail) = refusal(root.remove_preview_rule("deny", bad).await);
        assert_eq!(code, 400, "{bad:?}: {detail}");
    }
    let (code, detail) = refusal(add(&root, "maybe", "example.com").await);
    assert_eq!(code, 400);
    assert!(detail.contains("`maybe` is not a list"), "{detail}");
    let (code, _) = refusal(
        root.raw(
            Method::POST,
            "/api/v1/admin/preview-rules",
            Some(&json!({"list": "deny"})),
        )
        .await,
    );
    assert_eq!(code, 400, "a missing rule");
    let listing = root.preview_rules().await.unwrap();
    assert_eq!(
        (listing["allow"].clone(), listing["deny"].clone()),
        (json!([]), json!([]))
    );
}

/// `preview.max_rules` counts both lists; past it, 409 and nothing stored.
#[tokio::test]
async fn the_number_of_rules_is_capped() {
    let server = TestServer::start_with(&[("KAIFANG_PREVIEW__MAX_RULES", "2")]);
    let root = user(&server, "root").await;
    assert_eq!(root.preview_rules().await.unwrap()["max_rules"], 2);
    add(&root, "deny", "a.example").await.unwrap();
    add(&root, "allow", "b.example").await.unwrap();
    let (code, detail) = refusal(add(&root, "deny", "c.example").await);
    assert_eq!(code, 409);
    assert!(detail.contains("preview.max_rules"), "{detail}");
    assert_eq!(listed(&root, "deny").await, ["a.example"]);
    // Removing one makes room again.
    root.remove_preview_rule("deny", "a.example").await.unwrap();
    add(&root, "deny", "c.example").await.unwrap();
}

fn kaifang(server: &TestServer, config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args(["--server", &server.url, "--client-config"])
        .arg(config)
        .args(args)
        .env_remove("KAIFANG_TOKEN")
        .output()
        .expect("run kaifang")
}

/// `kaifang admin preview-rules`: list, add and remove, one line a rule;
/// bad input is one line on stderr and a failing exit.
#[tokio::test]
async fn the_cli_edits_the_rules_and_refuses_bad_ones_in_one_line() {
    let server = TestServer::start();
    user(&server, "root").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("root.json");
    let login = kaifang(&server, &config, &["login", "root", "--password", PASSWORD]);
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let run = |args: &[&str]| {
        let mut all = vec!["admin", "preview-rules"];
        all.extend_from_slice(args);
        kaifang(&server, &config, &all)
    };
    let stdout = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        stdout(&run(&["list"])),
        "no preview rules: every domain may be previewed\n"
    );
    assert_eq!(
        stdout(&run(&["add", "deny", "*.Example.org"])),
        "deny *.example.org\n"
    );
    assert_eq!(
        stdout(&run(&["add", "allow", "domain:例子.中国"])),
        "allow domain:例子.中国\n"
    );
    assert_eq!(
        stdout(&run(&["list"])),
        "allow domain:例子.中国\ndeny *.example.org\n"
    );
    for (args, says) in [
        (
            &["add", "deny", "http://x/"][..],
            "`http://x/` is not a domain rule",
        ),
        (&["add", "deny", "*."][..], "`*.` is not a domain rule"),
        (&["add", "deny", "a b"][..], "`a b` is not a domain rule"),
        (&["add", "deny", ""][..], "`` is not a domain rule"),
        (
            &["add", "allow", "10.0.0.1"][..],
            "`10.0.0.1` is not a domain rule",
        ),
        (
            &["add", "maybe", "example.com"][..],
            "`maybe` is not a list",
        ),
        (
            &["remove", "deny", "other.example"][..],
            "no such preview rule",
        ),
    ] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(
        stdout(&run(&["remove", "deny", "*.example.org"])),
        "removed deny *.example.org\n"
    );
    assert_eq!(stdout(&run(&["list"])), "allow domain:例子.中国\n");
}

/// The sender removes the preview of their message: members see it go
/// live, history keeps it gone, nobody else may remove it.
#[tokio::test]
async fn a_sender_hides_the_preview_of_their_own_message() {
    let (port, _, _) = shop().await;
    let server = TestServer::start_full(&[], Some(&settings(port)));
    user(&server, "root").await;
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let eve = user(&server, "eve").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let mut stream = bob.stream(None).await.unwrap();
    let link = format!("http://shop.example.com:{port}/item.htm?id=7");
    let sent = alice.send(c, &link, None).await.unwrap();
    let seq = sent["seq"].as_i64().unwrap();
    assert_eq!(sent["previews_hidden"], false);
    preview_of(&mut stream, &sent).await;

    // Only its sender: the other member and an outsider get 404.
    assert_eq!(status(bob.hide_previews(c, seq).await), 404);
    assert_eq!(status(eve.hide_previews(c, seq).await), 404);
    assert_eq!(status(alice.hide_previews(c, seq + 1).await), 404);
    alice.hide_previews(c, seq).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let event = loop {
        let e = tokio::time::timeout(Duration::from_secs(10), stream.next_event())
            .await
            .expect("the previews_hidden event")
            .unwrap()
            .unwrap();
        if e["type"] == "previews_hidden" {
            break e;
        }
        assert!(Instant::now() < deadline);
    };
    assert_eq!(event["message_id"], sent["id"]);
    assert_eq!(event["seq"], seq);
    assert_eq!(event["conversation_id"], c);
    for reader in [&alice, &bob] {
        let h = reader.history(c, None, 1).await.unwrap();
        let m = &h["messages"][0];
        assert_eq!(m["previews_hidden"], true);
        assert_eq!(m["previews"], json!({}));
        assert_eq!(m["body"], link.as_str(), "the text stays");
    }
    // Again: nothing changes. Recalled: 409.
    alice.hide_previews(c, seq).await.unwrap();
    alice.recall(c, seq).await.unwrap();
    let (code, _) = refusal(alice.hide_previews(c, seq).await);
    assert_eq!(code, 409);
}

/// A rule added on one node is applied by the other within
/// `governance.poll_ms`, bus or no bus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_added_on_one_node_applies_on_the_other() {
    let pair = Pair::start().await;
    let root = user(&pair.a, "root").await;
    let alice = user(&pair.a, "alice").await;
    user(&pair.a, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let mut on_b = Client::new(&pair.b.url).unwrap();
    on_b.sign_in("alice", PASSWORD).await.unwrap();
    let token = on_b.token().unwrap().to_owned();
    let link = "https://item.taobao.com/item.htm?id=9";

    add(&root, "deny", "domain:taobao.com").await.unwrap();
    // Asked on node b until it answers with the rule (it never reaches the
    // network either way: test servers have no DNS).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, problem) = preview_request(&pair.b, &token, link).await;
        if code == 422 {
            assert_eq!(problem["type"], "/problems/preview-rule");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node b never applied the rule: {code} {problem}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = on_b.send(c, link, None).await.unwrap();
    assert_eq!(sent["links"][0]["preview"], false);
    // And its removal too.
    root.remove_preview_rule("deny", "domain:taobao.com")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sent = on_b.send(c, link, None).await.unwrap();
        if sent["links"][0]["preview"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "node b never dropped the rule");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
