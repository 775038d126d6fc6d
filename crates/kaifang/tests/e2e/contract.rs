//! Issue 13, item 5: the API's contract. The served OpenAPI document lists
//! the refusals every operation can give and the limits of the running
//! server; the router's own refusals are problem+json like the handlers'.
use serde_json::Value;

use crate::TestServer;

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

async fn document(server: &TestServer) -> Value {
    reqwest::get(format!("{}/api/v1/openapi.json", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_operation_documents_its_refusals() {
    let server = TestServer::start();
    let doc = document(&server).await;
    let paths = doc["paths"].as_object().unwrap();
    let mut authenticated = 0;
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let responses = op["responses"].as_object().unwrap();
            let has = |code: &str| responses.contains_key(code);
            let name = format!("{} {path}", method.to_uppercase());
            if op.get("security").is_some() {
                authenticated += 1;
                assert!(has("401") && has("429"), "{name}: {:?}", responses.keys());
                assert_eq!(
                    responses["429"]["headers"]["Retry-After"]["required"], true,
                    "{name}"
                );
            }
            if op.get("requestBody").is_some() {
                for code in ["400", "413", "415"] {
                    assert!(has(code), "{name} lacks {code}");
                }
            }
            for (code, response) in responses {
                // The one page for people: `/go`'s 400 explains in HTML.
                if name == "GET /go" && code == "400" {
                    assert!(response["content"]["text/html"].is_object(), "{name}");
                    continue;
                }
                if code.starts_with('4') || code.starts_with('5') {
                    let schema = &response["content"]["application/problem+json"]["schema"];
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/Problem",
                        "{name} {code}"
                    );
                }
            }
        }
    }
    assert!(
        authenticated >= 26,
        "only {authenticated} authenticated operations"
    );
}

#[tokio::test]
async fn the_document_carries_the_running_servers_limits() {
    let server = TestServer::start_with(&[
        ("KAIFANG_LIMITS__MAX_MESSAGE_BYTES", "1234"),
        ("KAIFANG_LIMITS__MAX_POLL_MS", "4321"),
    ]);
    let doc = document(&server).await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["SendMessage"]["properties"]["body"]["maxLength"],
        1234
    );
    assert_eq!(
        schemas["SignUp"]["properties"]["handle"]["pattern"],
        "^[a-z0-9_]{3,32}$"
    );
    let poll = doc["paths"]["/api/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let param = |name: &str| {
        poll.iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))["schema"]
            .clone()
    };
    assert_eq!(param("timeout_ms")["maximum"], 4321);
    let cursor = param("since")["pattern"].as_str().unwrap().to_owned();
    assert_eq!(cursor, "^c1\\.[0-9]{1,19}$");
}

#[tokio::test]
async fn the_routers_own_refusals_are_problems() {
    let server = TestServer::start();
    let http = reqwest::Client::new();
    for (method, path, status) in [
        (reqwest::Method::PUT, "/api/v1/accounts", 405),
        (reqwest::Method::DELETE, "/healthz", 405),
        (reqwest::Method::GET, "/api/v1/no-such-thing", 404),
        (reqwest::Method::GET, "/no-such-page", 404),
        (
            reqwest::Method::GET,
            "/api/v1/conversations/not-a-number",
            401,
        ),
    ] {
        let r = http
            .request(method.clone(), format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        let name = format!("{method} {path}");
        assert_eq!(r.status().as_u16(), status, "{name}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{name}"
        );
        if status == 405 {
            assert!(r.headers().contains_key("allow"), "{name}: no Allow");
        }
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], status, "{name}");
        assert_eq!(body["request_id"], id.as_str(), "{name}");
    }
}
