//! Per-member chat state: read markers, mutes, read receipts and typing.
//! None of it is history, so none of it enters the event log: changes reach
//! the user's other devices (and, for receipts and typing, the other
//! member) as ephemeral events, and the conversation list is where a device
//! that was offline finds the state.
//!
//! Read receipts follow WeChat and Signal: off by default, and mutual — a
//! member's receipt reaches the other member of a direct chat only when
//! both have them on, so nobody sees receipts without sending their own.
//! Groups have no receipts.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kaifang_store::{ConversationKind, ReadMarker, ReadState, Store, UserId};
use serde_json::json;

use crate::config::ChatSettings;
use crate::hub::{Audience, Hub};
use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};
use crate::service::events::Events;

/// The chat-state service.
pub struct ChatState {
    store: Arc<dyn Store>,
    state: Arc<dyn ReadState>,
    hub: Arc<Hub>,
    events: Arc<Events>,
    typing: Throttle,
}

/// At most one accepted call per key per interval; the rest are dropped.
/// Keys past `sweep_at` whose interval has passed are forgotten.
struct Throttle {
    interval: Duration,
    sweep_at: usize,
    last: Mutex<HashMap<(UserId, i64), Instant>>,
}

impl Throttle {
    fn allow(&self, key: (UserId, i64)) -> bool {
        let now = Instant::now();
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        if last.len() > self.sweep_at {
            last.retain(|_, at| now.duration_since(*at) < self.interval);
        }
        match last.get(&key) {
            Some(at) if now.duration_since(*at) < self.interval => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }
}

impl ChatState {
    /// Builds the service; `rate_limit_keys` bounds the typing throttle.
    pub fn new(
        store: Arc<dyn Store>,
        state: Arc<dyn ReadState>,
        hub: Arc<Hub>,
        events: Arc<Events>,
        settings: &ChatSettings,
        rate_limit_keys: usize,
    ) -> Self {
        Self {
            store,
            state,
            hub,
            events,
            typing: Throttle {
                interval: Duration::from_millis(settings.typing_min_interval_ms),
                sweep_at: rate_limit_keys,
                last: Mutex::new(HashMap::new()),
            },
        }
    }

    async fn handle(&self, user: UserId) -> Result<String> {
        Ok(self
            .store
            .user_by_id(user)
            .await?
            .ok_or_else(|| Error::not_found("user"))?
            .handle)
    }

    /// The caller's state in each of their conversations, by id.
    pub async fn markers(&self, caller: &Caller) -> Result<HashMap<i64, ReadMarker>> {
        let all = self.state.read_markers(caller.user_id).await?;
        Ok(all.into_iter().map(|m| (m.conversation_id, m)).collect())
    }

    /// Moves the caller's read marker to `seq` (never backwards; clamped to
    /// the newest message). When it moved, the caller's devices hear it,
    /// and so does the other member of a direct chat when both send receipts.
    pub async fn mark_read(
        &self,
        caller: &Caller,
        conversation_id: i64,
        seq: i64,
    ) -> Result<ReadMarker> {
        if seq < 0 {
            return Err(Error::invalid("seq is 0 or more"));
        }
        let (marker, moved) = self
            .state
            .mark_read(conversation_id, caller.user_id, seq)
            .await
            .map_err(not_member)?;
        if !moved {
            return Ok(marker);
        }
        let handle = self.handle(caller.user_id).await?;
        let mine = json!({
            "type": "read",
            "conversation_id": conversation_id,
            "handle": handle,
            "seq": marker.read_seq,
            "unread": marker.unread,
        });
        self.events.ephemeral(
            conversation_id,
            Audience::Users(vec![caller.user_id]),
            mine.to_string(),
        );
        if let Some(other) = self.receipt_to(caller.user_id, conversation_id).await? {
            let receipt = json!({
                "type": "receipt",
                "conversation_id": conversation_id,
                "handle": handle,
                "seq": marker.read_seq,
            });
            self.events.ephemeral(
                conversation_id,
                Audience::Users(vec![other]),
                receipt.to_string(),
            );
        }
        Ok(marker)
    }

    /// The other member of a direct chat, when both send receipts.
    async fn receipt_to(&self, reader: UserId, conversation_id: i64) -> Result<Option<UserId>> {
        if !self.state.read_receipts(reader).await? {
            return Ok(None);
        }
        let Some(c) = self.store.conversation(conversation_id).await? else {
            return Ok(None);
        };
        if c.kind != ConversationKind::Direct {
            return Ok(None);
        }
        let Some(other) = c.members.iter().find(|m| m.user_id != reader) else {
            return Ok(None);
        };
        Ok(self
            .state
            .read_receipts(other.user_id)
            .await?
            .then_some(other.user_id))
    }

    /// Mutes or unmutes a conversation for the caller; their devices hear it.
    pub async fn set_muted(
        &self,
        caller: &Caller,
        conversation_id: i64,
        muted: bool,
    ) -> Result<ReadMarker> {
        let marker = self
            .state
            .set_muted(conversation_id, caller.user_id, muted)
            .await
            .map_err(not_member)?;
        let event = json!({ "type": "mute", "conversation_id": conversation_id, "muted": muted });
        self.events.ephemeral(
            conversation_id,
            Audience::Users(vec![caller.user_id]),
            event.to_string(),
        );
        Ok(marker)
    }

    /// Whether the caller sends (and so sees) read receipts.
    pub async fn read_receipts(&self, caller: &Caller) -> Result<bool> {
        Ok(self.state.read_receipts(caller.user_id).await?)
    }

    /// Turns the caller's read receipts on or off.
    pub async fn set_read_receipts(&self, caller: &Caller, on: bool) -> Result<()> {
        Ok(self.state.set_read_receipts(caller.user_id, on).await?)
    }

    /// Tells the other member of a direct chat that the caller is typing.
    /// At most one notice per `chat.typing_min_interval_ms`; the others are
    /// dropped without an error (typing is a hint, sent on keystrokes).
    /// Returns whether this one was relayed.
    pub async fn typing(&self, caller: &Caller, conversation_id: i64) -> Result<bool> {
        let kind = match self.hub.membership(conversation_id, caller.user_id) {
            Some(m) => m.kind,
            // Just joined, and the hub has not seen it yet: ask the store.
            None => {
                let c = self
                    .store
                    .conversation(conversation_id)
                    .await?
                    .filter(|c| c.members.iter().any(|m| m.user_id == caller.user_id))
                    .ok_or_else(|| Error::not_found("conversation"))?;
                c.kind
            }
        };
        if kind != ConversationKind::Direct {
            return Err(Error::refused(
                "typing-direct-only",
                "Typing indicators are for direct chats",
                "typing indicators are sent in direct chats only",
            ));
        }
        if !self.typing.allow((caller.user_id, conversation_id)) {
            return Ok(false);
        }
        let handle = self.handle(caller.user_id).await?;
        let event =
            json!({ "type": "typing", "conversation_id": conversation_id, "handle": handle });
        self.events.ephemeral(
            conversation_id,
            Audience::MembersExcept(caller.user_id),
            event.to_string(),
        );
        Ok(true)
    }
}

/// The store's "not found" for a marker names what it looked for; outside
/// it is always the conversation (non-members learn nothing).
fn not_member(e: kaifang_store::Error) -> Error {
    match e {
        kaifang_store::Error::NotFound(_) => Error::not_found("conversation"),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_lets_one_through_per_interval_and_key() {
        let t = Throttle {
            interval: Duration::from_secs(3600),
            sweep_at: 100,
            last: Mutex::new(HashMap::new()),
        };
        assert!(t.allow((1, 1)));
        assert!(!t.allow((1, 1)));
        assert!(t.allow((1, 2)), "another conversation has its own");
        assert!(t.allow((2, 1)), "another user has their own");
        let open = Throttle {
            interval: Duration::ZERO,
            ..t
        };
        assert!(open.allow((1, 1)) && open.allow((1, 1)));
    }
}
