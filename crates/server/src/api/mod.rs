//! The HTTP API: routes, one file per resource, and the OpenAPI document
//! generated from the handlers' annotations.
pub mod accounts;
pub mod admin;
pub mod administrators;
pub mod attachments;
pub mod avatars;
mod body;
pub mod chat;
pub mod chat_state;
mod contract;
pub mod conversations;
pub mod events;
pub mod extract;
pub(crate) mod go_page;
pub mod links;
pub mod messages;
pub mod moderation;
pub mod operators;
pub mod payments;
pub mod people;
pub mod preview_rules;
pub mod previews;
pub mod search;
pub mod stream;
pub mod system;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{delete, get, patch, post, put};
use tracing::Instrument;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::AppState;
use crate::error::{ApiError, REQUEST_ID};

#[derive(OpenApi)]
#[openapi(
    info(title = "Kaifang API", description = "Open messaging with link rules you can read."),
    paths(
        accounts::sign_up, accounts::sign_in, accounts::sign_out, accounts::me,
        conversations::create, conversations::list, conversations::get,
        conversations::add_member, conversations::remove_member, conversations::change_role,
        messages::send, messages::history,
        events::poll, stream::stream,
        links::evaluate, links::go, previews::preview, previews::image,
        admin::propose, admin::history, admin::version, admin::diff, admin::activate, admin::rollback,
        admin::cancel, admin::report, admin::public_report, admin::fairness, admin::fairness_of,
        admin::replay, admin::audit,
        system::healthz, system::metrics, system::openapi,
        administrators::grant, administrators::revoke,
        accounts::reset_password,
        operators::create_invite, operators::invites, operators::revoke_invite,
        operators::users, operators::suspend, operators::restore, operators::reset_password,
        operators::remove_message,
        chat_state::mark_read, chat_state::mute, chat_state::unmute, chat_state::typing,
        chat_state::read_receipts, chat_state::set_read_receipts,
        search::search,
        attachments::upload, attachments::download, attachments::thumbnail,
        chat::edit, chat::recall, chat::react, chat::unreact, chat::hide_previews,
        preview_rules::list, preview_rules::add, preview_rules::remove,
        people::find, people::profile, people::edit,
        avatars::set, avatars::clear, avatars::get,
        moderation::report, moderation::mine, moderation::queue, moderation::decide,
        moderation::penalties, moderation::appeal, moderation::appeals, moderation::decide_appeal,
        moderation::moderators, moderation::grant_moderator, moderation::revoke_moderator,
        payments::quote, payments::place, payments::order, payments::query, payments::refund,
        payments::notify, payments::ledger, payments::reconcile,
    ),
    modifiers(&BearerAuth),
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route of the API.
pub fn routes(state: AppState) -> Router {
    let max_body = state.settings.limits.max_body_bytes;
    let caps = body::BodyCaps {
        max_body,
        max_drain: state.settings.limits.max_drain_bytes,
        max_upload: state.settings.attachments.max_bytes,
        max_avatar: state.settings.attachments.max_avatar_bytes,
        drain_time: std::time::Duration::from_millis(state.settings.limits.drain_timeout_ms),
    };
    let metrics = state.metrics.clone();
    let api = Router::new()
        .route("/accounts", post(accounts::sign_up))
        .route("/sessions", post(accounts::sign_in))
        .route("/sessions/current", delete(accounts::sign_out))
        .route("/me", get(accounts::me).patch(people::edit))
        .route("/me/profile", get(people::profile))
        .route("/users", get(people::find))
        .route("/me/avatar", put(avatars::set).delete(avatars::clear))
        .route("/users/{handle}/avatar", get(avatars::get))
        .route(
            "/conversations",
            post(conversations::create).get(conversations::list),
        )
        .route("/conversations/{id}", get(conversations::get))
        .route(
            "/conversations/{id}/members",
            post(conversations::add_member),
        )
        .route(
            "/conversations/{id}/members/{handle}",
            delete(conversations::remove_member).patch(conversations::change_role),
        )
        .route(
            "/conversations/{id}/messages",
            post(messages::send).get(messages::history),
        )
        .route(
            "/conversations/{id}/messages/{seq}",
            patch(chat::edit).delete(chat::recall),
        )
        .route(
            "/conversations/{id}/messages/{seq}/reactions/{emoji}",
            put(chat::react).delete(chat::unreact),
        )
        .route(
            "/conversations/{id}/messages/{seq}/previews",
            delete(chat::hide_previews),
        )
        .route(
            "/complaints",
            post(moderation::report).get(moderation::mine),
        )
        .route("/moderation/complaints", get(moderation::queue))
        .route(
            "/moderation/complaints/{id}/decision",
            post(moderation::decide),
        )
        .route("/moderation/appeals", get(moderation::appeals))
        .route(
            "/moderation/appeals/{id}/decision",
            post(moderation::decide_appeal),
        )
        .route("/penalties", get(moderation::penalties))
        .route("/penalties/{id}/appeals", post(moderation::appeal))
        .route("/admin/moderators", get(moderation::moderators))
        .route(
            "/admin/moderators/{handle}",
            put(moderation::grant_moderator).delete(moderation::revoke_moderator),
        )
        .route("/orders", post(payments::place))
        .route("/orders/quote", get(payments::quote))
        .route("/orders/{id}", get(payments::order))
        .route("/orders/{id}/query", post(payments::query))
        .route("/orders/{id}/refunds", post(payments::refund))
        .route("/payments/notify/{wallet}", post(payments::notify))
        .route("/admin/payments/ledger", get(payments::ledger))
        .route("/admin/payments/reconcile", get(payments::reconcile))
        .route("/links/evaluate", post(links::evaluate))
        .route("/previews", get(previews::preview))
        .route("/previews/image", get(previews::image))
        .route("/events", get(events::poll))
        .route("/stream", get(stream::stream))
        .route("/admin/policies", post(admin::propose).get(admin::history))
        .route("/admin/policies/diff", get(admin::diff))
        .route("/admin/policies/rollback", post(admin::rollback))
        .route("/admin/policies/{id}", get(admin::version))
        .route("/admin/policies/{id}/activate", post(admin::activate))
        .route("/admin/activations/{id}", delete(admin::cancel))
        .route("/admin/reports/links", get(admin::report))
        .route(
            "/admin/fairness",
            get(admin::fairness).post(admin::fairness_of),
        )
        .route("/admin/replay", post(admin::replay))
        .route("/admin/audit", get(admin::audit))
        .route(
            "/admin/preview-rules",
            get(preview_rules::list)
                .post(preview_rules::add)
                .delete(preview_rules::remove),
        )
        .route("/public/reports/links", get(admin::public_report))
        .route(
            "/admin/administrators/{handle}",
            put(administrators::grant).delete(administrators::revoke),
        )
        .route("/account/password-reset", post(accounts::reset_password))
        .route(
            "/admin/invites",
            post(operators::create_invite).get(operators::invites),
        )
        .route("/admin/invites/{id}", delete(operators::revoke_invite))
        .route("/admin/users", get(operators::users))
        .route("/admin/messages/{id}", delete(operators::remove_message))
        .route(
            "/admin/users/{handle}/suspension",
            put(operators::suspend).delete(operators::restore),
        )
        .route(
            "/admin/users/{handle}/password-reset",
            post(operators::reset_password),
        )
        .route("/conversations/{id}/read", put(chat_state::mark_read))
        .route(
            "/conversations/{id}/mute",
            put(chat_state::mute).delete(chat_state::unmute),
        )
        .route("/conversations/{id}/typing", post(chat_state::typing))
        .route(
            "/me/read-receipts",
            get(chat_state::read_receipts).put(chat_state::set_read_receipts),
        )
        .route("/search", get(search::search))
        .route("/conversations/{id}/attachments", post(attachments::upload))
        .route("/attachments/{id}", get(attachments::download))
        .route("/attachments/{id}/thumbnail", get(attachments::thumbnail))
        .route("/openapi.json", get(system::openapi))
        .fallback(|| async { ApiError::not_found("endpoint") })
        // Last, so that it covers every route above.
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() });
    let mut public = Router::new()
        .nest("/api/v1", api)
        .route("/", get(crate::web::index))
        .route("/app/{*path}", get(crate::web::asset))
        .route("/go", get(links::go))
        .route("/healthz", get(system::healthz));
    // With a listener of its own, `/metrics` is not public: 404 here.
    if state.settings.metrics.listen.is_none() {
        public = public.route("/metrics", get(system::metrics));
    }
    public
        .fallback(|| async { ApiError::not_found("page") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            caps,
            body::refuse_oversized,
        ))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ))
        .layer(axum::middleware::from_fn(crate::problem_lang::scope))
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

/// The routes of the `metrics.listen` listener: `/metrics` (still behind
/// `metrics.token` when set) and `/healthz`, so a probe can tell the
/// listener is up. Scrapes are counted like any other request.
pub fn metrics_routes(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    Router::new()
        .route("/metrics", get(system::metrics))
        .route("/healthz", get(system::healthz))
        .fallback(|| async { ApiError::not_found("page") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ))
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

/// Gives each request an id: in the `X-Request-Id` answer header, in every
/// log line written while it is handled (a span) and in problem+json
/// answers, so a client's report finds the server's log of it.
async fn request_id(request: Request, next: Next) -> Response {
    let id: Arc<str> = format!("{:016x}", rand::random::<u64>()).into();
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request).instrument(span))
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
