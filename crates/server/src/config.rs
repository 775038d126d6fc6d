//! Settings: defaults here, overridden by `kaifang.toml`, overridden by
//! `KAIFANG_*` environment variables (`KAIFANG_LISTEN`,
//! `KAIFANG_LIMITS__MAX_MESSAGE_BYTES`: a double underscore enters a section).
//! Every limit the server enforces is one of these fields.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use crate::proxies::{Cidr, ProxyHeader};

/// `KAIFANG_*` variables that belong to the CLI client, not the server.
const CLIENT_VARIABLES: &[&str] = &["url", "token", "config", "log", "password"];

/// All of the server's settings. See the README's settings table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// Folder for the database and other state (default `kaifang-data`),
    /// created on first run.
    pub data_dir: PathBuf,
    /// Connections: timeouts and the connection cap.
    pub http: HttpSettings,
    /// Accounts and sign-in.
    pub auth: AuthSettings,
    /// Sizes, counts and rates.
    pub limits: Limits,
    /// Real-time delivery.
    pub stream: StreamSettings,
    /// The embedded database.
    pub storage: StorageSettings,
    /// A PostgreSQL database instead of the embedded one.
    pub database: DatabaseSettings,
    /// The message bus between the nodes of a cluster (docs/scale-out.md).
    pub bus: BusSettings,
    /// Link previews.
    pub preview: PreviewSettings,
    /// The link engine: registry, threat lists, policy.
    pub links: LinkSettings,
    /// Policy versions, reports, retention.
    pub governance: GovernanceSettings,
    /// The server's log.
    pub log: LogSettings,
    /// Where `/metrics` is served, and who may read it.
    pub metrics: MetricsSettings,
    /// Everyday chat: edit and recall windows, mentions, typing indicators.
    pub chat: ChatSettings,
    /// Searching messages.
    pub search: SearchSettings,
    /// Uploaded files and images.
    pub attachments: AttachmentSettings,
    /// The user directory (`GET /api/v1/users`).
    pub directory: DirectorySettings,
    /// Link complaints, the penalty ladder, appeals and moderators.
    pub moderation: ModerationSettings,
    /// Checkout in chat (docs/payments.md).
    pub payments: crate::service::payments::PaymentsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("kaifang-data"),
            http: HttpSettings::default(),
            auth: AuthSettings::default(),
            limits: Limits::default(),
            stream: StreamSettings::default(),
            storage: StorageSettings::default(),
            database: DatabaseSettings::default(),
            bus: BusSettings::default(),
            preview: PreviewSettings::default(),
            links: LinkSettings::default(),
            governance: GovernanceSettings::default(),
            log: LogSettings::default(),
            metrics: MetricsSettings::default(),
            chat: ChatSettings::default(),
            search: SearchSettings::default(),
            attachments: AttachmentSettings::default(),
            directory: DirectorySettings::default(),
            moderation: ModerationSettings::default(),
            payments: crate::service::payments::PaymentsSettings::default(),
        }
    }
}

/// Moderation (docs/governance.md, "Complaints and penalties"): who
/// moderates, how strikes are counted and what they cost, who may appeal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModerationSettings {
    /// Handles that moderate, besides operator administrators and those
    /// granted the role through the API (default none).
    pub moderators: Vec<String>,
    /// Strikes against a domain are counted over this many days (default
    /// 180, as WeChat's rules).
    pub strike_window_days: i64,
    /// What the n-th strike within the window costs: `"restricted"` (until
    /// an appeal is granted) or `"suspended <n><s|m|h|d|w>"`; strikes past
    /// the end take the last rung. Default WeChat's: `["restricted",
    /// "suspended 12h", "suspended 1d", "suspended 1w"]`. A malformed ladder
    /// is refused at start, naming the rung.
    pub ladder: crate::service::moderation::Ladder,
    /// Accounts that may appeal for an owner's domains, by owner id from the
    /// registry, e.g. `{ alibaba = ["ali-ops"] }` (default none;
    /// administrators may appeal for any domain).
    pub owner_accounts: std::collections::BTreeMap<String, Vec<String>>,
    /// Complaints one person may file per hour (default 20); past it 429.
    pub complaints_per_hour: u32,
    /// Longest note on a complaint, an appeal or a decision, in characters
    /// (default 2,000).
    pub max_note_chars: usize,
    /// Complaints, penalties or appeals one read returns (default 200).
    pub page: u32,
}

impl Default for ModerationSettings {
    fn default() -> Self {
        Self {
            moderators: Vec::new(),
            strike_window_days: 180,
            ladder: crate::service::moderation::Ladder::default(),
            owner_accounts: std::collections::BTreeMap::new(),
            complaints_per_hour: 20,
            max_note_chars: 2_000,
            page: 200,
        }
    }
}

/// Everyday chat (docs/chat.md says why these defaults): how long a message
/// may be recalled or edited, who may mention everyone, how often typing is
/// relayed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatSettings {
    /// How long after sending its sender may recall a message, in
    /// milliseconds (default 120,000: two minutes, as WeChat). Group admins
    /// and owners may remove any message of their group at any time.
    pub recall_window_ms: u64,
    /// How long after sending its sender may edit a message, in
    /// milliseconds; 0 (the default) is no limit, as Slack: every edit is
    /// marked, and the text was already seen by whoever read it.
    pub edit_window_ms: u64,
    /// Groups of at most this many members let anyone use `@all`; in
    /// larger ones only the owner and admins may (default 20). Direct
    /// chats always may.
    pub mention_all_max_members: usize,
    /// Shortest time between two typing notices one user relays in one
    /// conversation, ms (default 1,000); those sooner are dropped (answered
    /// 204 all the same).
    pub typing_min_interval_ms: u64,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            recall_window_ms: 120_000,
            edit_window_ms: 0,
            mention_all_max_members: 20,
            typing_min_interval_ms: 1_000,
        }
    }
}

/// Uploaded files and images (docs/operating.md, "Attachments").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttachmentSettings {
    /// Largest upload, bytes (default 10 MiB); counted while the body
    /// streams in, so a larger one is refused (413) without being held.
    pub max_bytes: usize,
    /// Most attachments one message carries (default 10).
    pub max_per_message: usize,
    /// Longest file name, UTF-8 bytes (default 255).
    pub max_name_bytes: usize,
    /// Folder of the blob files with the embedded database, inside
    /// `data_dir` when relative (default `blobs`); with PostgreSQL the
    /// blobs are in the database and this is unused.
    pub dir: PathBuf,
    /// How long an upload no message carries is kept, ms (default one day).
    pub orphan_ttl_ms: u64,
    /// How often expired uploads are looked for, ms (default 60,000).
    pub sweep_interval_ms: u64,
    /// Most expired uploads forgotten per sweep (default 1,000).
    pub sweep_batch: u32,
    /// Largest image decoded, pixels (default 40,000,000); a larger one is
    /// refused (413) from its header, before decoding.
    pub max_image_pixels: u64,
    /// Longest image side decoded, pixels (default 16,384).
    pub max_image_side: u32,
    /// Longest side of a thumbnail, pixels (default 320).
    pub thumbnail_side: u32,
    /// Largest avatar upload, bytes (default 5 MiB); refused (413) as it
    /// streams in, like an attachment.
    pub max_avatar_bytes: usize,
    /// Side of the square an avatar is cut and scaled to, pixels (default
    /// 256; a smaller picture is not enlarged).
    pub avatar_side: u32,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_per_message: 10,
            max_name_bytes: 255,
            dir: PathBuf::from("blobs"),
            orphan_ttl_ms: 86_400_000,
            sweep_interval_ms: 60_000,
            sweep_batch: 1_000,
            max_image_pixels: 40_000_000,
            max_image_side: 16_384,
            thumbnail_side: 320,
            max_avatar_bytes: 5 * 1024 * 1024,
            avatar_side: 256,
        }
    }
}

/// `/metrics`, which tells anyone who can read it how busy the server is
/// and which routes are used.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// When set, `/metrics` answers only requests with `Authorization:
    /// Bearer <token>`, others 401 (default none: open, as for a server
    /// only reachable on loopback or behind a proxy that hides the path).
    pub token: Option<String>,
    /// When set (`"127.0.0.1:9090"`), `/metrics` is served on this address
    /// only, by a listener of its own, and the public listener answers 404
    /// for it (default none: `/metrics` is on the public listener). Kept
    /// off the public address, it needs no token: only who reaches the
    /// address reads it (`metrics.token` still applies when set).
    pub listen: Option<SocketAddr>,
}

/// The token is a secret: never printed, even in a debug dump.
impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("listen", &self.listen)
            .finish()
    }
}

/// The server's log, written to standard error. Its level is the
/// `KAIFANG_LOG` variable (`info` by default; `warn`, `kaifang_server=debug`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `"text"` (default): lines for people, coloured only on a terminal;
    /// `"json"`: one JSON object a line, for files and log collectors.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object a line, with the fields of the request (its
    /// `request_id`) it was written for.
    Json,
}

/// Connections, before any request is routed (see `listener.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Time a new connection has to send its first complete request head
    /// (request line and headers), ms (default 10,000). Past it the server
    /// closes the connection.
    pub header_read_timeout_ms: u64,
    /// Time a kept-alive connection may wait, from the end of one response
    /// to the complete head of the next request, ms (default 60,000). It
    /// also bounds the first request, if shorter than the header timeout.
    pub idle_timeout_ms: u64,
    /// Connections served at once, WebSocket streams not counted (default
    /// 10,000). Past it a new connection is answered 503 and closed.
    pub max_connections: usize,
    /// How long a refused connection is kept open after its 503, reading
    /// and discarding what the client still sends, ms (default 1,000):
    /// closing on unread bytes sends a reset, which can destroy the answer
    /// before the client reads it; a client that never stops sending is cut
    /// off here.
    pub refusal_linger_ms: u64,
    /// Reverse proxies whose word on the client's address is taken, as
    /// networks (`["127.0.0.1/32", "10.0.0.0/8"]`; default none). Only for
    /// a peer in one of them is the client read from `http.proxy_header`;
    /// everyone else's such headers are ignored. A malformed entry stops
    /// the server at start.
    pub trusted_proxies: Vec<Cidr>,
    /// The header the trusted proxies write: `"x-forwarded-for"` (default)
    /// or `"forwarded"` (RFC 7239). The other is ignored, since a proxy
    /// passes on unchanged whatever a client put in it.
    pub proxy_header: ProxyHeader,
    /// Hops of that header read, from the right (default 20): more than the
    /// proxies any site chains, so the client is found, while a long forged
    /// chain costs bounded work. hyper caps the whole request head anyway.
    pub max_forwarded_hops: usize,
    /// Longest wait, after SIGTERM or SIGINT, for requests in progress to
    /// finish and streams to close, ms (default 10,000); then the server
    /// exits anyway.
    pub shutdown_timeout_ms: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: 10_000,
            refusal_linger_ms: 1_000,
            trusted_proxies: Vec::new(),
            proxy_header: ProxyHeader::XForwardedFor,
            max_forwarded_hops: 20,
            shutdown_timeout_ms: 10_000,
        }
    }
}

/// Accounts, passwords and sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Handles that are operator administrators when they sign up.
    pub admins: Vec<String>,
    /// Who may create an account: `"open"` (default: anyone, as the
    /// two-minute tour needs), `"invite"` (only with an invite code an
    /// administrator made) or `"closed"` (nobody; administrators still
    /// create accounts with `kaifang admin create`).
    pub registration: Registration,
    /// Whether the first account ever signed up becomes an operator
    /// administrator (default `false`: on a server exposed before its
    /// operator signed up, a stranger would own it). The first
    /// administrator otherwise comes from `kaifang admin create`.
    pub first_signup_becomes_admin: bool,
    /// How long a new invite code is valid when its creator does not say,
    /// seconds (default 604,800: a week).
    pub invite_default_seconds: u64,
    /// Longest validity an invite code may be given, seconds (default
    /// 7,776,000: 90 days).
    pub invite_max_seconds: u64,
    /// Most accounts one invite code may create (default 1,000).
    pub invite_max_uses: u32,
    /// How long a password-reset code is valid, seconds (default 86,400).
    pub password_reset_seconds: u64,
    /// Password-reset redemptions one client address may attempt per hour,
    /// right or wrong (default 20).
    pub password_resets_per_address_per_hour: u32,
    /// argon2id memory cost in KiB (default 19,456: OWASP's recommendation).
    pub argon2_memory_kib: u32,
    /// argon2id iterations (default 2).
    pub argon2_iterations: u32,
    /// How long a verified token is trusted without asking the database, in
    /// seconds (default 60). A sign-out through this server takes effect at
    /// once.
    pub token_cache_seconds: u64,
    /// Most verified tokens cached (default 100,000); past it the cache is
    /// emptied and refills from the database.
    pub token_cache_entries: usize,
    /// Password hashes (sign-in and sign-up) computed at once; each holds
    /// `argon2_memory_kib` of memory while it runs. 0 means one per CPU core
    /// (default 0).
    pub max_concurrent_hashes: usize,
    /// Sign-ins and sign-ups that may wait for a hashing slot; past this
    /// they are answered 503 with `Retry-After` (default 64).
    pub hash_queue: usize,
    /// Failed sign-ins on one handle from one client address before each
    /// further attempt must wait (default 5). Other addresses are not
    /// affected, so guesses never lock the owner out.
    pub login_free_failures_per_handle: u32,
    /// Failed sign-ins from one client address (any handle) before each
    /// further attempt from it must wait (default 100). IPv6 addresses
    /// count by /64.
    pub login_free_failures_per_address: u32,
    /// The first wait after the free failures, in milliseconds; each
    /// further failure doubles it (default 1,000).
    pub login_backoff_ms: u64,
    /// Longest wait for one handle from one address, in seconds; a key
    /// quiet this long is forgotten (default 900).
    pub login_backoff_max_seconds_per_handle: u64,
    /// Longest wait for one address, in seconds; kept short because an
    /// address may be a whole office behind one NAT (default 60).
    pub login_backoff_max_seconds_per_address: u64,
    /// Accounts one client address may create per hour (default 100).
    pub signups_per_address_per_hour: u32,
    /// Shortest password accepted, in characters (default 8).
    pub min_password_chars: usize,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            admins: Vec::new(),
            registration: Registration::Open,
            first_signup_becomes_admin: false,
            invite_default_seconds: 604_800,
            invite_max_seconds: 7_776_000,
            invite_max_uses: 1_000,
            password_reset_seconds: 86_400,
            password_resets_per_address_per_hour: 20,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            token_cache_seconds: 60,
            token_cache_entries: 100_000,
            max_concurrent_hashes: 0,
            hash_queue: 64,
            login_free_failures_per_handle: 5,
            login_free_failures_per_address: 100,
            login_backoff_ms: 1_000,
            login_backoff_max_seconds_per_handle: 900,
            login_backoff_max_seconds_per_address: 60,
            signups_per_address_per_hour: 100,
            min_password_chars: 8,
        }
    }
}

/// Who may create an account (`auth.registration`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone.
    #[default]
    Open,
    /// Only with an invite code.
    Invite,
    /// Nobody.
    Closed,
}

/// Sizes, counts and rates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, in bytes (default 65,536).
    pub max_body_bytes: usize,
    /// An oversized body that declares its length is read and discarded up
    /// to this many bytes before the 413, so the client sees the answer
    /// rather than a reset connection (default 1,048,576).
    pub max_drain_bytes: usize,
    /// Largest message text, in bytes of UTF-8 (default 16,384).
    pub max_message_bytes: usize,
    /// Longest display name, in characters (default 64).
    pub max_display_name_chars: usize,
    /// Longest group title, in characters (default 128).
    pub max_title_chars: usize,
    /// Longest `client_txn_id`, in bytes (default 128).
    pub max_txn_id_bytes: usize,
    /// Most members a group may have (default 10,000).
    pub max_group_members: usize,
    /// Most messages one history page returns (default 200).
    pub max_history_page: u32,
    /// Most events one long-poll answer returns (default 500).
    pub max_events_page: u32,
    /// Most accounts one page of the operators' account list returns
    /// (default 200).
    pub max_users_page: u32,
    /// Longest long-poll wait, in milliseconds (default 30,000).
    pub max_poll_ms: u64,
    /// Messages one user may send per second, sustained (default 2,000).
    pub messages_per_second: u32,
    /// Messages one user may send in a burst (default 4,000).
    pub messages_burst: u32,
    /// Authenticated requests of any kind one user may make per second
    /// (default 5,000).
    pub requests_per_second: u32,
    /// Authenticated requests one user may make in a burst (default 10,000).
    pub requests_burst: u32,
    /// Keys (users, handles, addresses) each rate limiter tracks before it
    /// forgets those whose limit has reset (default 100,000).
    pub rate_limit_keys: usize,
    /// How long an oversized body that declares its length may take to be
    /// read and discarded before the 413, in milliseconds (default 2,000).
    pub drain_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_drain_bytes: 1024 * 1024,
            max_message_bytes: 16 * 1024,
            max_display_name_chars: 64,
            max_title_chars: 128,
            max_txn_id_bytes: 128,
            max_group_members: 10_000,
            max_history_page: 200,
            max_events_page: 500,
            max_users_page: 200,
            max_poll_ms: 30_000,
            messages_per_second: 2_000,
            messages_burst: 4_000,
            requests_per_second: 5_000,
            requests_burst: 10_000,
            rate_limit_keys: 100_000,
            drain_timeout_ms: 2_000,
        }
    }
}

/// Real-time delivery over WebSocket and long polling.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamSettings {
    /// Events queued for one connection before it is told to resync from
    /// its cursor and closed (default 1,024).
    pub queue_capacity: usize,
    /// Seconds between pings on an idle WebSocket (default 30).
    pub ping_seconds: u64,
    /// WebSocket read buffer, bytes (default 4,096): small, so that idle
    /// connections stay cheap.
    pub read_buffer_bytes: usize,
    /// WebSocket write buffer, bytes (default 4,096).
    pub write_buffer_bytes: usize,
    /// Largest frame a client may send, bytes (default 65,536).
    pub max_frame_bytes: usize,
    /// Events read from the database per catch-up page (default 500).
    pub catch_up_page: u32,
    /// WebSocket streams open at once (default 10,000). Past it a new
    /// stream is upgraded and at once closed with code 1013 (try again
    /// later).
    pub max_connections: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            queue_capacity: 1_024,
            ping_seconds: 30,
            read_buffer_bytes: 4_096,
            write_buffer_bytes: 4_096,
            max_frame_bytes: 64 * 1024,
            catch_up_page: 500,
            max_connections: 10_000,
        }
    }
}

/// The embedded SQLite database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// Database file; relative paths are inside `data_dir` (default `kaifang.db`).
    pub sqlite_path: PathBuf,
    /// fsync at every commit, surviving power loss, not only crashes (default false).
    pub sync_full: bool,
    /// Most writes grouped into one transaction (default 512).
    pub max_batch: usize,
    /// Read connections kept open (default 4).
    pub readers: usize,
    /// Most messages added to the search index in one transaction; a
    /// backlog this long is indexed between two batches of writes (default 256).
    pub search_index_chunk: usize,
    /// A shorter backlog is indexed once no write has come for this long
    /// (ms, default 50); until then search finds it by a scan.
    pub search_index_idle_ms: u64,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            sqlite_path: PathBuf::from("kaifang.db"),
            sync_full: false,
            max_batch: 512,
            readers: 4,
            search_index_chunk: 256,
            search_index_idle_ms: 50,
        }
    }
}

/// PostgreSQL, chosen by a non-empty `url`; empty keeps the embedded SQLite
/// database (`storage`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user@host:port/database`, or empty for SQLite (default).
    /// It may carry a password: it is never logged.
    pub url: String,
    /// Connections kept in the pool (default 16, at least 2: the writer
    /// keeps one for sends).
    pub pool_size: usize,
    /// Longest wait to open one connection, in ms (default 5000).
    pub connect_timeout_ms: u64,
    /// Longest wait for a free pooled connection (or this server's turn to
    /// write), in ms (default 5000); then the request answers 503 with
    /// `Retry-After`, so a database that stopped answering is reported
    /// promptly instead of piling requests up.
    pub acquire_timeout_ms: u64,
    /// Most writes committed in one transaction (default 64): writes that
    /// arrive while one commits share the next commit (group commit).
    pub max_batch: usize,
    /// Most batches of sends on their way to the database at once (default
    /// 2; 0 counts as 1): the next batch's statement leaves while the one
    /// before it runs.
    pub pipeline_depth: usize,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            pool_size: 16,
            connect_timeout_ms: 5_000,
            acquire_timeout_ms: 5_000,
            max_batch: 64,
            pipeline_depth: 2,
        }
    }
}

/// NATS (core, not JetStream) between several servers on one PostgreSQL
/// database: committed events and sign-outs reach the other nodes through
/// it; the database stays the only durable copy (docs/scale-out.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSettings {
    /// `nats://host:port`, or empty for a single server (default): then
    /// nothing is published and nothing is polled.
    pub url: String,
    /// First part of every subject (default `kaifang`): events go on
    /// `<prefix>.events.<conversation>`, sign-outs on `<prefix>.signout`.
    pub subject_prefix: String,
    /// How often a node compares the database's newest event with the last
    /// it delivered and re-reads what it missed, ms (default 500): the bound
    /// on delivery from other nodes when a bus message was lost or the bus
    /// is down.
    pub resync_interval_ms: u64,
    /// How long a node waits for the bus to bring the events missing
    /// before one it has, ms (default 5), before it reads them from the
    /// database; 0 reads at once. With several nodes writing, such a gap is
    /// most often another node's commit still on its way.
    pub gap_wait_ms: u64,
    /// Longest wait for one attempt to reach the bus, ms (default 2,000);
    /// a node that cannot reach it starts anyway, degraded, and retries.
    pub connect_timeout_ms: u64,
    /// Longest a sign-out on one node leaves the token usable on another,
    /// ms (default 1,000): with a bus the token cache keeps a token no
    /// longer than this, and each node checks the sessions of its open
    /// streams in the database this often. The sign-out also goes over the
    /// bus, which ends those streams sooner.
    pub revocation_ms: u64,
    /// Batches waiting to be published (default 4,096); when the bus is
    /// slower, further ones are not published and other nodes find those
    /// events by their resync instead.
    pub publish_queue: usize,
}

impl Default for BusSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            subject_prefix: "kaifang".into(),
            resync_interval_ms: 500,
            gap_wait_ms: 5,
            connect_timeout_ms: 2_000,
            revocation_ms: 1_000,
            publish_queue: 4_096,
        }
    }
}

/// Governance: scheduled policies, reports, the link-share log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GovernanceSettings {
    /// How often the server re-reads the policy activations from the
    /// database, ms (default 1,000), so that one written by another process
    /// using the same database file is noticed. An activation made through
    /// this server takes effect at its instant regardless.
    pub poll_ms: u64,
    /// Longest report range, days (default 366).
    pub max_report_days: i64,
    /// Link-share log retention, days (default 365).
    pub share_retention_days: i64,
    /// Serve the aggregated report publicly at
    /// `/api/v1/public/reports/links` (default false).
    pub public_report: bool,
    /// Logged links read per page while replaying (default 10,000).
    pub replay_page: u32,
    /// Newest audit-log entries one read returns (default 200).
    pub audit_page: u32,
}

impl Default for GovernanceSettings {
    fn default() -> Self {
        Self {
            poll_ms: 1_000,
            max_report_days: 366,
            share_retention_days: 365,
            public_report: false,
            replay_page: 10_000,
            audit_page: 200,
        }
    }
}

/// The link engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkSettings {
    /// The operator's own owner id as the registry names owners (default
    /// `kaifang`, which owns no registered platform). Policies see it as
    /// `context.operator`; the fairness check compares against it.
    pub operator_owner: String,
    /// Cedar policy file in force at start-up (default: the built-in
    /// `policies/default.cedar`).
    pub policy: Option<PathBuf>,
    /// Extra registry files merged over the built-in `data/platforms.toml`
    /// (default none).
    pub registries: Vec<PathBuf>,
    /// Threat lists, `name = "path"` (default none): one domain a line, or
    /// hosts-file lines.
    pub blocklists: std::collections::BTreeMap<String, PathBuf>,
    /// Links decided per message (default 50); further links are inert,
    /// decided by `kaifang:link-cap`, unless threat-listed.
    pub max_links_per_message: usize,
    /// Cached policy decisions (default 65,536); a new policy starts empty.
    pub decision_cache_entries: usize,
    /// Cached host classifications (platform, owner, threat lists)
    /// (default 65,536).
    pub host_cache_entries: usize,
    /// Largest policy text accepted, bytes (default 262,144).
    pub max_policy_bytes: usize,
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            operator_owner: "kaifang".into(),
            policy: None,
            registries: Vec::new(),
            blocklists: Default::default(),
            max_links_per_message: 50,
            decision_cache_entries: 65_536,
            host_cache_entries: 65_536,
            max_policy_bytes: 256 * 1024,
        }
    }
}

/// Link previews: fetched in the background, cached in the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PreviewSettings {
    /// Fetch previews at all (default true).
    pub enabled: bool,
    /// How long a preview is reused, seconds (default 86,400).
    pub ttl_seconds: u64,
    /// How long a failed fetch is remembered, seconds (default 600).
    pub negative_ttl_seconds: u64,
    /// Most previews kept in the database (default 100,000).
    pub cache_max_entries: usize,
    /// Most previews also kept in memory for fast hits (default 10,000).
    pub memory_entries: usize,
    /// Fetches running at once (default 8).
    pub concurrency: usize,
    /// Bytes of a page read (default 2 MiB); decompressed size capped the same.
    pub max_body_bytes: usize,
    /// Largest image proxied, bytes (default 5 MiB).
    pub max_image_bytes: usize,
    /// Total time for one fetch including redirects, ms (default 5,000).
    pub timeout_ms: u64,
    /// Redirects followed (default 5).
    pub max_redirects: usize,
    /// Time for one TCP connection attempt, ms (default 2,000).
    pub connect_timeout_ms: u64,
    /// Bytes of a response's status line and headers (default 32 KiB; at
    /// least 8 KiB).
    pub max_header_bytes: usize,
    /// Headers in a response (default 64).
    pub max_headers: usize,
    /// Bytes of a page the extractor reads at most (default 4 MiB; the
    /// fetch cap above is lower).
    pub max_scan_bytes: usize,
    /// Bytes of the body still scanned once the head is complete, for
    /// JSON-LD, bylines, dates and a fallback picture (default 1 MiB).
    pub max_body_scan_bytes: usize,
    /// Bytes of HTML of an element whose text may become an author, a title
    /// or a date (default 4 KiB).
    pub max_capture_bytes: usize,
    /// Longest title, characters (default 300).
    pub max_title_chars: usize,
    /// Longest description, characters (default 1,000).
    pub max_description_chars: usize,
    /// Longest author, publisher and other short texts, characters
    /// (default 200).
    pub max_short_chars: usize,
    /// Longest URL kept in a preview, bytes (default 2,048).
    pub max_url_bytes: usize,
    /// The only non-public addresses the fetcher may reach, as exact
    /// `ip:port` (default none). For tests and for operators' own intranet
    /// services; never needed for the public web.
    pub allow_addresses: Vec<SocketAddr>,
    /// Host names answered without DNS, `name = "ip"` (default none): lets
    /// a test point a real platform's name at a local server.
    pub resolve: std::collections::BTreeMap<String, std::net::IpAddr>,
    /// Ask the system's resolver for names not in `resolve` (default true).
    /// Tests and benchmarks set false so that nothing leaves the machine,
    /// not even a DNS query.
    pub system_dns: bool,
    /// Most per-domain preview rules, allowlist and denylist together
    /// (default 10000); adding one more is refused with 409.
    pub max_rules: usize,
}

impl Default for PreviewSettings {
    fn default() -> Self {
        // The fetcher's and the extractor's own defaults, written once in
        // their crates.
        let fetch = kaifang_fetch::FetchConfig::default();
        let extract = kaifang_preview::ExtractConfig::default();
        let millis = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            enabled: true,
            ttl_seconds: 86_400,
            negative_ttl_seconds: 600,
            cache_max_entries: 100_000,
            memory_entries: 10_000,
            concurrency: 8,
            max_body_bytes: fetch.max_body_bytes,
            max_image_bytes: fetch.max_image_bytes,
            timeout_ms: millis(fetch.total_timeout),
            max_redirects: fetch.max_redirects,
            connect_timeout_ms: millis(fetch.connect_timeout),
            max_header_bytes: fetch.max_header_bytes,
            max_headers: fetch.max_headers,
            max_scan_bytes: extract.max_scan_bytes,
            max_body_scan_bytes: extract.max_body_scan_bytes,
            max_capture_bytes: extract.max_capture_bytes,
            max_title_chars: extract.max_title_chars,
            max_description_chars: extract.max_description_chars,
            max_short_chars: extract.max_short_chars,
            max_url_bytes: extract.max_url_bytes,
            allow_addresses: Vec::new(),
            resolve: Default::default(),
            system_dns: true,
            max_rules: 10_000,
        }
    }
}

/// The user directory (docs/chat.md, "People").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectorySettings {
    /// Most people one lookup returns (default 20): enough to pick from
    /// while typing, too few to page through everyone.
    pub max_results: u32,
    /// Longest query, in characters (default 64, a display name's default
    /// limit); longer is a 400.
    pub max_query_chars: usize,
    /// Sustained lookups per user per second (default 5; 429 beyond): a
    /// client asks once per pause in typing, and the limit keeps anyone
    /// from listing the directory by trying every prefix quickly.
    pub lookups_per_second: u32,
    /// Burst of lookups per user (default 20).
    pub lookups_burst: u32,
}

impl Default for DirectorySettings {
    fn default() -> Self {
        Self {
            max_results: 20,
            max_query_chars: 64,
            lookups_per_second: 5,
            lookups_burst: 20,
        }
    }
}

/// Searching messages (docs/search.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSettings {
    /// Longest query, in characters (default 256); longer is a 400.
    pub max_query_chars: usize,
    /// Most hits per page (default 50); a larger `limit` is a 400.
    pub max_results: u32,
    /// A query of one or two characters, which the trigram index cannot
    /// serve, looks through at most this many of the newest messages per
    /// page (default 20,000); the page says where to go on.
    pub short_query_scan: u32,
    /// Sustained searches per user per second (default 5; 429 beyond).
    pub queries_per_second: u32,
    /// Burst of searches per user (default 20).
    pub queries_burst: u32,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            max_query_chars: 256,
            max_results: 50,
            short_query_scan: 20_000,
            queries_per_second: 5,
            queries_burst: 20,
        }
    }
}

impl Settings {
    /// Defaults, then `file` if given (or `kaifang.toml` if it exists), then
    /// `KAIFANG_*` variables. An unknown key in the file is an error; an
    /// unknown `KAIFANG_*` variable is only warned about, because the
    /// environment is shared with scripts and tools (`KAIFANG_BIN`) that
    /// use the same prefix for their own variables.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) => fig = fig.merge(Toml::file_exact(path)),
            None => fig = fig.merge(Toml::file("kaifang.toml")),
        }
        let defaults = serde_json::to_value(Settings::default()).unwrap_or_default();
        let unknown: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .filter(|name| {
                name.strip_prefix("KAIFANG_")
                    .is_some_and(|key| !is_client_variable(key) && !names_a_setting(&defaults, key))
            })
            .collect();
        if !unknown.is_empty() {
            tracing::warn!(
                variables = %unknown.join(", "),
                "ignoring KAIFANG_* environment variables that name no setting"
            );
        }
        let env = Env::prefixed("KAIFANG_")
            .filter(move |key| {
                !is_client_variable(key.as_str()) && names_a_setting(&defaults, key.as_str())
            })
            .split("__");
        fig.merge(env).extract().map_err(Box::new)
    }

    /// The database file's full path.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join(&self.storage.sqlite_path)
    }

    /// The blob folder's full path (embedded database only).
    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join(&self.attachments.dir)
    }
}

/// Variables the CLI client reads are not server settings.
fn is_client_variable(key: &str) -> bool {
    CLIENT_VARIABLES.iter().any(|v| key.eq_ignore_ascii_case(v))
}

/// Whether a `KAIFANG_` variable's key (`LIMITS__MAX_MESSAGE_BYTES`) names a
/// setting: each `__`-separated part is a field of the defaults, except
/// inside a map such as `preview.resolve`, whose keys are the user's.
fn names_a_setting(defaults: &serde_json::Value, key: &str) -> bool {
    let mut at = defaults;
    for part in key.split("__") {
        match at {
            serde_json::Value::Object(fields) if fields.is_empty() => return true,
            serde_json::Value::Object(fields) => match fields.get(&part.to_ascii_lowercase()) {
                Some(inner) => at = inner,
                None => return false,
            },
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{Settings, names_a_setting};

    #[test]
    fn only_keys_that_walk_the_settings_name_one() {
        let defaults = serde_json::to_value(Settings::default()).expect("settings serialise");
        assert!(names_a_setting(&defaults, "LISTEN"));
        assert!(names_a_setting(&defaults, "LIMITS__MAX_MESSAGE_BYTES"));
        assert!(names_a_setting(&defaults, "PREVIEW__RESOLVE__EXAMPLE.COM"));
        assert!(!names_a_setting(&defaults, "BIN"));
        assert!(!names_a_setting(&defaults, "LIMITS__NOT_A_LIMIT"));
        assert!(!names_a_setting(&defaults, "LISTEN__PORT"));
    }

    /// Every setting's dotted name, from the defaults themselves.
    fn names(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(fields) => {
                for (key, inner) in fields {
                    let name = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    names(inner, &name, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }

    /// A setting that the README's table does not name is a limit nobody
    /// can find: adding one without documenting it fails here.
    #[test]
    fn every_setting_is_in_the_readme_table() {
        let readme = include_str!("../../../README.md");
        let defaults = serde_json::to_value(Settings::default()).expect("settings serialise");
        let mut all = Vec::new();
        names(&defaults, "", &mut all);
        assert!(all.len() > 40, "only {} settings found", all.len());
        let missing: Vec<_> = all
            .iter()
            .filter(|name| !readme.contains(&format!("| `{name}` |")))
            .collect();
        assert!(
            missing.is_empty(),
            "settings missing from the README: {missing:?}"
        );
    }
}
