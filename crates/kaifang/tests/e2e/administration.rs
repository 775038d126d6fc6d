//! Sign-up modes and operator administration: invite codes, the first
//! administrator from the command line, the account list, suspension and
//! password-reset codes, each audited.
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kaifang_client::Client;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{PASSWORD, TestServer, refusal, status, user};

/// `kaifang admin create <handle> --password-stdin` on the server's data.
fn admin_create(server: &TestServer, handle: &str) -> std::process::Output {
    let mut child = server
        .offline_command()
        .args(["admin", "create", handle, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kaifang admin create");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{PASSWORD}").unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

async fn signed_in(server: &TestServer, handle: &str) -> Client {
    let mut c = Client::new(&server.url).unwrap();
    c.sign_in(handle, PASSWORD).await.unwrap();
    c
}

async fn audit(admin: &Client) -> String {
    admin
        .raw(Method::GET, "/api/v1/admin/audit", None)
        .await
        .unwrap()
        .to_string()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn invite(admin: &Client, body: Value) -> (String, i64) {
    let made = admin
        .raw(Method::POST, "/api/v1/admin/invites", Some(&body))
        .await
        .unwrap();
    let code = made["code"].as_str().unwrap().to_owned();
    (code, made["invite"]["id"].as_i64().unwrap())
}

#[tokio::test]
async fn invite_mode_takes_valid_codes_and_says_why_it_refuses_one() {
    let server = TestServer::start_with(&[("KAIFANG_AUTH__REGISTRATION", "invite")]);
    let out = admin_create(&server, "root");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = signed_in(&server, "root").await;
    let anyone = Client::new(&server.url).unwrap();

    let (code, detail) = refusal(anyone.sign_up("alice", PASSWORD, None).await);
    assert_eq!(
        (code, detail.as_str()),
        (403, "sign-ups need an invite code")
    );

    let (one, _) = invite(&root, json!({ "max_uses": 1 })).await;
    assert!(one.starts_with("kfi_") && one.len() > 40, "{one}");
    anyone
        .sign_up_invited("alice", PASSWORD, None, &one)
        .await
        .unwrap();
    let alice = signed_in(&server, "alice").await;
    assert_eq!(alice.me().await.unwrap()["is_admin"], false);
    let used_up = refusal(anyone.sign_up_invited("bob", PASSWORD, None, &one).await);
    assert_eq!(used_up, (403, "the invite code has been used up".into()));

    // A code is refused from its expiry on (the server shares this clock).
    let (short, short_id) = invite(&root, json!({ "valid_seconds": 1 })).await;
    let list = root
        .raw(Method::GET, "/api/v1/admin/invites", None)
        .await
        .unwrap();
    let expires_at = list["invites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == short_id)
        .unwrap()["expires_at"]
        .as_i64()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while now_ms() <= expires_at {
        assert!(
            Instant::now() < deadline,
            "the clock did not pass {expires_at}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let expired = refusal(anyone.sign_up_invited("bob", PASSWORD, None, &short).await);
    assert_eq!(expired, (403, "the invite code has expired".into()));
    let invalid = refusal(
        anyone
            .sign_up_invited("bob", PASSWORD, None, "kfi_made_up")
            .await,
    );
    assert_eq!(invalid, (403, "the invite code is not valid".into()));

    let (revoked, revoked_id) = invite(&root, json!({ "max_uses": 5 })).await;
    let path = format!("/api/v1/admin/invites/{revoked_id}");
    root.raw(Method::DELETE, &path, None).await.unwrap();
    let after = refusal(
        anyone
            .sign_up_invited("bob", PASSWORD, None, &revoked)
            .await,
    );
    assert_eq!(after, (403, "the invite code is not valid".into()));

    // The list holds no codes; uses are counted.
    let list = root
        .raw(Method::GET, "/api/v1/admin/invites", None)
        .await
        .unwrap();
    let text = list.to_string();
    assert!(!text.contains(&one) && !text.contains(&revoked), "{text}");
    let uses: Vec<i64> = list["invites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["uses"].as_i64().unwrap())
        .collect();
    assert_eq!(uses, vec![0, 0, 1], "newest first");

    for bad in [json!({ "max_uses": 0 }), json!({ "valid_seconds": 0 })] {
        let r = root
            .raw(Method::POST, "/api/v1/admin/invites", Some(&bad))
            .await;
        assert_eq!(status(r), 400, "{bad}");
    }
    // Non-administrators learn nothing.
    let r = alice
        .raw(Method::POST, "/api/v1/admin/invites", Some(&json!({})))
        .await;
    assert_eq!(status(r), 404);
    assert_eq!(
        status(alice.raw(Method::GET, "/api/v1/admin/invites", None).await),
        404
    );
    assert_eq!(status(alice.raw(Method::DELETE, &path, None).await), 404);

    let log = audit(&root).await;
    for action in ["admin.create", "invite.create", "invite.revoke"] {
        assert!(log.contains(action), "{action} missing from {log}");
    }
    assert!(!log.contains(&one), "the audit log holds no code");
}

#[tokio::test]
async fn a_closed_server_refuses_every_sign_up() {
    let server = TestServer::start_with(&[("KAIFANG_AUTH__REGISTRATION", "closed")]);
    let anyone = Client::new(&server.url).unwrap();
    let refused = refusal(anyone.sign_up("alice", PASSWORD, None).await);
    assert_eq!(refused, (403, "sign-ups are closed".into()));
    // An invite code does not open it.
    let refused = refusal(
        anyone
            .sign_up_invited("alice", PASSWORD, None, "kfi_x")
            .await,
    );
    assert_eq!(refused, (403, "sign-ups are closed".into()));
    let out = admin_create(&server, "root");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = signed_in(&server, "root").await;
    assert_eq!(root.me().await.unwrap()["is_admin"], true);
}

#[tokio::test]
async fn the_first_administrator_comes_from_the_command_line_unless_the_setting_says_otherwise() {
    let server = TestServer::start_with(&[("KAIFANG_AUTH__FIRST_SIGNUP_BECOMES_ADMIN", "false")]);
    let first = user(&server, "first").await;
    assert_eq!(first.me().await.unwrap()["is_admin"], false);
    assert_eq!(
        status(first.raw(Method::GET, "/api/v1/admin/users", None).await),
        404
    );

    let out = admin_create(&server, "root");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("created administrator root"), "{said}");
    assert!(!said.contains("postgres://"), "no database URL: {said}");
    let root = signed_in(&server, "root").await;
    assert_eq!(root.me().await.unwrap()["is_admin"], true);
    assert!(audit(&root).await.contains("admin.create"));

    // A taken handle, a bad handle, no password: one line, non-zero exit.
    for (handle, why) in [("root", "taken"), ("Not A Handle", "handle")] {
        let out = admin_create(&server, handle);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{handle}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.starts_with("kaifang: ") && err.contains(why), "{err}");
    }
    let out = server
        .offline_command()
        .args(["admin", "create", "nopass"])
        .env_remove("KAIFANG_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no password"));
}

#[tokio::test]
async fn suspension_ends_sessions_at_once_and_restoring_allows_sign_in() {
    let server = TestServer::start();
    let root = user(&server, "root").await;
    let bob = user(&server, "bob").await;
    let carol = user(&server, "carol").await;
    let mut stream = bob.stream(None).await.unwrap();
    server.wait_for_clients(1).await;
    let path = |h: &str| format!("/api/v1/admin/users/{h}/suspension");

    assert_eq!(
        status(carol.raw(Method::PUT, &path("bob"), None).await),
        404
    );
    let suspended = root.raw(Method::PUT, &path("bob"), None).await.unwrap();
    assert_eq!(suspended["suspended"], true);
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next_text())
        .await
        .expect("the stream closes within 5 s");
    assert!(end.is_none(), "expected the close, got {end:?}");
    assert_eq!(stream.close_frame(), Some((4001, "signed out")));
    assert_eq!(status(bob.me().await), 401);
    let mut again = Client::new(&server.url).unwrap();
    let refused = refusal(again.sign_in("bob", PASSWORD).await);
    assert_eq!(refused.0, 403);
    assert!(refused.1.contains("suspended"), "{}", refused.1);
    // A wrong password learns nothing about the suspension.
    assert_eq!(status(again.sign_in("bob", "not the password").await), 401);

    let listed = root
        .raw(Method::GET, "/api/v1/admin/users", None)
        .await
        .unwrap();
    let flags: Vec<(String, bool, bool)> = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["handle"].as_str().unwrap().to_owned(),
                u["is_admin"].as_bool().unwrap(),
                u["suspended"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            ("root".into(), true, false),
            ("bob".into(), false, true),
            ("carol".into(), false, false)
        ]
    );

    let restored = root.raw(Method::DELETE, &path("bob"), None).await.unwrap();
    assert_eq!(restored["suspended"], false);
    assert_eq!(status(bob.me().await), 401, "old sessions stay ended");
    again.sign_in("bob", PASSWORD).await.unwrap();
    assert_eq!(again.me().await.unwrap()["handle"], "bob");

    assert_eq!(
        status(root.raw(Method::PUT, &path("root"), None).await),
        409
    );
    assert_eq!(
        status(root.raw(Method::PUT, &path("nobody"), None).await),
        404
    );
    let log = audit(&root).await;
    assert!(
        log.contains("account.suspend") && log.contains("account.restore"),
        "{log}"
    );
}

#[tokio::test]
async fn a_reset_code_works_once_and_ends_every_session() {
    let server =
        TestServer::start_with(&[("KAIFANG_AUTH__PASSWORD_RESETS_PER_ADDRESS_PER_HOUR", "4")]);
    let root = user(&server, "root").await;
    let bob = user(&server, "bob").await;
    let path = "/api/v1/admin/users/bob/password-reset";
    assert_eq!(status(bob.raw(Method::POST, path, None).await), 404);
    let made = root.raw(Method::POST, path, None).await.unwrap();
    let code = made["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with("kfr_"), "{made}");
    assert_eq!(bob.me().await.unwrap()["handle"], "bob", "nothing ends yet");

    let anyone = Client::new(&server.url).unwrap();
    let new_password = "a brand new password";
    anyone.reset_password(&code, new_password).await.unwrap();
    assert_eq!(status(bob.me().await), 401, "the old session ended");
    let mut again = Client::new(&server.url).unwrap();
    assert_eq!(status(again.sign_in("bob", PASSWORD).await), 401);
    again.sign_in("bob", new_password).await.unwrap();

    let twice = refusal(anyone.reset_password(&code, "yet another password").await);
    assert_eq!(
        twice,
        (403, "the password reset code has already been used".into())
    );
    let made_up = refusal(
        anyone
            .reset_password("kfr_made_up", "yet another password")
            .await,
    );
    assert_eq!(
        made_up,
        (403, "the password reset code is not valid".into())
    );
    assert_eq!(status(anyone.reset_password(&code, "short").await), 400);
    // Four attempts from this address so far: the fifth waits.
    assert_eq!(
        status(anyone.reset_password(&code, new_password).await),
        429
    );

    assert_eq!(
        status(
            root.raw(
                Method::POST,
                "/api/v1/admin/users/nobody/password-reset",
                None
            )
            .await
        ),
        404
    );
    let log = audit(&root).await;
    assert!(log.contains("account.password_reset"), "{log}");
    assert!(!log.contains(&code), "the audit log holds no code");
}

#[tokio::test]
async fn the_account_list_comes_in_pages() {
    let server = TestServer::start();
    let root = user(&server, "root").await;
    for h in ["bob", "carol"] {
        user(&server, h).await;
    }
    let page = |q: &str| {
        let path = format!("/api/v1/admin/users{q}");
        let root = root.clone();
        async move { root.raw(Method::GET, &path, None).await }
    };
    let first = page("?limit=2").await.unwrap();
    let handles = |v: &Value| -> Vec<String> {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["handle"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(handles(&first), ["root", "bob"]);
    assert!(first["users"][0]["created_at"].as_i64().unwrap() > 0);
    let next = first["next_after"].as_i64().unwrap();
    let rest = page(&format!("?limit=2&after={next}")).await.unwrap();
    assert_eq!(handles(&rest), ["carol"]);
    assert!(rest["next_after"].is_null());
    for bad in ["?limit=0", "?limit=100000", "?after=x"] {
        assert_eq!(status(page(bad).await), 400, "{bad}");
    }
}

/// The operator's commands, as `docs/operating.md` shows them.
#[test]
fn the_cli_invites_lists_suspends_restores_and_resets() {
    let server = TestServer::start_with(&[("KAIFANG_AUTH__REGISTRATION", "invite")]);
    let out = admin_create(&server, "root");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let run = |who: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kaifang"))
            .args(["--server", &server.url, "--client-config"])
            .arg(dir.path().join(format!("{who}.json")))
            .args(args)
            .env_remove("KAIFANG_TOKEN")
            .env_remove("KAIFANG_PASSWORD")
            .stdin(Stdio::null())
            .output()
            .expect("run kaifang")
    };
    let ok = |out: std::process::Output| -> Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    ok(run("root", &["login", "root", "--password", PASSWORD]));
    let made = ok(run(
        "root",
        &["admin", "invite", "create", "--uses", "2", "--valid", "1h"],
    ));
    let code = made["code"].as_str().unwrap().to_owned();
    assert_eq!(made["invite"]["max_uses"], 2);
    let refused = run(
        "alice",
        &["account", "create", "alice", "--password", PASSWORD],
    );
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("sign-ups need an invite code"),
        "{err}"
    );
    ok(run(
        "alice",
        &[
            "account",
            "create",
            "alice",
            "--password",
            PASSWORD,
            "--invite",
            &code,
        ],
    ));
    let list = ok(run("root", &["admin", "invite", "list"]));
    assert_eq!(list["invites"][0]["uses"], 1);
    let id = list["invites"][0]["id"].to_string();
    let revoked = run("root", &["admin", "invite", "revoke", &id]);
    assert!(revoked.status.success());
    let refused = run(
        "bob",
        &[
            "account",
            "create",
            "bob",
            "--password",
            PASSWORD,
            "--invite",
            &code,
        ],
    );
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("not valid"),
        "{err}"
    );

    let users = ok(run("root", &["admin", "users", "--limit", "10"]));
    assert_eq!(users["users"][1]["handle"], "alice");
    let suspended = ok(run("root", &["admin", "suspend", "alice"]));
    assert_eq!(suspended["suspended"], true);
    let refused = run("alice", &["login", "alice", "--password", PASSWORD]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("suspended"));
    ok(run("root", &["admin", "restore", "alice"]));
    let reset = ok(run("root", &["admin", "reset-password", "alice"]));
    let reset_code = reset["code"].as_str().unwrap();
    let new_password = "another good password";
    ok(run(
        "alice",
        &[
            "account",
            "reset-password",
            "--code",
            reset_code,
            "--password",
            new_password,
        ],
    ));
    ok(run(
        "alice",
        &["login", "alice", "--password", new_password],
    ));
}

#[tokio::test]
async fn a_removed_message_becomes_a_placeholder_everywhere() {
    let server = TestServer::start();
    let root = user(&server, "root").await;
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let c = crate::id(&alice.open_direct("bob").await.unwrap());
    let mut stream = bob.stream(None).await.unwrap();
    server.wait_for_clients(1).await;
    let sent = alice.send(c, "the words to remove", None).await.unwrap();
    let message_id = sent["id"].as_i64().unwrap();
    assert_eq!(next_event(&mut stream).await["type"], "message");

    let path = format!("/api/v1/admin/messages/{message_id}");
    assert_eq!(status(alice.raw(Method::DELETE, &path, None).await), 404);
    let removed = root.raw(Method::DELETE, &path, None).await.unwrap();
    assert_eq!(
        (removed["conversation_id"].as_i64(), removed["seq"].as_i64()),
        (Some(c), Some(1))
    );
    let event = next_event(&mut stream).await;
    assert_eq!(
        (
            event["type"].as_str(),
            event["message_id"].as_i64(),
            event["seq"].as_i64()
        ),
        (Some("removal"), Some(message_id), Some(1))
    );
    for reader in [&alice, &bob] {
        let history = reader.history(c, None, 10).await.unwrap();
        let m = &history["messages"][0];
        assert_eq!(
            (m["removed"].as_bool(), m["body"].as_str()),
            (Some(true), Some(""))
        );
    }
    // Catching up from the start replays the placeholder, not the text.
    let replay = bob.poll(Some("c1.0"), 0).await.unwrap().to_string();
    assert!(!replay.contains("the words to remove"), "{replay}");
    assert_eq!(status(root.raw(Method::DELETE, &path, None).await), 409);
    let missing = root
        .raw(Method::DELETE, "/api/v1/admin/messages/99999", None)
        .await;
    assert_eq!(status(missing), 404);
    let log = audit(&root).await;
    assert!(
        log.contains("message.remove") && !log.contains("the words"),
        "{log}"
    );
}

async fn next_event(stream: &mut kaifang_client::EventStream) -> Value {
    tokio::time::timeout(Duration::from_secs(10), stream.next_event())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
        .expect("valid event")
}
