//! Issue 14 item 8: problem titles in the reader's language. The web client
//! sends its UI language as `Accept-Language`; `type` and `status` stay the
//! same whatever the language, only the human text changes.

use serde_json::{Value, json};

use crate::{TestServer, id, user};

/// Status, `Content-Language`, `Vary` and body of one problem answer.
async fn problem(r: reqwest::RequestBuilder, lang: Option<&str>) -> (u16, String, String, Value) {
    let r = match lang {
        Some(l) => r.header("accept-language", l),
        None => r,
    };
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_language, vary) = (header("content-language"), header("vary"));
    assert_eq!(header("content-type"), "application/problem+json");
    (status, content_language, vary, r.json().await.unwrap())
}

#[tokio::test]
async fn problem_titles_are_chinese_for_zh_and_english_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("threats.txt");
    std::fs::write(&list, "evil-shop.top\n").unwrap();
    let server = TestServer::start_with(&[(
        "KAIFANG_LINKS__BLOCKLISTS",
        &format!("{{threats=\"{}\"}}", list.display()),
    )]);
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let token = alice.token().unwrap().to_owned();
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}/api/v1{p}", server.url);
    let unauthorized = || http.get(url("/conversations"));
    let missing = || http.get(url("/conversations/999999")).bearer_auth(&token);
    let blocked = || {
        http.post(url(&format!("/conversations/{c}/messages")))
            .bearer_auth(&token)
            .json(&json!({"body": "see https://evil-shop.top/x"}))
    };
    type Make<'a> = &'a dyn Fn() -> reqwest::RequestBuilder;
    let cases: [(Make, u16, &str, &str, &str); 3] = [
        (
            &unauthorized,
            401,
            "unauthorized",
            "Authentication required",
            "需要登录",
        ),
        (&missing, 404, "not-found", "Not found", "未找到"),
        (&blocked, 422, "link-blocked", "Link blocked", "链接被拦截"),
    ];
    for (make, status, kind, en, zh) in cases {
        for (lang, title, content_language) in [
            (Some("zh-CN"), zh, "zh-CN"),
            (Some("en;q=0.3, zh-Hans;q=0.9"), zh, "zh-CN"),
            (None, en, "en"),
            (Some("fr, *;q=0.1"), en, "en"),
        ] {
            let (got, cl, vary, body) = problem(make(), lang).await;
            let label = format!("{kind} with {lang:?}: {body}");
            assert_eq!(got, status, "{label}");
            assert_eq!(body["status"], status, "{label}");
            assert_eq!(body["type"], format!("/problems/{kind}"), "{label}");
            assert_eq!(body["title"], title, "{label}");
            assert_eq!(cl, content_language, "{label}");
            assert!(vary.contains("Accept-Language"), "{label}: vary {vary}");
        }
    }
    // A fixed detail is translated too; the 422 keeps its data members.
    let (_, _, _, body) = problem(missing(), Some("zh-CN")).await;
    assert_eq!(body["detail"], "没有这个会话");
    let (_, _, _, body) = problem(blocked(), Some("zh-CN")).await;
    assert_eq!(body["links"][0]["treatment"], "blocked", "{body}");
}

/// Link decisions carry the registry's Chinese platform name, when it has
/// one, next to the English one. Previews off: nothing is fetched.
#[tokio::test]
async fn link_decisions_carry_the_chinese_platform_name() {
    let server = TestServer::start_with(&[("KAIFANG_PREVIEW__ENABLED", "false")]);
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let group = id(&alice
        .create_group("friends", &["bob".into()])
        .await
        .unwrap());
    let m = alice
        .send(
            group,
            "https://item.taobao.com/item.htm?id=1 and https://www.youtube.com/watch?v=x",
            None,
        )
        .await
        .unwrap();
    let links = m["links"].as_array().unwrap();
    assert_eq!(links.len(), 2, "{m}");
    assert_eq!(links[0]["platform_name"], "Taobao");
    assert_eq!(links[0]["platform_name_zh"], "淘宝");
    assert_eq!(links[1]["platform_name"], "YouTube");
    assert!(links[1].get("platform_name_zh").is_none(), "{m}");

    // The /go page names the platform in its language too.
    let go = |lang: &'static str| {
        reqwest::Client::new()
            .get(format!(
                "{}/go?kind=group&url={}",
                server.url,
                crate::urlencode("https://item.taobao.com/item.htm?id=1")
            ))
            .header("accept-language", lang)
            .send()
    };
    let zh = go("zh-CN").await.unwrap().text().await.unwrap();
    assert!(zh.contains("淘宝") && !zh.contains("Taobao"), "{zh}");
    let en = go("en").await.unwrap().text().await.unwrap();
    assert!(en.contains("Taobao") && !en.contains("淘宝"), "{en}");
}
