use crate::{TestServer, user};

#[tokio::test]
async fn health_metrics_and_openapi() {
    let server = TestServer::start();
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");

    user(&server, "alice").await;
    let metrics = server.metrics().await;
    assert!(metrics.contains(
        "kaifang_http_requests_total{method=\"POST\",route=\"/api/v1/accounts\",status=\"201\"} 1"
    ));
    assert!(metrics.contains("kaifang_connected_clients 0"));
    assert!(metrics.contains("kaifang_messages_sent_total 0"));

    let doc: serde_json::Value = http
        .get(format!("{}/api/v1/openapi.json", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/accounts",
        "/api/v1/sessions",
        "/api/v1/sessions/current",
        "/api/v1/me",
        "/api/v1/conversations",
        "/api/v1/conversations/{id}",
        "/api/v1/conversations/{id}/members",
        "/api/v1/conversations/{id}/members/{handle}",
        "/api/v1/conversations/{id}/messages",
        "/api/v1/events",
        "/api/v1/stream",
        "/healthz",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "openapi.json lacks {path}");
    }
    let unknown = http
        .get(format!("{}/api/v1/nothing-here", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.headers()["content-type"],
        "application/problem+json"
    );
}
