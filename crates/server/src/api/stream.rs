//! `GET /api/v1/stream`: the event stream over WebSocket, one JSON event per
//! text frame, after catching up from the client's cursor.
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{
    CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code,
    rejection::WebSocketUpgradeRejection,
};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use kaifang_store::EventId;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::Query;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::service::accounts::Caller;
use crate::wire::cursor;

/// Stream parameters.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// The last cursor received; omitted: start from now.
    pub since: Option<String>,
    /// The token, for browsers that cannot set headers on a WebSocket.
    pub access_token: Option<String>,
}

/// The close code a stream ends with when its session signs out.
pub const CLOSE_SIGNED_OUT: u16 = 4001;

/// Upgrades to a WebSocket carrying `{"cursor","type":"message"|"member"|"preview"|"removal",…}`
/// frames; a client too far behind gets `{"type":"resync","cursor"}` and is closed.
/// When the session that opened the stream signs out, the socket is closed
/// with code 4001 ("signed out"); when the server stops, with 1012
/// ("service restart": reconnect).
#[utoipa::path(get, path = "/api/v1/stream", tag = "events", params(StreamQuery),
    responses((status = 101, description = "WebSocket; closed with code 4001 when its session signs out, 1012 when the server stops"), (status = 400), (status = 401)), security(("bearer" = [])))]
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or(q.access_token.as_deref())
        .ok_or_else(|| {
            ApiError::unauthorized("send Authorization: Bearer <token> or ?access_token=")
        })?;
    let caller = state.accounts.authenticate(token).await?;
    let after = state.events.start(q.since.as_deref()).await?;
    let upgrade =
        upgrade.map_err(|e| ApiError::bad_request(format!("not a WebSocket request: {e}")))?;
    let s = &state.settings.stream;
    let upgrade = upgrade
        .read_buffer_size(s.read_buffer_bytes)
        .write_buffer_size(s.write_buffer_bytes)
        .max_message_size(s.max_frame_bytes);
    // Over `stream.max_connections`: upgrade anyway and close with 1013
    // (try again later), which WebSocket clients understand, rather than
    // an HTTP error that browsers hide from scripts.
    let Ok(permit) = state.streams.clone().try_acquire_owned() else {
        return Ok(upgrade.on_upgrade(refuse));
    };
    Ok(upgrade.on_upgrade(move |socket| async move {
        connection(socket, state, caller, after).await;
        drop(permit);
    }))
}

async fn refuse(mut socket: WebSocket) {
    let close = CloseFrame {
        code: close_code::AGAIN,
        reason: Utf8Bytes::from_static("too many streams; try again later"),
    };
    let _ = socket.send(Message::Close(Some(close))).await;
}

/// The close code a stream ends with when the server stops: 1012, service
/// restart, which tells clients to reconnect (to this server once it is
/// back, or to another).
pub const CLOSE_RESTART: u16 = close_code::RESTART;

fn restarting() -> CloseFrame {
    CloseFrame {
        code: CLOSE_RESTART,
        reason: Utf8Bytes::from_static("server restarting; reconnect"),
    }
}

/// The database failed under a stream: 1013, try again later, from the
/// cursor the client has.
fn try_again() -> CloseFrame {
    CloseFrame {
        code: close_code::AGAIN,
        reason: Utf8Bytes::from_static("database unavailable; reconnect later"),
    }
}

fn signed_out() -> CloseFrame {
    CloseFrame {
        code: CLOSE_SIGNED_OUT,
        reason: Utf8Bytes::from_static("signed out"),
    }
}

async fn connection(socket: WebSocket, state: AppState, caller: Caller, mut last: EventId) {
    let (mut tx, mut rx) = socket.split();
    let user = caller.user_id;
    // Subscribe before catching up: whatever commits meanwhile is queued,
    // and the id check below drops what the catch-up already sent.
    let mut subscription = state.events.subscribe(user, caller.token_hash);
    // A sign-out between the token check and the subscription found no
    // stream to end: ask again now that this one can be found.
    match state.accounts.session(caller.token_hash).await {
        Ok(_) => {}
        Err(crate::ServiceError::Unauthenticated(_)) => {
            let _ = tx.send(Message::Close(Some(signed_out()))).await;
            return;
        }
        // The database did not answer: the session may well be valid.
        Err(_) => {
            let _ = tx.send(Message::Close(Some(try_again()))).await;
            return;
        }
    }
    let page = state.settings.stream.catch_up_page;
    loop {
        let Ok(frames) = state.events.catch_up(user, last, page).await else {
            let _ = tx.send(Message::Close(Some(try_again()))).await;
            return;
        };
        let n = frames.len();
        for frame in frames {
            if tx.send(Message::Text(frame.json)).await.is_err() {
                return;
            }
            last = frame.id;
        }
        if n < page as usize {
            break;
        }
    }
    let mut ping = tokio::time::interval(Duration::from_secs(
        state.settings.stream.ping_seconds.max(1),
    ));
    ping.tick().await;
    let stopping = state.stopping.clone();
    let stopped = stopping.signalled();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => {
                let _ = tx.send(Message::Close(Some(restarting()))).await;
                return;
            }
            frame = subscription.rx.recv() => match frame {
                Some(frame) if frame.ephemeral => {
                    if tx.send(Message::Text(frame.json)).await.is_err() {
                        return;
                    }
                }
                Some(frame) if frame.id > last => {
                    last = frame.id;
                    if tx.send(Message::Text(frame.json)).await.is_err() {
                        return;
                    }
                }
                Some(_) => {}
                None if subscription.signed_out() => {
                    let _ = tx.send(Message::Close(Some(signed_out()))).await;
                    return;
                }
                None => {
                    let notice = format!("{{\"type\":\"resync\",\"cursor\":\"{}\"}}", cursor::encode(last));
                    let _ = tx.send(Message::Text(Utf8Bytes::from(notice))).await;
                    let _ = tx.close().await;
                    return;
                }
            },
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if tx.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}
