//! The served OpenAPI document: the handlers' annotations, completed with
//! what holds for every operation alike and with the limits of the running
//! server's settings, so that a schema-driven client or fuzzer can tell a
//! documented refusal from a bug.
//!
//! Added here rather than in each annotation, so that no operation can
//! forget them:
//! - 401 and 429 (with `Retry-After`) on every operation that takes a
//!   token: each authenticated request counts against
//!   `limits.requests_per_second`;
//! - 503 (with `Retry-After`) on every `/api/v1` operation but this
//!   document: each may read or write the database, and a PostgreSQL
//!   database can become unreachable;
//! - 400, 413 and 415 on every operation with a JSON body (malformed,
//!   over `limits.max_body_bytes`, not JSON);
//! - 400 on every operation with query parameters, 404 on every operation
//!   with path parameters (a value that names nothing);
//! - every 4xx/5xx body as `application/problem+json` (`Problem`), with
//!   the `X-Request-Id` header.
//!
//! The limits (lengths, patterns, ranges, formats) are read from the
//! settings the server runs with, so the document served is the one the
//! server keeps; `ApiDoc::openapi()` alone lacks them.
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::config::Settings;

/// What a cursor looks like (`wire::cursor`): opaque to clients, but a
/// fuzzer that knows the shape can tell a malformed one from a valid one.
const CURSOR_PATTERN: &str = "^c1\\.[0-9]{1,19}$";
/// What `service::accounts::validate_handle` accepts.
const HANDLE_PATTERN: &str = "^[a-z0-9_]{3,32}$";
/// The longest password accepted, in bytes (`service::accounts`).
const MAX_PASSWORD_BYTES: usize = 1024;

/// JSON Schema keywords and their values, e.g. `("maxLength", 64)`.
type Limits = Vec<(&'static str, Value)>;

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// The document as served at `/api/v1/openapi.json`.
pub fn document(settings: &Settings) -> Value {
    let mut doc = serde_json::to_value(super::ApiDoc::openapi()).unwrap_or_default();
    add_problem_schema(&mut doc);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(*method) {
                    complete_statuses(path, op);
                    parameter_limits(path, op, settings);
                }
            }
        }
    }
    body_limits(&mut doc, settings);
    doc
}

fn add_problem_schema(doc: &mut Value) {
    let problem = json!({
        "type": "object",
        "description": "An RFC 9457 problem. Some problems add members (e.g. `links` for a blocked link).",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "description": "`/problems/<kind>`"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "request_id": {"type": "string", "description": "as in the `X-Request-Id` header and the server's log"}
        }
    });
    if let Some(obj) = doc.as_object_mut() {
        let components = obj.entry("components").or_insert_with(|| json!({}));
        if let Some(components) = components.as_object_mut() {
            let schemas = components.entry("schemas").or_insert_with(|| json!({}));
            if let Some(schemas) = schemas.as_object_mut() {
                schemas.insert("Problem".into(), problem);
            }
        }
    }
}

fn has_param(op: &Value, place: &str) -> bool {
    op.get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == place))
}

fn complete_statuses(path: &str, op: &mut Value) {
    let authenticated = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let mut wanted: Vec<(&str, &str)> = Vec::new();
    if authenticated {
        wanted.push(("401", "no valid token"));
        wanted.push(("429", "over the request rate; see Retry-After"));
    }
    if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
        wanted.push(("503", "the database cannot be reached; see Retry-After"));
    }
    if op.get("requestBody").is_some() {
        wanted.push(("400", "malformed request"));
        wanted.push(("413", "body over `limits.max_body_bytes`"));
        wanted.push(("415", "the body is not sent as application/json"));
    }
    if has_param(op, "query") {
        wanted.push(("400", "malformed request"));
    }
    if has_param(op, "path") {
        wanted.push(("404", "no such resource"));
    }
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    for (code, description) in wanted {
        responses
            .entry(code)
            .or_insert_with(|| json!({ "description": description }));
    }
    for (code, response) in responses.iter_mut() {
        if code.starts_with('4') || code.starts_with('5') {
            problem_response(code, response);
        }
    }
}

fn problem_response(code: &str, response: &mut Value) {
    let Some(response) = response.as_object_mut() else {
        return;
    };
    response
        .entry("description")
        .or_insert_with(|| json!("refused"));
    // A page for people (the `/go` warning page's 400) stays HTML; every
    // other refusal is a problem.
    let html = response
        .get("content")
        .is_some_and(|c| c.get("text/html").is_some());
    if !html {
        response.insert(
            "content".into(),
            json!({ "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }),
        );
    }
    let headers = response
        .entry("headers")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(headers) = headers {
        headers.insert(
            "X-Request-Id".into(),
            json!({ "required": true, "schema": { "type": "string" }, "description": "this request's id, as in the server's log" }),
        );
        if code == "429" || code == "503" {
            let required = code == "429";
            headers.insert(
                "Retry-After".into(),
                json!({ "required": required, "schema": { "type": "integer", "minimum": 1 }, "description": "seconds to wait" }),
            );
        }
    }
}

/// Sets `keyword = value` on a schema, or on the schema it is a list of
/// (an optional value is `type: [T, "null"]` in utoipa 5: unaffected).
fn constrain(schema: &mut Value, limits: &[(&str, Value)]) {
    if let Some(obj) = schema.as_object_mut() {
        for (keyword, value) in limits {
            obj.insert((*keyword).to_owned(), value.clone());
        }
    }
}

fn parameter_limits(path: &str, op: &mut Value, s: &Settings) {
    let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for p in params {
        let name = p["name"].as_str().unwrap_or_default().to_owned();
        let limits: Limits = match name.as_str() {
            "since" => vec![("pattern", json!(CURSOR_PATTERN))],
            "handle" => vec![("pattern", json!(HANDLE_PATTERN))],
            "timeout_ms" => vec![
                ("minimum", json!(0)),
                ("maximum", json!(s.limits.max_poll_ms)),
            ],
            "limit" if path.ends_with("/messages") => vec![
                ("minimum", json!(0)),
                ("maximum", json!(s.limits.max_history_page)),
            ],
            "limit" if path.ends_with("/admin/users") => vec![
                ("minimum", json!(1)),
                ("maximum", json!(s.limits.max_users_page)),
            ],
            "url" => vec![("format", json!("uri"))],
            "from" | "to" if path.contains("/reports/") => vec![("format", json!("date-time"))],
            "format" if path.contains("/reports/") => vec![("enum", json!(["json", "csv"]))],
            _ => continue,
        };
        if let Some(schema) = p.get_mut("schema") {
            constrain(schema, &limits);
        }
    }
}

/// Limits on the JSON bodies, by schema and property.
fn body_limits(doc: &mut Value, s: &Settings) {
    let l = &s.limits;
    let handle = || {
        vec![
            ("pattern", json!(HANDLE_PATTERN)),
            ("minLength", json!(3)),
            ("maxLength", json!(32)),
        ]
    };
    let rules: Vec<(&str, &str, Limits)> = vec![
        ("SignUp", "handle", handle()),
        (
            "SignUp",
            "password",
            vec![
                ("minLength", json!(s.auth.min_password_chars)),
                ("maxLength", json!(MAX_PASSWORD_BYTES)),
            ],
        ),
        (
            "SignUp",
            "display_name",
            vec![("maxLength", json!(l.max_display_name_chars))],
        ),
        ("AddMember", "handle", handle()),
        ("NewConversation", "with", handle()),
        (
            "NewConversation",
            "title",
            vec![
                ("minLength", json!(1)),
                ("maxLength", json!(l.max_title_chars)),
            ],
        ),
        (
            "NewConversation",
            "members",
            vec![("maxItems", json!(l.max_group_members.saturating_sub(1)))],
        ),
        (
            "SendMessage",
            "body",
            vec![
                ("minLength", json!(1)),
                ("maxLength", json!(l.max_message_bytes)),
            ],
        ),
        (
            "SendMessage",
            "client_txn_id",
            vec![
                ("minLength", json!(1)),
                ("maxLength", json!(l.max_txn_id_bytes)),
            ],
        ),
        (
            "PasswordReset",
            "password",
            vec![
                ("minLength", json!(s.auth.min_password_chars)),
                ("maxLength", json!(MAX_PASSWORD_BYTES)),
            ],
        ),
        (
            "NewInvite",
            "max_uses",
            vec![
                ("minimum", json!(1)),
                ("maximum", json!(s.auth.invite_max_uses)),
            ],
        ),
        (
            "NewInvite",
            "valid_seconds",
            vec![
                ("minimum", json!(1)),
                ("maximum", json!(s.auth.invite_max_seconds)),
            ],
        ),
        ("Activate", "at", vec![("format", json!("date-time"))]),
        ("Candidate", "from", vec![("format", json!("date-time"))]),
        ("Candidate", "to", vec![("format", json!("date-time"))]),
    ];
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (schema, property, limits) in rules {
        if let Some(found) = schemas.get_mut(schema) {
            set_property(found, property, &limits);
        }
    }
}

/// Constrains `property` wherever it appears in `schema` (an enum of
/// object shapes has it in one of its `oneOf` branches).
fn set_property(schema: &mut Value, property: &str, limits: &[(&str, Value)]) {
    match schema {
        Value::Object(obj) => {
            if let Some(p) = obj
                .get_mut("properties")
                .and_then(Value::as_object_mut)
                .and_then(|props| props.get_mut(property))
            {
                constrain(p, limits);
            }
            for key in ["oneOf", "anyOf", "allOf"] {
                if let Some(Value::Array(branches)) = obj.get_mut(key) {
                    for b in branches {
                        set_property(b, property, limits);
                    }
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| set_property(v, property, limits)),
        _ => {}
    }
}
