//! The command line.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Kaifang: an open messaging server with link rules you can read.
#[derive(Parser)]
#[command(name = "kaifang", version, about)]
pub struct Cli {
    /// The server the client commands talk to.
    #[arg(
        long,
        global = true,
        env = "KAIFANG_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// Where the client keeps its session (default: the user's config folder).
    #[arg(long, global = true, env = "KAIFANG_CONFIG")]
    pub client_config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Subcommand)]
pub enum Command {
    /// Runs the server.
    Serve {
        /// Settings file (default: ./kaifang.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Writes a consistent copy of the database to FILE, while the server
    /// runs or not (see docs/operating.md).
    Backup {
        /// The copy to write; it must not exist yet.
        file: PathBuf,
        /// Settings file, for the data folder (default: ./kaifang.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Puts a backup in place as the database; refused while a server uses
    /// the data folder. The database it replaces is kept beside it.
    Restore {
        /// The backup.
        file: PathBuf,
        /// Settings file, for the data folder (default: ./kaifang.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Applies pending schema migrations (a server does it at start), or
    /// with `--check` only says what would run.
    Migrate {
        /// Only list the pending migrations; change nothing.
        #[arg(long)]
        check: bool,
        /// Settings file, for the data folder (default: ./kaifang.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Signs in and keeps the token for the other commands.
    Login(Credentials),
    /// Signs out (revokes the kept token).
    Logout,
    /// Shows the signed-in account.
    Whoami,
    /// Conversations.
    #[command(subcommand)]
    Conversation(ConversationCommand),
    /// Sends a message.
    Send {
        /// Conversation id.
        conversation: i64,
        /// The text.
        text: String,
        /// Idempotency key: sending again with it returns the original.
        #[arg(long)]
        txn: Option<String>,
        /// Replies to the message with this sequence number.
        #[arg(long)]
        reply_to: Option<i64>,
    },
    /// Gives one of your messages a new text (marked "edited").
    Edit {
        /// Conversation id.
        conversation: i64,
        /// The message's sequence number.
        seq: i64,
        /// The new text.
        text: String,
    },
    /// Recalls your message (within `chat.recall_window_ms`), or, as a
    /// group's admin or owner, removes any message of the group.
    Recall {
        /// Conversation id.
        conversation: i64,
        /// The message's sequence number.
        seq: i64,
    },
    /// Reacts to a message with one emoji (`--remove` takes it back).
    React {
        /// Conversation id.
        conversation: i64,
        /// The message's sequence number.
        seq: i64,
        /// Exactly one emoji.
        emoji: String,
        /// Take the reaction back.
        #[arg(long)]
        remove: bool,
    },
    /// Prints a page of history, oldest first.
    History {
        /// Conversation id.
        conversation: i64,
        /// Only messages before this sequence number.
        #[arg(long)]
        before_seq: Option<i64>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Searches the messages of your conversations, newest first.
    Search {
        /// The text, taken literally (Chinese words of two characters too).
        query: String,
        /// Only this conversation.
        #[arg(long)]
        conversation: Option<i64>,
        /// Only messages before this id (a page's `next_before`).
        #[arg(long)]
        before: Option<i64>,
        /// How many (default 20).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// The link engine, offline: what would happen to the links of a text.
    #[command(subcommand)]
    Links(LinksCommand),
    /// Link previews: fetch one, or extract from a saved page.
    #[command(subcommand)]
    Preview(PreviewCommand),
    /// Link policies: lint offline; propose, schedule, replay on a server.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Reports from a server.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Payments: reconcile the ledger with the providers' statements (admins).
    #[command(subcommand)]
    Pay(PayCommand),
    /// Operator administration: the first administrator (offline), the
    /// role, invite codes, accounts (admins only).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Load generator: drives a running server (loopback) through the public
    /// API and prints one JSON line of figures.
    Bench(BenchArgs),
    /// Prints the live event stream, one JSON event per line. When the
    /// server restarts (close code 1012) or the connection drops, it
    /// reconnects with backoff and resumes after the last event printed.
    Tail {
        /// Resume after this cursor.
        #[arg(long)]
        since: Option<String>,
        /// Stop after this many events (default: run until interrupted).
        #[arg(long)]
        count: Option<u64>,
        /// Give up (exit non-zero) when no stream could be opened for this
        /// many seconds.
        #[arg(long, default_value_t = 300)]
        give_up_after: u64,
    },
}

/// A handle and its password.
#[derive(Args)]
pub struct Credentials {
    /// The handle.
    pub handle: String,
    /// The password (default: $KAIFANG_PASSWORD, else one line read from stdin).
    #[arg(long, env = "KAIFANG_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
}

/// Account commands.
#[derive(Subcommand)]
pub enum AccountCommand {
    /// Creates an account.
    Create {
        #[command(flatten)]
        credentials: Credentials,
        /// Display name (default: the handle).
        #[arg(long)]
        display_name: Option<String>,
        /// An invite code (servers with `auth.registration = "invite"`).
        #[arg(long)]
        invite: Option<String>,
    },
    /// Sets a new password with a one-time code from an administrator;
    /// every session of the account ends.
    ResetPassword {
        /// The code.
        #[arg(long)]
        code: String,
        /// The new password (default: $KAIFANG_PASSWORD, else one line read from stdin).
        #[arg(long, env = "KAIFANG_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

/// Conversation commands.
#[derive(Subcommand)]
pub enum ConversationCommand {
    /// Starts a direct conversation (`--with`) or a group (`--title`).
    Create {
        /// The other person, for a direct conversation.
        #[arg(long, conflicts_with = "title", required_unless_present = "title")]
        with: Option<String>,
        /// The group's title.
        #[arg(long)]
        title: Option<String>,
        /// The group's other members.
        #[arg(long, value_delimiter = ',')]
        members: Vec<String>,
    },
    /// Lists your conversations.
    List,
    /// Adds a member to a group.
    Add {
        /// Conversation id.
        conversation: i64,
        /// Handle.
        handle: String,
    },
    /// Removes a member from a group (your own handle: leave).
    Remove {
        /// Conversation id.
        conversation: i64,
        /// Handle.
        handle: String,
    },
}

/// Load generator settings (see docs/benchmarks.md).
#[derive(Args)]
pub struct BenchArgs {
    /// Nodes of one cluster to spread the clients over (repeat the flag or
    /// separate with commas; default: `--server`). C and D send through the
    /// first and receive on the others, timing delivery between nodes.
    #[arg(long = "url", value_name = "URL", value_delimiter = ',')]
    pub urls: Vec<String>,
    /// Scenarios to run, any of `abcde`.
    #[arg(long, default_value = "abcde")]
    pub scenarios: String,
    /// A: sequential messages.
    #[arg(long, default_value_t = 1_000)]
    pub a_messages: usize,
    /// B: concurrent senders.
    #[arg(long, default_value_t = 8)]
    pub b_senders: usize,
    /// B: messages per sender.
    #[arg(long, default_value_t = 500)]
    pub b_messages: usize,
    /// C: messages per second.
    #[arg(long, default_value_t = 50)]
    pub c_rate: u32,
    /// C: messages.
    #[arg(long, default_value_t = 500)]
    pub c_messages: usize,
    /// D: group members, each on a WebSocket.
    #[arg(long, default_value_t = 1_000)]
    pub d_members: usize,
    /// D: messages.
    #[arg(long, default_value_t = 20)]
    pub d_messages: usize,
    /// E: idle WebSocket connections to open.
    #[arg(long, default_value_t = 15_000)]
    pub e_connections: usize,
    /// Time bound of each scenario, seconds.
    #[arg(long, default_value_t = 300)]
    pub time_limit: u64,
}

/// Link engine commands (no server needed; settings from `--config` or
/// `./kaifang.toml`: registry, threat lists, policy, operator).
#[derive(Subcommand)]
pub enum LinksCommand {
    /// Decides the links of a text, printing JSON. Without a text (or with
    /// `-`), reads JSON lines `{"id","text","conversation_kind","members"}`
    /// on stdin and prints one `{"id","links","policy_version"}` line per
    /// case, in order (a progress line on stderr when it is a terminal); a
    /// line that is not a case is reported on stderr by number, the rest goes
    /// on, and the exit is non-zero at the end.
    Check {
        /// `direct` or `group` (for a single text).
        #[arg(long, default_value = "direct")]
        kind: String,
        /// Members of the conversation (for a single text).
        #[arg(long)]
        members: Option<u32>,
        /// Settings file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The message text; omit it (or `-`) to read JSON lines on stdin.
        text: Option<String>,
    },
    /// Batch extraction for corpora: reads JSON lines `{"id","text"}` on
    /// stdin, prints `{"id","urls":[…]}` per line, in order.
    Extract,
}

/// Preview commands.
#[derive(Subcommand)]
pub enum PreviewCommand {
    /// Fetches a URL (public addresses only) and prints its preview as JSON.
    Fetch {
        /// The page.
        url: String,
    },
    /// Extracts the preview of a page read from stdin.
    Extract {
        /// The URL the page came from (for relative links).
        #[arg(long)]
        page_url: String,
        /// The Content-Type header it came with, if known.
        #[arg(long)]
        content_type: Option<String>,
    },
}

/// Policy commands.
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Checks a policy file for self-preferencing (no server needed): exits
    /// non-zero when a rival's platform is treated worse than the
    /// operator's own in the same category and context, or when the file
    /// does not compile.
    Lint {
        /// The Cedar file.
        file: PathBuf,
        /// The operator's owner id (default: `links.operator_owner` from the settings).
        #[arg(long)]
        operator: Option<String>,
        /// Settings file (registry, operator).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print the whole matrix as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Proposes a policy file as a new version (admins).
    Propose {
        /// The Cedar file.
        file: PathBuf,
        /// Why.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Schedules a version: now, or `--at` an RFC 3339 instant.
    Activate {
        /// Version id.
        version: i64,
        /// E.g. 2026-12-01T00:00:00+08:00.
        #[arg(long)]
        at: Option<String>,
    },
    /// Puts an earlier version back in force now.
    Rollback {
        /// Version id.
        version: i64,
    },
    /// Versions and activations.
    History,
    /// What a candidate policy would change over the logged links.
    Replay {
        /// The Cedar file.
        file: PathBuf,
        /// How far back, e.g. `30d`, `12h`.
        #[arg(long, default_value = "30d")]
        since: String,
    },
}

/// Payment commands.
#[derive(Subcommand)]
pub enum PayCommand {
    /// Compares the ledger with each wallet provider's statement of a UTC day and lists every
    /// difference. Exits 0 when they agree, 1 when there is a difference.
    Reconcile {
        /// The day, `YYYY-MM-DD` (UTC).
        #[arg(long)]
        date: String,
        /// `table` or `json`.
        #[arg(long, default_value = "table")]
        format: String,
    },
}

/// Report commands.
#[derive(Subcommand)]
pub enum ReportCommand {
    /// The transparency report (admins).
    Links {
        /// How far back, e.g. `30d`, `12h`.
        #[arg(long, default_value = "30d")]
        since: String,
        /// `table`, `csv` or `json`.
        #[arg(long, default_value = "table")]
        format: String,
    },
}

/// Operator administration commands.
#[derive(Subcommand)]
pub enum AdminCommand {
    /// Creates an operator administrator directly in the database the
    /// settings name (SQLite data folder or `database.url`), with the
    /// server running or not: how a new server gets its first one.
    Create {
        /// The new account's handle.
        handle: String,
        /// Read the password from the first line of stdin (otherwise
        /// $KAIFANG_PASSWORD).
        #[arg(long)]
        password_stdin: bool,
        /// Display name (default: the handle).
        #[arg(long)]
        display_name: Option<String>,
        /// Settings file, for the database (default: ./kaifang.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Invite codes, for `auth.registration = "invite"`.
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Lists accounts, by id, a page at a time.
    Users {
        /// Only accounts with a greater id (the `next_after` of a page).
        #[arg(long)]
        after: Option<i64>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Suspends an account: its sessions end at once and it cannot sign in.
    Suspend {
        /// The account's handle.
        handle: String,
    },
    /// Lets a suspended account sign in again.
    Restore {
        /// The account's handle.
        handle: String,
    },
    /// Removes a message (its text is deleted; members see a placeholder).
    RemoveMessage {
        /// The message's id.
        id: i64,
    },
    /// Makes a one-time password-reset code for an account, to hand to its
    /// owner (`kaifang account reset-password --code …`).
    ResetPassword {
        /// The account's handle.
        handle: String,
    },
    /// Makes an account an operator administrator.
    Grant {
        /// The account's handle.
        handle: String,
    },
    /// Takes the role from an account (refused for the last administrator).
    Revoke {
        /// The account's handle.
        handle: String,
    },
    /// The per-domain preview rules: which hosts' links get previews.
    #[command(subcommand)]
    PreviewRules(PreviewRulesCommand),
}

/// Preview rule commands. A rule is `example.com` (that host),
/// `*.example.com` (its subdomains) or `domain:example.com` (every host of
/// that registrable domain); deny wins over allow, and a non-empty
/// allowlist admits only what it names.
#[derive(Subcommand)]
pub enum PreviewRulesCommand {
    /// Lists both lists, one rule a line.
    List,
    /// Adds a rule to a list.
    Add {
        /// `allow` or `deny`.
        list: String,
        /// The rule.
        rule: String,
    },
    /// Removes a rule from a list.
    Remove {
        /// `allow` or `deny`.
        list: String,
        /// The rule.
        rule: String,
    },
}

/// Invite code commands.
#[derive(Subcommand)]
pub enum InviteCommand {
    /// Makes a code; it is printed once and cannot be shown again.
    Create {
        /// How many accounts it may create.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it is valid, e.g. `7d`, `12h`, `30m` (default: the
        /// server's `auth.invite_default_seconds`).
        #[arg(long)]
        valid: Option<String>,
    },
    /// Lists the invites, newest first (without their codes).
    List,
    /// Revokes an invite.
    Revoke {
        /// The invite's id.
        id: i64,
    },
}
