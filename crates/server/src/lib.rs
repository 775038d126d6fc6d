//! Kaifang's server: HTTP and WebSocket API, accounts, conversations,
//! messages and real-time fan-out, over any [`kaifang_store::Store`].
//!
//! Layers: `api` (thin handlers, one file per resource) → `service` (the
//! logic) → the store trait. The `hub` fans committed events out. Services
//! refuse with their own error (`service::error`, public as
//! [`ServiceError`]); `error` turns it into problem+json at the edge.
#![deny(missing_docs)]

mod api;
mod bus;
mod cluster;
mod config;
mod error;
mod hub;
mod listener;
mod metrics;
mod problem_lang;
mod proxies;
mod ratelimit;
mod service;
mod startup;
mod web;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use kaifang_store::{
    Administration, Attachments, BlobStore, FsBlobStore, Governance, Moderation, People, PgConfig,
    PgStore, PreviewRules, ReadState, Search, SqliteConfig, SqliteStore, Store, User,
};
use tokio::net::TcpListener;

// The public surface: what the binary, the benchmarks and embedders use.
// Everything else is private, so that it can change without notice.
pub use config::ChatSettings;
pub use config::{
    AttachmentSettings, AuthSettings, BusSettings, Cidr, DirectorySettings, GovernanceSettings,
    HttpSettings, Limits, LinkSettings, LogFormat, LogSettings, PreviewSettings, ProxyHeader,
    Registration, SearchSettings, Settings, StorageSettings, StreamSettings,
};
use hub::Hub;
use metrics::Metrics;
use service::accounts::Accounts;
use service::admins::Admins;
use service::attachments::AttachmentService;
use service::chat::ChatService;
use service::chat_state::ChatState;
use service::conversations::Conversations;
pub use service::error::Error as ServiceError;
use service::events::Events;
use service::governance::GovernanceService;
pub use service::links::Links;
use service::messaging::Messaging;
use service::moderation::ModerationService;
use service::people::PeopleService;
use service::preview_rules::{PreviewRuleService, RuleGate};
use service::previews::Previews;
use service::search::SearchService;
pub use startup::StartError;

/// Milliseconds since the Unix epoch, now: the server's one clock.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Shared state; handlers take only the parts they need (via [`FromRef`]).
#[derive(Clone, FromRef)]
pub struct AppState {
    /// All settings, read-only.
    pub settings: Arc<Settings>,
    /// Accounts and sessions.
    pub accounts: Arc<Accounts>,
    /// Conversations and members.
    pub conversations: Arc<Conversations>,
    /// Sending messages.
    pub messaging: Arc<Messaging>,
    /// Editing and recalling messages, reactions.
    pub chat: Arc<ChatService>,
    /// Reading events.
    pub events: Arc<Events>,
    /// The link engine.
    pub links: Arc<Links>,
    /// Link previews.
    pub previews: Arc<Previews>,
    /// The operator's per-domain preview rules.
    pub preview_rules: Arc<PreviewRuleService>,
    /// Policy versions, reports, fairness, replay.
    pub governance: Arc<GovernanceService>,
    /// Granting and revoking operator administrators.
    pub admins: Arc<Admins>,
    /// Read markers, mutes, read receipts, typing.
    pub chat_state: Arc<ChatState>,
    /// Searching messages.
    pub search: Arc<SearchService>,
    /// Uploads and downloads of attachments.
    pub attachments: Arc<AttachmentService>,
    /// The user directory and profile edits.
    pub people: Arc<PeopleService>,
    /// Link complaints, penalties, appeals and moderators.
    pub moderation: Arc<ModerationService>,
    /// Checkout: orders, notifications, refunds, the ledger.
    pub payments: Arc<service::payments::PaymentService>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// One permit per open WebSocket stream (`stream.max_connections`).
    pub streams: Arc<tokio::sync::Semaphore>,
    /// Raised on shutdown: streams close with 1012, long polls answer.
    pub(crate) stopping: listener::Stopping,
    /// The message bus, when this server is one node of several.
    pub(crate) bus: Option<Arc<bus::Bus>>,
}

/// The storage traits, one store behind all three, and the SQLite store
/// as itself when that is the backend (checkpointed at a clean stop).
struct Stores {
    store: Arc<dyn Store>,
    governance: Arc<dyn Governance>,
    administration: Arc<dyn Administration>,
    read_state: Arc<dyn ReadState>,
    search: Arc<dyn Search>,
    attachments: Arc<dyn Attachments>,
    /// A folder beside the SQLite database, or PostgreSQL itself.
    blobs: Arc<dyn BlobStore>,
    chat: Arc<dyn kaifang_store::Chat>,
    people: Arc<dyn People>,
    moderation: Arc<dyn Moderation>,
    preview_rules: Arc<dyn PreviewRules>,
    payments: Arc<dyn kaifang_store::Payments>,
    sqlite: Option<Arc<SqliteStore>>,
}

/// The store the settings choose: PostgreSQL when `database.url` is set,
/// else the embedded SQLite database.
async fn open_store(
    settings: &Settings,
    sink: kaifang_store::EventSink,
) -> Result<Stores, kaifang_store::Error> {
    if settings.database.url.is_empty() {
        let mut sqlite = SqliteConfig::new(settings.sqlite_path());
        sqlite.sync_full = settings.storage.sync_full;
        sqlite.max_batch = settings.storage.max_batch;
        sqlite.readers = settings.storage.readers;
        sqlite.search_index_chunk = settings.storage.search_index_chunk;
        sqlite.search_index_idle_ms = settings.storage.search_index_idle_ms;
        let store = Arc::new(SqliteStore::open(sqlite, sink)?);
        return Ok(Stores {
            store: store.clone(),
            governance: store.clone(),
            administration: store.clone(),
            read_state: store.clone(),
            search: store.clone(),
            attachments: store.clone(),
            blobs: Arc::new(FsBlobStore::open(settings.blob_dir())?),
            chat: store.clone(),
            people: store.clone(),
            moderation: store.clone(),
            preview_rules: store.clone(),
            payments: store.clone(),
            sqlite: Some(store),
        });
    }
    let mut pg = PgConfig::new(settings.database.url.clone());
    pg.pool_size = settings.database.pool_size;
    pg.connect_timeout_ms = settings.database.connect_timeout_ms;
    pg.acquire_timeout_ms = settings.database.acquire_timeout_ms;
    pg.max_batch = settings.database.max_batch;
    pg.pipeline_depth = settings.database.pipeline_depth;
    let store = Arc::new(PgStore::connect(pg, sink).await?);
    Ok(Stores {
        store: store.clone(),
        governance: store.clone(),
        administration: store.clone(),
        read_state: store.clone(),
        search: store.clone(),
        attachments: store.clone(),
        blobs: Arc::new(store.blob_store()),
        chat: store.clone(),
        people: store.clone(),
        moderation: store.clone(),
        preview_rules: store.clone(),
        payments: store,
        sqlite: None,
    })
}

/// The payment service over the providers the settings configure; `addr` is where this server
/// listens, the default address for providers' notifications.
fn payments_service(
    settings: &Settings,
    addr: SocketAddr,
    parts: service::payments::Parts,
) -> Result<service::payments::PaymentService, StartError> {
    let p = &settings.payments;
    let adapters = service::payments::Adapter::configured(p).map_err(StartError::Payments)?;
    let public_url = if p.public_url.is_empty() {
        format!("http://{addr}")
    } else {
        p.public_url.clone()
    };
    service::payments::PaymentService::new(parts, p.clone(), adapters, public_url)
        .map_err(StartError::Payments)
}

fn accounts(
    settings: &Settings,
    store: Arc<dyn Store>,
    administration: Arc<dyn Administration>,
) -> Result<Accounts, StartError> {
    Accounts::new(
        store,
        administration,
        settings.auth.clone(),
        (
            settings.limits.requests_per_second,
            settings.limits.requests_burst,
        ),
        settings.limits.rate_limit_keys,
    )
}

/// Creates an operator administrator in the database the settings name,
/// opened directly (`kaifang admin create`, with the server running or
/// not), and records it in the audit log as the new account's own act.
pub async fn create_administrator(
    settings: &Settings,
    handle: &str,
    password: &str,
    display_name: Option<&str>,
) -> Result<User, ServiceError> {
    let (sink, _events) = tokio::sync::mpsc::unbounded_channel();
    let Stores {
        store,
        governance: audit,
        administration,
        ..
    } = open_store(settings, sink).await?;
    let accounts = accounts(settings, store, administration).map_err(ServiceError::internal)?;
    let max_name = settings.limits.max_display_name_chars;
    let user = accounts
        .create_administrator(handle, password, display_name, max_name)
        .await?;
    let detail = serde_json::json!({ "handle": user.handle, "via": "kaifang admin create" });
    audit
        .audit(user.id, "admin.create", &detail.to_string())
        .await?;
    Ok(user)
}

/// A server ready to accept connections.
pub struct Server {
    listener: TcpListener,
    router: axum::Router,
    /// `metrics.listen`'s listener and its routes, when set.
    metrics: Option<(TcpListener, axum::Router)>,
    /// The SQLite database, whose WAL is folded into it at a clean stop.
    sqlite: Option<Arc<SqliteStore>>,
    settings: Arc<Settings>,
    stop: tokio::sync::watch::Sender<bool>,
    streams: Arc<tokio::sync::Semaphore>,
}

impl Server {
    /// Binds the listeners, opens the database and starts the fan-out.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let clustered = !settings.bus.url.is_empty();
        if clustered && settings.database.url.is_empty() {
            return Err(StartError::BusWithoutPostgres);
        }
        // Both listeners are bound before anything runs in the background: an address that
        // cannot be bound stops the start with its one line, before a task can log about the
        // teardown.
        let addr = settings.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let metrics_listener = match settings.metrics.listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?,
            ),
            None => None,
        };
        let (sink, events) = tokio::sync::mpsc::unbounded_channel();
        let (stop, stopping) = listener::Stopping::new();
        let Stores {
            store,
            governance: governance_store,
            administration,
            read_state,
            search,
            attachments,
            blobs,
            chat: chat_store,
            people,
            moderation,
            preview_rules: preview_rules_store,
            payments: payments_store,
            sqlite,
        } = open_store(&settings, sink).await?;
        let people_service = Arc::new(PeopleService::new(
            people.clone(),
            settings.directory.clone(),
            settings.limits.max_display_name_chars,
            settings.limits.rate_limit_keys,
        ));
        let attachments = Arc::new(AttachmentService::new(
            store.clone(),
            attachments,
            people.clone(),
            blobs,
            settings.attachments.clone(),
        ));
        tokio::spawn(attachments.clone().run());
        let metrics = Arc::new(Metrics::default());
        // In a cluster, the position is read before the memberships: the
        // events in between are applied again, which leaves them as they are.
        let head = if clustered { store.head().await? } else { 0 };
        let hub = Hub::new(
            store.all_memberships().await?,
            settings.stream.queue_capacity,
            metrics.clone(),
        );
        let bus = if clustered {
            metrics.bus_configured();
            let (bus, inbound) = bus::Bus::start(&settings.bus, metrics.clone())
                .await
                .map_err(StartError::Bus)?;
            Some((bus, inbound))
        } else {
            None
        };
        let links = Arc::new(Links::load(settings.links.clone())?);
        let gate = Arc::new(RuleGate::default());
        let previews = Arc::new(Previews::new(
            store.clone(),
            settings.preview.clone(),
            gate.clone(),
        )?);
        let preview_rules = Arc::new(PreviewRuleService::new(
            preview_rules_store,
            store.clone(),
            gate,
            settings.preview.max_rules,
            settings.governance.poll_ms,
        ));
        // The rules in force before serving anyone, then kept current.
        preview_rules.sync().await;
        tokio::spawn(preview_rules.clone().run());
        let governance = Arc::new(
            GovernanceService::new(
                governance_store.clone(),
                store.clone(),
                moderation.clone(),
                payments_store.clone(),
                links.clone(),
                settings.governance.clone(),
            )
            .with_max_group_members(settings.limits.max_group_members)
            .with_picker(settings.payments.picker().map_err(StartError::Payments)?),
        );
        // Put in force whatever the database says, before serving anyone.
        governance.sync().await;
        tokio::spawn(governance.clone().run());
        let mut accounts = accounts(&settings, store.clone(), administration.clone())?;
        if clustered {
            accounts =
                accounts.bound_token_cache(Duration::from_millis(settings.bus.revocation_ms));
        }
        let accounts = Arc::new(accounts);
        let bus = match bus {
            None => {
                tokio::spawn(hub.clone().run(events));
                None
            }
            Some((bus, inbound)) => {
                let timing = cluster::Timing {
                    page: settings.stream.catch_up_page.max(1),
                    resync: Duration::from_millis(settings.bus.resync_interval_ms),
                    gap_wait: Duration::from_millis(settings.bus.gap_wait_ms),
                    revocation: Duration::from_millis(settings.bus.revocation_ms),
                };
                let cluster = cluster::Cluster::new(
                    hub.clone(),
                    store.clone(),
                    Some(bus.clone()),
                    accounts.clone(),
                    metrics.clone(),
                    head,
                    timing,
                );
                tokio::spawn(cluster.run(events, inbound));
                Some(bus)
            }
        };
        let events = Arc::new(Events::new(store.clone(), hub.clone(), bus.clone()));
        let admins = Arc::new(Admins::new(
            store.clone(),
            governance_store.clone(),
            administration,
            accounts.clone(),
            events.clone(),
            &settings,
        ));
        let chat_state = Arc::new(ChatState::new(
            store.clone(),
            read_state,
            hub.clone(),
            events.clone(),
            &settings.chat,
            settings.limits.rate_limit_keys,
        ));
        let search = Arc::new(SearchService::new(
            store.clone(),
            search,
            settings.search.clone(),
            settings.limits.rate_limit_keys,
        ));
        let messaging = Arc::new(
            Messaging::new(
                store.clone(),
                hub.clone(),
                links.clone(),
                previews.clone(),
                metrics.clone(),
                settings.limits.clone(),
                settings.attachments.max_per_message,
            )
            .with_mention_all_max_members(settings.chat.mention_all_max_members),
        );
        let moderation = Arc::new(ModerationService::new(
            service::moderation::Parts {
                store: moderation,
                users: store.clone(),
                chat: chat_store.clone(),
                audit: governance_store.clone(),
                messaging: messaging.clone(),
                links: links.clone(),
                events: events.clone(),
            },
            settings.moderation.clone(),
            Duration::from_millis(settings.governance.poll_ms.max(10)),
            settings.limits.rate_limit_keys,
        ));
        // Penalties in force before serving anyone, then kept in step.
        moderation.refresh().await;
        tokio::spawn(moderation.clone().run());
        let payments = Arc::new(payments_service(
            &settings,
            listener
                .local_addr()
                .map_err(|source| StartError::Bind { addr, source })?,
            service::payments::Parts {
                store: payments_store,
                users: store.clone(),
                chat: chat_store.clone(),
                audit: governance_store.clone(),
                messaging: messaging.clone(),
                links: links.clone(),
                events: events.clone(),
            },
        )?);
        if payments.enabled() {
            tokio::spawn(payments.clone().run_pruning());
        }
        let state = AppState {
            people: people_service,
            moderation,
            payments,
            chat_state,
            search,
            accounts,
            conversations: Arc::new(Conversations::new(store.clone(), settings.limits.clone())),
            messaging: messaging.clone(),
            chat: Arc::new(ChatService::new(
                chat_store,
                messaging,
                settings.chat.clone(),
            )),
            links,
            previews,
            preview_rules,
            governance,
            admins,
            attachments,
            events,
            bus,
            metrics,
            // tokio's semaphore panics past `MAX_PERMITS`; no server has that many.
            streams: Arc::new(tokio::sync::Semaphore::new(
                settings
                    .stream
                    .max_connections
                    .min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
            settings: Arc::new(settings),
            stopping,
        };
        let metrics = metrics_listener.map(|l| (l, api::metrics_routes(state.clone())));
        Ok(Self {
            listener,
            metrics,
            sqlite,
            settings: state.settings.clone(),
            streams: state.streams.clone(),
            stop,
            router: api::routes(state),
        })
    }

    /// The routes, for driving the API in-process (benchmarks).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The bound address of the `metrics.listen` listener, if set.
    pub fn metrics_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.metrics.as_ref().map(|(l, _)| l.local_addr())
    }

    /// Serves until `shutdown` completes, then stops accepting, lets
    /// requests in progress finish, answers waiting long polls and closes
    /// WebSocket streams with code 1012 (service restart: reconnect), for
    /// at most `http.shutdown_timeout_ms`; then folds SQLite's WAL into
    /// the database file. Failures of single connections are the clients'
    /// and end only those connections, so this returns nothing.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        let sqlite = self.sqlite.clone();
        self.serve(shutdown).await;
        if let Some(sqlite) = sqlite {
            // So that the `.db` file alone is the whole database once the
            // server has stopped (copied, inspected, restored elsewhere).
            match sqlite.checkpoint().await {
                Ok(()) => tracing::info!("database checkpointed: the WAL is empty"),
                Err(error) => tracing::warn!(%error, "database checkpoint at stop failed"),
            }
        }
    }

    async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        let http = self.settings.http.clone();
        let limit = Duration::from_millis(http.shutdown_timeout_ms);
        let (stop, streams) = (self.stop, self.streams);
        if let Some((listener, router)) = self.metrics {
            let mut stopped = stop.subscribe();
            let until = async move {
                let _ = stopped.wait_for(|stopping| *stopping).await;
            };
            tokio::spawn(listener::serve(listener, router, http.clone(), until));
        }
        let (asked_tx, asked) = tokio::sync::oneshot::channel();
        let shutdown = async move {
            shutdown.await;
            tracing::info!("stopping: finishing requests and closing streams");
            let _ = stop.send(true);
            let _ = asked_tx.send(());
        };
        let serving = listener::serve(self.listener, self.router, http, shutdown);
        let drained = async {
            serving.await;
            // Every open stream holds a permit; all back means all closed.
            let all = self.settings.stream.max_connections;
            let all = all
                .min(tokio::sync::Semaphore::MAX_PERMITS)
                .min(u32::MAX as usize);
            let _ = streams.acquire_many(all as u32).await;
        };
        tokio::pin!(drained);
        // The bound counts from the signal, not from the start of serving.
        tokio::select! {
            () = &mut drained => return,
            _ = asked => {}
        }
        if tokio::time::timeout(limit, drained).await.is_err() {
            tracing::warn!(
                timeout_ms = limit.as_millis() as u64,
                "stopping anyway: connections still open at http.shutdown_timeout_ms"
            );
        }
    }
}
