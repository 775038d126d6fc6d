//! A typed client for Kaifang's public API, used by the CLI, the load
//! generator and the end-to-end tests. It speaks only the documented HTTP
//! and WebSocket interface.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kaifang_client::Error> {
//! let mut client = kaifang_client::Client::new("http://127.0.0.1:8080")?;
//! client.sign_up("alice", "correct horse", None).await?;
//! client.sign_in("alice", "correct horse").await?;
//! let conversation = client.open_direct("bob").await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use thiserror::Error;
use tokio_tungstenite::tungstenite;

/// What a call can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a problem (`application/problem+json`).
    #[error("{title} ({status}): {detail}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The problem's title.
        title: String,
        /// The problem's detail.
        detail: String,
        /// The whole problem object.
        problem: Box<Value>,
    },
    /// The server could not be reached or the answer not read.
    #[error("cannot reach the server: {0}")]
    Http(#[from] reqwest::Error),
    /// The WebSocket failed.
    #[error("stream error: {0}")]
    WebSocket(#[from] Box<tungstenite::Error>),
    /// The server's URL is invalid.
    #[error("invalid server URL: {0}")]
    Url(#[from] url::ParseError),
    /// A call that needs a session was made without one.
    #[error("not signed in: run `kaifang login` first")]
    NotSignedIn,
    /// The server sent something this client does not understand.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

impl Error {
    /// The HTTP status the server refused with, from an API call or from a
    /// WebSocket upgrade; `None` when no answer came (unreachable, dropped).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::WebSocket(e) => match e.as_ref() {
                tungstenite::Error::Http(response) => Some(response.status().as_u16()),
                _ => None,
            },
            Error::Http(e) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }
}

/// A connection to one server, optionally signed in.
#[derive(Clone)]
pub struct Client {
    base: url::Url,
    http: reqwest::Client,
    token: Option<String>,
}

/// An open event stream.
pub struct EventStream {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    closed: Option<(u16, String)>,
}

impl EventStream {
    /// The next event as raw JSON text, or `None` when the server closed.
    pub async fn next_text(&mut self) -> Option<Result<String, Error>> {
        loop {
            match self.socket.next().await? {
                Ok(tungstenite::Message::Text(t)) => return Some(Ok(t.to_string())),
                Ok(tungstenite::Message::Close(frame)) => {
                    self.closed = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                    return None;
                }
                Ok(_) => continue,
                Err(e) => return Some(Err(Error::WebSocket(Box::new(e)))),
            }
        }
    }

    /// The close code and reason the server gave, once it closed the
    /// stream (4001: the session signed out).
    pub fn close_frame(&self) -> Option<(u16, &str)> {
        self.closed
            .as_ref()
            .map(|(code, reason)| (*code, reason.as_str()))
    }

    /// The next event, parsed.
    pub async fn next_event(&mut self) -> Option<Result<Value, Error>> {
        let text = self.next_text().await?;
        Some(
            text.and_then(|t| {
                serde_json::from_str(&t).map_err(|e| Error::Unexpected(e.to_string()))
            }),
        )
    }
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Self {
            base: url::Url::parse(base)?,
            http,
            token: None,
        })
    }

    /// The same client using `token`.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The current token, if signed in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn url(&self, path: &str) -> Result<url::Url, Error> {
        Ok(self.base.join(path)?)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Error> {
        let request = match &self.token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        let response = request.send().await?;
        let status = response.status();
        if status.is_success() {
            if status == reqwest::StatusCode::NO_CONTENT {
                return serde_json::from_value(Value::Null)
                    .map_err(|e| Error::Unexpected(e.to_string()));
            }
            return response.json::<T>().await.map_err(Error::Http);
        }
        let problem: Value = response.json().await.unwrap_or(Value::Null);
        Err(Error::Api {
            status: status.as_u16(),
            title: problem["title"].as_str().unwrap_or("error").to_owned(),
            detail: problem["detail"]
                .as_str()
                .unwrap_or("the server gave no detail")
                .to_owned(),
            problem: Box::new(problem),
        })
    }

    /// Creates an account.
    pub async fn sign_up(
        &self,
        handle: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<Value, Error> {
        let body = json!({ "handle": handle, "password": password, "display_name": display_name });
        self.call(self.http.post(self.url("/api/v1/accounts")?).json(&body))
            .await
    }

    /// Creates an account with an invite code (servers whose
    /// `auth.registration` is `invite` require one).
    pub async fn sign_up_invited(
        &self,
        handle: &str,
        password: &str,
        display_name: Option<&str>,
        invite: &str,
    ) -> Result<Value, Error> {
        let body = json!({
            "handle": handle,
            "password": password,
            "display_name": display_name,
            "invite": invite,
        });
        self.call(self.http.post(self.url("/api/v1/accounts")?).json(&body))
            .await
    }

    /// Sets a new password with a one-time reset code from an administrator.
    pub async fn reset_password(&self, code: &str, password: &str) -> Result<(), Error> {
        let body = json!({ "code": code, "password": password });
        let url = self.url("/api/v1/account/password-reset")?;
        self.call::<Value>(self.http.post(url).json(&body)).await?;
        Ok(())
    }

    /// Signs in; the client keeps the token.
    pub async fn sign_in(&mut self, handle: &str, password: &str) -> Result<String, Error> {
        let body = json!({ "handle": handle, "password": password });
        let v: Value = self
            .call(self.http.post(self.url("/api/v1/sessions")?).json(&body))
            .await?;
        let token = v["token"]
            .as_str()
            .ok_or_else(|| Error::Unexpected("no token".into()))?
            .to_owned();
        self.token = Some(token.clone());
        Ok(token)
    }

    /// Revokes the current token.
    pub async fn sign_out(&mut self) -> Result<(), Error> {
        self.token.as_ref().ok_or(Error::NotSignedIn)?;
        let _: Value = self
            .call(self.http.delete(self.url("/api/v1/sessions/current")?))
            .await?;
        self.token = None;
        Ok(())
    }

    /// The signed-in account.
    pub async fn me(&self) -> Result<Value, Error> {
        self.call(self.http.get(self.url("/api/v1/me")?)).await
    }

    /// The direct conversation with `handle`.
    pub async fn open_direct(&self, handle: &str) -> Result<Value, Error> {
        let body = json!({ "kind": "direct", "with": handle });
        self.call(
            self.http
                .post(self.url("/api/v1/conversations")?)
                .json(&body),
        )
        .await
    }

    /// A new group.
    pub async fn create_group(&self, title: &str, members: &[String]) -> Result<Value, Error> {
        let body = json!({ "kind": "group", "title": title, "members": members });
        self.call(
            self.http
                .post(self.url("/api/v1/conversations")?)
                .json(&body),
        )
        .await
    }

    /// The caller's conversations.
    pub async fn conversations(&self) -> Result<Value, Error> {
        self.call(self.http.get(self.url("/api/v1/conversations")?))
            .await
    }

    /// Adds a member to a group.
    pub async fn add_member(&self, conversation: i64, handle: &str) -> Result<Value, Error> {
        let url = self.url(&format!("/api/v1/conversations/{conversation}/members"))?;
        self.call(self.http.post(url).json(&json!({ "handle": handle })))
            .await
    }

    /// Removes a member from a group (oneself: leaves).
    pub async fn remove_member(&self, conversation: i64, handle: &str) -> Result<(), Error> {
        let url = self.url(&format!(
            "/api/v1/conversations/{conversation}/members/{handle}"
        ))?;
        let _: Value = self.call(self.http.delete(url)).await?;
        Ok(())
    }

    /// Sends a message.
    pub async fn send(
        &self,
        conversation: i64,
        body: &str,
        client_txn_id: Option<&str>,
    ) -> Result<Value, Error> {
        let url = self.url(&format!("/api/v1/conversations/{conversation}/messages"))?;
        self.call(
            self.http
                .post(url)
                .json(&json!({ "body": body, "client_txn_id": client_txn_id })),
        )
        .await
    }

    /// Sends a reply to the message at `reply_to` (its seq).
    pub async fn reply(
        &self,
        conversation: i64,
        body: &str,
        reply_to: i64,
    ) -> Result<Value, Error> {
        let url = self.url(&format!("/api/v1/conversations/{conversation}/messages"))?;
        self.call(
            self.http
                .post(url)
                .json(&json!({ "body": body, "reply_to": reply_to })),
        )
        .await
    }

    /// Gives one of one's messages a new text.
    pub async fn edit(&self, conversation: i64, seq: i64, body: &str) -> Result<Value, Error> {
        let url = self.url(&format!(
            "/api/v1/conversations/{conversation}/messages/{seq}"
        ))?;
        self.call(self.http.patch(url).json(&json!({ "body": body })))
            .await
    }

    /// Recalls a message (one's own, or any in a group one administers).
    pub async fn recall(&self, conversation: i64, seq: i64) -> Result<(), Error> {
        let url = self.url(&format!(
            "/api/v1/conversations/{conversation}/messages/{seq}"
        ))?;
        let _: Value = self.call(self.http.delete(url)).await?;
        Ok(())
    }

    /// Hides the previews of one of one's messages, for every member.
    pub async fn hide_previews(&self, conversation: i64, seq: i64) -> Result<(), Error> {
        let url = self.url(&format!(
            "/api/v1/conversations/{conversation}/messages/{seq}/previews"
        ))?;
        let _: Value = self.call(self.http.delete(url)).await?;
        Ok(())
    }

    /// The operator's per-domain preview rules (administrators).
    pub async fn preview_rules(&self) -> Result<Value, Error> {
        let url = self.url("/api/v1/admin/preview-rules")?;
        self.call(self.http.get(url)).await
    }

    /// Adds a preview rule to `list` (`allow` or `deny`; administrators).
    pub async fn add_preview_rule(&self, list: &str, rule: &str) -> Result<Value, Error> {
        let url = self.url("/api/v1/admin/preview-rules")?;
        self.call(
            self.http
                .post(url)
                .json(&json!({ "list": list, "rule": rule })),
        )
        .await
    }

    /// Removes a preview rule from `list` (administrators).
    pub async fn remove_preview_rule(&self, list: &str, rule: &str) -> Result<(), Error> {
        let url = self.url("/api/v1/admin/preview-rules")?;
        let request = self
            .http
            .delete(url)
            .query(&[("list", list), ("rule", rule)]);
        let _: Value = self.call(request).await?;
        Ok(())
    }

    /// Adds (`on`) or takes back a reaction.
    pub async fn react(
        &self,
        conversation: i64,
        seq: i64,
        emoji: &str,
        on: bool,
    ) -> Result<(), Error> {
        let mut url = self.url(&format!(
            "/api/v1/conversations/{conversation}/messages/{seq}/reactions/"
        ))?;
        // Pushed as a path segment, so it is percent-encoded.
        url.path_segments_mut()
            .map_err(|()| Error::Unexpected("base URL cannot have a path".into()))?
            .pop_if_empty()
            .push(emoji);
        let request = if on {
            self.http.put(url)
        } else {
            self.http.delete(url)
        };
        let _: Value = self.call(request).await?;
        Ok(())
    }

    /// A page of history.
    pub async fn history(
        &self,
        conversation: i64,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Value, Error> {
        let mut url = self.url(&format!("/api/v1/conversations/{conversation}/messages"))?;
        url.query_pairs_mut()
            .append_pair("limit", &limit.to_string());
        if let Some(b) = before_seq {
            url.query_pairs_mut()
                .append_pair("before_seq", &b.to_string());
        }
        self.call(self.http.get(url)).await
    }

    /// A page of search hits: messages of the caller's conversations that
    /// contain `q`, newest first.
    pub async fn search(
        &self,
        q: &str,
        conversation: Option<i64>,
        before: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Value, Error> {
        let mut url = self.url("/api/v1/search")?;
        url.query_pairs_mut().append_pair("q", q);
        for (name, value) in [
            ("conversation", conversation),
            ("before", before),
            ("limit", limit.map(i64::from)),
        ] {
            if let Some(v) = value {
                url.query_pairs_mut().append_pair(name, &v.to_string());
            }
        }
        self.call(self.http.get(url)).await
    }

    /// Long poll for events.
    pub async fn poll(&self, since: Option<&str>, timeout_ms: u64) -> Result<Value, Error> {
        let mut url = self.url("/api/v1/events")?;
        url.query_pairs_mut()
            .append_pair("timeout_ms", &timeout_ms.to_string());
        if let Some(s) = since {
            url.query_pairs_mut().append_pair("since", s);
        }
        self.call(self.http.get(url)).await
    }

    /// Uploads a file's bytes into a conversation (the server sniffs the
    /// type); the answer's `id` goes into [`Client::send_with`].
    pub async fn upload(
        &self,
        conversation: i64,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<Value, Error> {
        let mut url = self.url(&format!("/api/v1/conversations/{conversation}/attachments"))?;
        url.query_pairs_mut().append_pair("name", name);
        self.call(
            self.http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes),
        )
        .await
    }

    /// Sends a message carrying uploaded attachments.
    pub async fn send_with(
        &self,
        conversation: i64,
        body: &str,
        attachments: &[i64],
    ) -> Result<Value, Error> {
        let url = self.url(&format!("/api/v1/conversations/{conversation}/messages"))?;
        self.call(
            self.http
                .post(url)
                .json(&json!({ "body": body, "attachments": attachments })),
        )
        .await
    }

    /// Any JSON call by method and path (for endpoints without a helper).
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let mut request = self.http.request(method, self.url(path)?);
        if let Some(b) = body {
            request = request.json(b);
        }
        self.call(request).await
    }

    /// Opens the WebSocket event stream after `since`.
    pub async fn stream(&self, since: Option<&str>) -> Result<EventStream, Error> {
        let token = self.token.as_ref().ok_or(Error::NotSignedIn)?;
        let mut url = self.url("/api/v1/stream")?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|_| Error::Unexpected("cannot build the stream URL".into()))?;
        url.query_pairs_mut().append_pair("access_token", token);
        if let Some(s) = since {
            url.query_pairs_mut().append_pair("since", s);
        }
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .map_err(|e| Error::WebSocket(Box::new(e)))?;
        Ok(EventStream {
            socket,
            closed: None,
        })
    }
}
