//! Replay rebuilds every fact the policy reads from the link-share log: a
//! link made inert by bidi controls, or one on a mixed-script host, replays
//! under the policy that decided it exactly as it was decided.
use reqwest::Method;
use serde_json::{Value, json};

use crate::{TestServer, id, user};

const BIDI: &str = "see https://example.com/\u{202E}fdp.exe";
/// The `а` is Cyrillic: a mixed-script host.
const HOMOGRAPH: &str = "see https://p\u{0430}ypal.com/";

const WARN_ON_HOMOGRAPHS: &str = r#"
@id("homographs-warn")
forbid (principal, action == Kaifang::Action::"open_directly", resource)
when { resource.mixed_script };
"#;

fn flags(link: &Value) -> Vec<&str> {
    link["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn replay_keeps_the_bidi_and_mixed_script_facts() {
    let server = TestServer::start();
    let admin = user(&server, "operator").await; // first account: admin
    let _bob = user(&server, "bob").await;
    let d = id(&admin.open_direct("bob").await.unwrap());

    let bidi = admin.send(d, BIDI, None).await.unwrap();
    let bidi = &bidi["links"][0];
    assert_eq!(bidi["treatment"], "inert");
    assert!(flags(bidi).contains(&"bidi"), "{bidi}");
    let homograph = admin.send(d, HOMOGRAPH, None).await.unwrap();
    let homograph = &homograph["links"][0];
    assert_eq!(homograph["treatment"], "live");
    assert!(flags(homograph).contains(&"homograph"), "{homograph}");

    // The policy in force, replayed over its own decisions: nothing changes.
    let policy = admin
        .raw(Method::GET, "/api/v1/admin/policies/0", None)
        .await
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let same = admin
        .raw(
            Method::POST,
            "/api/v1/admin/replay",
            Some(&json!({"text": policy})),
        )
        .await
        .unwrap();
    assert_eq!(
        same,
        json!({"replayed": 2, "changed": 0, "changes": []}),
        "the bidi link stays inert under the policy that made it inert"
    );

    // A candidate that reads `mixed_script` changes the homograph link only.
    let candidate = format!("{policy}\n{WARN_ON_HOMOGRAPHS}");
    let warned = admin
        .raw(
            Method::POST,
            "/api/v1/admin/replay",
            Some(&json!({"text": candidate})),
        )
        .await
        .unwrap();
    assert_eq!(
        warned,
        json!({"replayed": 2, "changed": 1, "changes": [{
            "owner": "unknown", "platform": "unknown", "conversation_kind": "direct",
            "from": "live", "to": "warn", "count": 1
        }]})
    );
}
