//! Reading the event stream: catch-up from the database, then live frames
//! from the hub, with no gap and no duplicate in between.
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use kaifang_store::{EventId, Store, UserId};

use crate::bus::Bus;
use crate::hub::{Audience, Frame, Hub, Subscription};
use crate::service::error::{Error, Result};
use crate::wire::{cursor, render_event};

/// The events service.
pub struct Events {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    /// In a cluster: where sign-outs are told to the other nodes.
    bus: Option<Arc<Bus>>,
}

impl Events {
    /// Builds the service.
    pub fn new(store: Arc<dyn Store>, hub: Arc<Hub>, bus: Option<Arc<Bus>>) -> Self {
        Self { store, hub, bus }
    }

    /// Decodes a client's cursor; `None` means "from now on". A cursor past
    /// the newest event is refused: it cannot have come from this server.
    pub async fn start(&self, since: Option<&str>) -> Result<EventId> {
        let head = self.store.head().await?;
        match since {
            None => Ok(head),
            Some(text) => {
                let id = cursor::decode(text).map_err(Error::invalid)?;
                if id > head {
                    return Err(Error::invalid(
                        "cursor is from the future: it was not issued by this server",
                    ));
                }
                Ok(id)
            }
        }
    }

    /// Subscribes to live frames (subscribe first, then catch up, so that
    /// nothing committed in between is missed) for the session `session`.
    pub fn subscribe(&self, user: UserId, session: [u8; 32]) -> Subscription {
        self.hub.subscribe(user, session)
    }

    /// Ends the session's open streams and long polls (on sign-out), on
    /// this node and, through the bus, on the others.
    pub fn end_session(&self, user: UserId, session: [u8; 32]) {
        self.hub.end_session(user, session);
        if let Some(bus) = &self.bus {
            bus.publish_signout(user, session);
        }
    }

    /// Delivers an event that is not logged (typing, read markers, mutes)
    /// to the audience's open streams and long polls here and, through the
    /// bus, on the other nodes. Nothing is stored: a client that is not
    /// connected finds the state in the conversation list instead.
    pub fn ephemeral(&self, conversation: i64, audience: Audience, json: String) {
        self.hub.dispatch_ephemeral(conversation, &audience, &json);
        if let Some(bus) = &self.bus {
            bus.publish_ephemeral(conversation, audience, json);
        }
    }

    /// Events after `after` from the database, rendered.
    pub async fn catch_up(&self, user: UserId, after: EventId, limit: u32) -> Result<Vec<Frame>> {
        let events = self.store.events_for(user, after, limit).await?;
        Ok(events
            .iter()
            .map(|e| Frame {
                id: e.id,
                json: Utf8Bytes::from(render_event(e)),
                ephemeral: false,
            })
            .collect())
    }

    /// Long poll: events after `after`, waiting up to `wait` for the first.
    ///
    /// The hub dispatches after the commit, so frames the cursor already
    /// covers (ids up to `after`, e.g. the events of a write acknowledged
    /// just before "now" was read) can still arrive: they are skipped and
    /// the wait goes on until the deadline, not cut short by them.
    pub async fn poll(
        &self,
        user: UserId,
        session: [u8; 32],
        after: EventId,
        wait: Duration,
        limit: u32,
    ) -> Result<Vec<Frame>> {
        let mut subscription = self.subscribe(user, session);
        let backlog = self.catch_up(user, after, limit).await?;
        if !backlog.is_empty() || wait.is_zero() {
            return Ok(backlog);
        }
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        while out.is_empty() {
            match tokio::time::timeout_at(deadline, subscription.rx.recv()).await {
                Err(_) => return Ok(out),
                Ok(Some(frame)) if frame.ephemeral || frame.id > after => out.push(frame),
                Ok(Some(_)) => {}
                // Closed by a sign-out: the session is over.
                Ok(None) if subscription.signed_out() => {
                    return Err(Error::Unauthenticated("signed out"));
                }
                // Too far behind for the queue: the database has it all.
                Ok(None) => return self.catch_up(user, after, limit).await,
            }
        }
        // Frames arrive in event order, but the first may have been an
        // ephemeral one (no id): keep checking.
        while out.len() < limit as usize {
            match subscription.rx.try_recv() {
                Ok(frame) if frame.ephemeral || frame.id > after => out.push(frame),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(out)
    }
}
