//! A server for in-process benchmarks: settings, an admin account, a token.
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Sends one request through the router.
pub async fn call(router: &axum::Router, req: Request<Body>) -> (StatusCode, bytes::Bytes) {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes())
}

/// A JSON request, with a bearer token if given.
pub fn json(method: &str, uri: &str, body: String, token: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(body)).unwrap()
}

/// Builds a server on `dir` (no rate limits, cheap hashing) and signs up
/// its first account, the administrator; returns the routes and its token.
pub async fn start(dir: &std::path::Path) -> (axum::Router, String) {
    let mut settings = kaifang_server::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_owned(),
        ..Default::default()
    };
    settings.auth.argon2_memory_kib = 1024;
    settings.auth.argon2_iterations = 1;
    settings.auth.first_signup_becomes_admin = true;
    settings.limits.requests_per_second = u32::MAX;
    settings.limits.requests_burst = u32::MAX;
    settings.preview.system_dns = false;
    let router = kaifang_server::Server::build(settings)
        .await
        .unwrap()
        .router();
    let creds = r#"{"handle":"admin","password":"bench-password"}"#;
    let (s, _) = call(
        &router,
        json("POST", "/api/v1/accounts", creds.into(), None),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, body) = call(
        &router,
        json("POST", "/api/v1/sessions", creds.into(), None),
    )
    .await;
    let token = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    (router, token)
}
