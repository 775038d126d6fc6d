//! Real-time fan-out. One task reads committed events from the store in
//! order, keeps the membership of every conversation in memory, renders each
//! event to JSON once and offers the shared bytes to every connected member's
//! bounded queue. A queue that is full is closed: that client is told to
//! resync from its cursor, and nobody else waits for it.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::ws::Utf8Bytes;
use kaifang_store::{ConversationKind, Event, EventBody, EventId, MemberEvent, Role, UserId};
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::wire::render_event;

/// One event, rendered once and shared by every recipient.
#[derive(Clone)]
pub struct Frame {
    /// The event's id (its cursor).
    pub id: EventId,
    /// The event as JSON (cheap to clone: the bytes are shared).
    pub json: Utf8Bytes,
    /// Not in the event log (typing, read markers, mutes): it has no
    /// cursor, is never replayed, and does not move a client's position.
    pub ephemeral: bool,
}

/// Who receives an ephemeral event (see [`Hub::dispatch_ephemeral`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// These users, if they are still members.
    Users(Vec<UserId>),
    /// Every member but this one (e.g. typing: not the typist).
    MembersExcept(UserId),
}

struct ConversationState {
    kind: ConversationKind,
    members: HashMap<UserId, Role>,
}

/// What the send path needs to know about a conversation and its sender.
#[derive(Debug, Clone, Copy)]
pub struct Membership {
    /// Direct or group.
    pub kind: ConversationKind,
    /// Current number of members.
    pub member_count: usize,
    /// The sender's role.
    pub role: Role,
}

struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Frame>,
    /// The SHA-256 of the token the stream was opened with.
    session: [u8; 32],
    /// Set when that session signed out, before the queue is closed.
    signed_out: Arc<AtomicBool>,
}

/// The fan-out hub.
pub struct Hub {
    conversations: RwLock<HashMap<i64, ConversationState>>,
    subscribers: Mutex<HashMap<UserId, Vec<Subscriber>>>,
    next_subscriber: AtomicU64,
    queue_capacity: usize,
    metrics: Arc<Metrics>,
}

/// A live subscription; dropping it unsubscribes.
pub struct Subscription {
    /// Frames for this subscriber, in event order. Closed when the
    /// subscriber fell too far behind and must resync, or when its session
    /// signed out ([`Subscription::signed_out`] tells which).
    pub rx: mpsc::Receiver<Frame>,
    hub: Arc<Hub>,
    user: UserId,
    id: u64,
    signed_out: Arc<AtomicBool>,
}

impl Subscription {
    /// Whether the queue was closed because its session signed out.
    pub fn signed_out(&self) -> bool {
        self.signed_out.load(Ordering::Acquire)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.user, self.id);
    }
}

impl Hub {
    /// A hub that knows the given current memberships.
    pub fn new(
        memberships: Vec<(i64, ConversationKind, UserId, Role)>,
        queue_capacity: usize,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let mut conversations: HashMap<i64, ConversationState> = HashMap::new();
        for (conversation, kind, user, role) in memberships {
            conversations
                .entry(conversation)
                .or_insert_with(|| ConversationState {
                    kind,
                    members: HashMap::new(),
                })
                .members
                .insert(user, role);
        }
        Arc::new(Self {
            conversations: RwLock::new(conversations),
            subscribers: Mutex::new(HashMap::new()),
            next_subscriber: AtomicU64::new(1),
            queue_capacity: queue_capacity.max(1),
            metrics,
        })
    }

    /// Runs until the store's event channel closes.
    pub async fn run(self: Arc<Self>, mut events: mpsc::UnboundedReceiver<Vec<Event>>) {
        while let Some(batch) = events.recv().await {
            for event in &batch {
                self.dispatch(event);
            }
        }
    }

    /// The caller's membership of a conversation, as last seen by the hub.
    pub fn membership(&self, conversation: i64, user: UserId) -> Option<Membership> {
        let conversations = self.conversations.read().ok()?;
        let state = conversations.get(&conversation)?;
        let role = *state.members.get(&user)?;
        Some(Membership {
            kind: state.kind,
            member_count: state.members.len(),
            role,
        })
    }

    /// Subscribes `user` to the events of all their conversations, for the
    /// session whose token hashes to `session`.
    pub fn subscribe(self: &Arc<Self>, user: UserId, session: [u8; 32]) -> Subscription {
        let (tx, rx) = mpsc::channel(self.queue_capacity);
        let id = self.next_subscriber.fetch_add(1, Ordering::Relaxed);
        let signed_out = Arc::new(AtomicBool::new(false));
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.entry(user).or_default().push(Subscriber {
                id,
                tx,
                session,
                signed_out: signed_out.clone(),
            });
        }
        self.metrics.clients_connected(1);
        Subscription {
            rx,
            hub: self.clone(),
            user,
            id,
            signed_out,
        }
    }

    /// Ends every stream `user` opened with the session `session`: their
    /// queues close (after the frames already queued) and say why. Events
    /// dispatched after this reach none of them.
    pub fn end_session(&self, user: UserId, session: [u8; 32]) {
        if let Ok(mut subs) = self.subscribers.lock()
            && let Some(list) = subs.get_mut(&user)
        {
            list.retain(|s| {
                let keep = s.session != session;
                if !keep {
                    s.signed_out.store(true, Ordering::Release);
                }
                keep
            });
        }
    }

    /// The sessions that have streams or long polls open here, once each.
    pub(crate) fn open_sessions(&self) -> Vec<(UserId, [u8; 32])> {
        let mut out: Vec<(UserId, [u8; 32])> = match self.subscribers.lock() {
            Ok(subs) => subs
                .iter()
                .flat_map(|(user, list)| list.iter().map(|s| (*user, s.session)))
                .collect(),
            Err(_) => Vec::new(),
        };
        out.sort_unstable();
        out.dedup();
        out
    }

    fn unsubscribe(&self, user: UserId, id: u64) {
        if let Ok(mut subs) = self.subscribers.lock()
            && let Some(list) = subs.get_mut(&user)
        {
            list.retain(|s| s.id != id);
            if list.is_empty() {
                subs.remove(&user);
            }
        }
        self.metrics.clients_connected(-1);
    }

    /// Delivers one event to the connected members (events must come in
    /// id order, each once).
    pub(crate) fn dispatch(&self, event: &Event) {
        let frame = Frame {
            id: event.id,
            json: Utf8Bytes::from(render_event(event)),
            ephemeral: false,
        };
        // Joiners receive their own join; leavers their own departure.
        let leaving = match &event.body {
            EventBody::Member(m) => {
                self.apply_member_change(event.conversation_id, m);
                matches!(m.change.as_str(), "left" | "removed").then_some(m.user_id)
            }
            _ => None,
        };
        let recipients: Vec<UserId> = match self.conversations.read() {
            Ok(conversations) => conversations
                .get(&event.conversation_id)
                .map(|c| c.members.keys().copied().chain(leaving).collect())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        if let Ok(mut subs) = self.subscribers.lock() {
            for user in recipients {
                if let Some(list) = subs.get_mut(&user) {
                    // A full queue means a client too far behind: dropping its
                    // sender closes the queue, which tells it to resync.
                    list.retain(|s| s.tx.try_send(frame.clone()).is_ok());
                }
            }
        }
    }

    /// Offers an event that is not in the log to the connected members of
    /// `conversation` that `audience` names. Best effort by design: a full
    /// queue just misses it (it is not closed, since there is nothing to
    /// resync from), and a client that is not connected never sees it.
    pub(crate) fn dispatch_ephemeral(&self, conversation: i64, audience: &Audience, json: &str) {
        let frame = Frame {
            id: 0,
            json: Utf8Bytes::from(json),
            ephemeral: true,
        };
        let recipients: Vec<UserId> = match self.conversations.read() {
            Ok(conversations) => match conversations.get(&conversation) {
                Some(c) => match audience {
                    Audience::Users(users) => users
                        .iter()
                        .copied()
                        .filter(|u| c.members.contains_key(u))
                        .collect(),
                    Audience::MembersExcept(except) => {
                        c.members.keys().copied().filter(|u| u != except).collect()
                    }
                },
                None => Vec::new(),
            },
            Err(_) => Vec::new(),
        };
        if let Ok(subs) = self.subscribers.lock() {
            for user in recipients {
                for s in subs.get(&user).into_iter().flatten() {
                    let _ = s.tx.try_send(frame.clone());
                }
            }
        }
    }

    fn apply_member_change(&self, conversation: i64, change: &MemberEvent) {
        let Ok(mut conversations) = self.conversations.write() else {
            return;
        };
        match (change.change.as_str(), change.role) {
            ("left" | "removed", _) => {
                if let Some(c) = conversations.get_mut(&conversation) {
                    c.members.remove(&change.user_id);
                }
            }
            (_, Some(role)) => {
                conversations
                    .entry(conversation)
                    .or_insert_with(|| ConversationState {
                        kind: change.kind,
                        members: HashMap::new(),
                    })
                    .members
                    .insert(change.user_id, role);
            }
            _ => {}
        }
    }
}
