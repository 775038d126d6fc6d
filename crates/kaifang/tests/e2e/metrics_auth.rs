//! `/metrics` with `metrics.token`: only the scraper that holds the token
//! reads it; without the setting it stays open, as the tests' own
//! `TestServer::metrics` relies on.
use crate::TestServer;

const TOKEN: &str = "scrape-me-7f3a";

async fn get(url: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{url}/metrics"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn with_a_token_only_its_holder_reads_metrics() {
    let server = TestServer::start_with(&[("KAIFANG_METRICS__TOKEN", TOKEN)]);
    for wrong in [None, Some("scrape-me"), Some("scrape-me-7f3b")] {
        let answer = get(&server.url, wrong).await;
        assert_eq!(answer.status().as_u16(), 401, "{wrong:?}");
        let kind = answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(kind, "application/problem+json");
        let text = answer.text().await.unwrap();
        assert!(!text.contains("kaifang_"), "{text}");
        assert!(!text.contains(TOKEN), "{text}");
    }
    let answer = get(&server.url, Some(TOKEN)).await;
    assert_eq!(answer.status().as_u16(), 200);
    let text = answer.text().await.unwrap();
    assert!(text.contains("kaifang_connected_clients 0"), "{text}");
    // The 401s above were counted like any other answer.
    assert!(
        text.contains(
            "kaifang_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"401\"} 3"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn without_a_token_metrics_stay_open() {
    let server = TestServer::start();
    let answer = get(&server.url, None).await;
    assert_eq!(answer.status().as_u16(), 200);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("kaifang_messages_sent_total 0")
    );
    server.wait_for_clients(0).await;
}
