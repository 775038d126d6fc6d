//! Issue 3 end to end: decisions per conversation kind, blocked links,
//! the evaluate endpoint and the interstitial page.
use serde_json::{Value, json};

use crate::{TestServer, id, status, user};

const TAOBAO: &str = "https://item.taobao.com/item.htm?id=678&spm=a21.123&utm_source=wx";

fn link(message: &Value) -> &Value {
    &message["links"][0]
}

#[tokio::test]
async fn a_taobao_link_is_live_in_direct_chats_and_inert_in_groups() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let direct = id(&alice.open_direct("bob").await.unwrap());
    let group = id(&alice
        .create_group("friends", &["bob".into()])
        .await
        .unwrap());
    let text = format!("快看这个 {TAOBAO}，很便宜！");

    let m = alice.send(direct, &text, None).await.unwrap();
    let l = link(&m);
    assert_eq!(l["url"], TAOBAO);
    assert_eq!(l["canonical"], "https://item.taobao.com/item.htm?id=678");
    assert_eq!(l["platform"], "taobao");
    assert_eq!(l["owner"], "alibaba");
    assert_eq!(l["category"], "commerce");
    assert_eq!(l["treatment"], "live");
    assert_eq!(l["preview"], true);
    // Spans: the URL starts after "快看这个 " (5 code points, 5 UTF-16 units).
    assert_eq!(
        (l["start"].as_u64(), l["start_utf16"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(
        l["end"].as_u64().unwrap() - 5,
        TAOBAO.chars().count() as u64
    );

    let m = alice.send(group, &text, None).await.unwrap();
    let l = link(&m);
    assert_eq!(l["treatment"], "inert");
    assert_eq!(l["preview"], false);
    assert_eq!(l["policies"], json!(["groups-rival-platforms-inert"]));

    // History keeps the decisions.
    let h = alice.history(group, None, 1).await.unwrap();
    assert_eq!(h["messages"][0]["links"][0]["treatment"], "inert");
}

#[tokio::test]
async fn a_blocklisted_domain_is_refused_with_the_policy_id() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("threats.txt");
    std::fs::write(
        &list,
        "# test list\nevil-shop.top\n0.0.0.0 phish.example.com\n",
    )
    .unwrap();
    let server = TestServer::start_with(&[(
        "KAIFANG_LINKS__BLOCKLISTS",
        &format!("{{threats=\"{}\"}}", list.display()),
    )]);
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let r = alice
        .send(c, "free money at https://login.evil-shop.top/win now", None)
        .await;
    match r {
        Err(kaifang_client::Error::Api {
            status, problem, ..
        }) => {
            assert_eq!(status, 422);
            assert_eq!(
                problem["links"][0]["url"],
                "https://login.evil-shop.top/win"
            );
            assert_eq!(problem["links"][0]["treatment"], "blocked");
            assert_eq!(problem["links"][0]["lists"], json!(["threats"]));
            assert_eq!(
                problem["links"][0]["policies"],
                json!(["threat-listed-blocked"])
            );
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("threat-listed-blocked")
            );
        }
        other => panic!("expected 422, got {other:?}"),
    }
    // Nothing was stored.
    let h = alice.history(c, None, 10).await.unwrap();
    assert!(h["messages"].as_array().unwrap().is_empty());
    // A hosts-file entry blocks too.
    assert_eq!(
        status(alice.send(c, "http://phish.example.com/login", None).await),
        422
    );
}

#[tokio::test]
async fn evaluate_explains_without_sending() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let body = json!({"text": format!("{TAOBAO} and v.douyin.com/abc and 看看www.jd.com"), "conversation_kind": "group"});
    let r = alice
        .raw(reqwest::Method::POST, "/api/v1/links/evaluate", Some(&body))
        .await
        .unwrap();
    let platforms: Vec<&str> = r["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["taobao", "douyin", "jd"]);
    assert!(
        r["links"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["treatment"] == "inert")
    );
    let bad = json!({"text": "x", "conversation_kind": "channel"});
    assert_eq!(
        status(
            alice
                .raw(reqwest::Method::POST, "/api/v1/links/evaluate", Some(&bad))
                .await
        ),
        400
    );
    // The endpoint needs a token.
    let anon = reqwest::Client::new()
        .post(format!("{}/api/v1/links/evaluate", server.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
}

#[tokio::test]
async fn bidi_controls_make_a_link_inert_and_flagged() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let m = alice
        .send(c, "see https://example.com/\u{202E}fdp.exe", None)
        .await
        .unwrap();
    let l = link(&m);
    assert_eq!(l["treatment"], "inert");
    assert!(l["flags"].as_array().unwrap().contains(&json!("bidi")));
}

#[tokio::test]
async fn the_interstitial_names_platform_owner_and_policy() {
    let server = TestServer::start();
    let http = reqwest::Client::new();
    let get = |query: String, lang: &'static str| {
        http.get(format!("{}/go?{query}", server.url))
            .header("accept-language", lang)
            .send()
    };
    let url = crate::urlencode(TAOBAO);
    let r = get(format!("url={url}"), "en-GB,en;q=0.9").await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    assert!(page.contains("Taobao"), "{page}");
    assert!(page.contains("Alibaba"), "{page}");
    // The full host, its registrable domain emphasised; the policy id; both ways out.
    assert!(
        page.contains("item.<strong class=\"domain\">taobao.com</strong>"),
        "{page}"
    );
    assert!(page.contains("links-live"), "{page}");
    assert!(
        page.contains("href=\"https://item.taobao.com/item.htm?id=678\">Continue"),
        "{page}"
    );
    assert!(page.contains("id=\"go-back\""), "{page}");
    assert!(page.contains("lang=zh"), "the switch to Chinese: {page}");

    // Chinese from Accept-Language; in a group, Taobao is inert: Copy link, no Continue.
    let page = get(format!("url={url}&kind=group"), "zh-CN,zh;q=0.9,en;q=0.5")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"zh\">"), "{page}");
    assert!(
        page.contains("复制链接") && !page.contains("go-continue"),
        "{page}"
    );
    assert!(page.contains("groups-rival-platforms-inert"), "{page}");
    // The link in the page overrides the header.
    let page = get(format!("url={url}&lang=en"), "zh-CN")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Continue"), "{page}");

    // Not a link: a 400 page, not a redirect.
    for bad in [
        "javascript:alert(1)",
        "not a url",
        "￥Ab3dE5fG7hK￥",
        "https://a.com x.com",
    ] {
        let r = get(format!("url={}", crate::urlencode(bad)), "en")
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.headers().get("location").is_none());
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(r.text().await.unwrap().contains("Not a valid link"));
    }
    // A malformed query (no url, or two) is the same page, not a problem.
    for query in ["kind=group".to_owned(), format!("url={url}&url={url}")] {
        let r = get(query.clone(), "en").await.unwrap();
        assert_eq!(r.status(), 400, "{query}");
        let html = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(html.starts_with("text/html"), "{query}: {html}");
        assert!(r.text().await.unwrap().contains("Not a valid link"));
    }
    // The page's own style and script are served.
    for asset in ["go.css", "go.js"] {
        let r = reqwest::get(format!("{}/app/{asset}", server.url))
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
    }
}

#[tokio::test]
async fn payment_links_are_links_of_their_wallet_in_the_message() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let direct = id(&alice.open_direct("bob").await.unwrap());
    let deep = "wxp://f2f0qzJL49oCBGKRbD4ugro9eeYs3PSZNop";
    let qr = "https://qr.alipay.com/tsxwounogmbivowr90";
    let text = format!("两种都行：{deep} 或者 {qr} 以及帮助 https://qr.alipay.com/help.htm");
    let m = alice.send(direct, &text, None).await.unwrap();
    let links = m["links"].as_array().unwrap();
    let got: Vec<(&str, &str, &str)> = links
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap(),
                l["platform"].as_str().unwrap(),
                l["url"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("payment", "wechat-pay", deep),
            ("payment", "alipay", qr),
            ("url", "alipay", "https://qr.alipay.com/help.htm"),
        ]
    );
    assert_eq!(links[0]["owner"], "tencent");
    assert_eq!(links[1]["owner"], "ant");
    assert!(
        links[..2].iter().all(|l| l["preview"] == false),
        "{links:?}"
    );
    // History keeps the kind.
    let h = alice.history(direct, None, 1).await.unwrap();
    assert_eq!(h["messages"][0]["links"][0]["kind"], "payment");
    // A payment URL opens through the interstitial like any URL; a deep link has no page there.
    let go = |u: &str| {
        reqwest::Client::new()
            .get(format!(
                "{}/go?url={}&lang=en",
                server.url,
                crate::urlencode(u)
            ))
            .send()
    };
    assert_eq!(go(qr).await.unwrap().status(), 200);
    assert_eq!(go(deep).await.unwrap().status(), 400);
}
