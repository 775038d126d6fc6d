//! The message bus between the nodes of a cluster: NATS core. It carries
//! committed event batches and sign-outs, fast and without any promise:
//! a message lost here is found again in PostgreSQL (see `cluster.rs` and
//! docs/scale-out.md), which is why NATS needs no persistence at all.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use kaifang_store::{Event, UserId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::config::BusSettings;
use crate::hub::Audience;
use crate::metrics::Metrics;

/// What another node told this one.
pub enum Inbound {
    /// Events it committed, in id order.
    Events(Vec<Event>),
    /// A session that signed out there.
    SignOut {
        /// Whose session.
        user: UserId,
        /// The SHA-256 of its token.
        token_hash: [u8; 32],
    },
    /// An ephemeral event (typing, read marker, mute) for this node's
    /// clients; lost with the bus, which is acceptable for what it carries.
    Ephemeral(EphemeralMessage),
    /// The connection to the bus was (re)established: whatever was sent
    /// meanwhile is lost, so the database must be read again.
    Connected,
}

#[derive(Serialize, Deserialize)]
struct SignOutMessage {
    user: UserId,
    token_hash: String,
}

/// An ephemeral event as it crosses the bus.
#[derive(Serialize, Deserialize)]
pub struct EphemeralMessage {
    /// Its conversation.
    pub conversation: i64,
    /// Who receives it.
    pub audience: Audience,
    /// The event, already JSON.
    pub json: String,
}

enum Outbound {
    Events(Vec<Event>),
    Ephemeral(EphemeralMessage),
    SignOut(UserId, [u8; 32]),
}

/// This node's end of the bus.
pub struct Bus {
    outbound: mpsc::Sender<Outbound>,
    connected: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl Bus {
    /// Starts connecting to the bus in the background (a node whose bus is
    /// down still starts, degraded, and keeps trying) and returns this end
    /// with the stream of what other nodes send.
    pub async fn start(
        settings: &BusSettings,
        metrics: Arc<Metrics>,
    ) -> Result<(Arc<Bus>, mpsc::Receiver<Inbound>), String> {
        let (inbound_tx, inbound) = mpsc::channel(settings.publish_queue.max(1));
        let connected = Arc::new(AtomicBool::new(false));
        let events = {
            let (connected, metrics, inbound_tx) =
                (connected.clone(), metrics.clone(), inbound_tx.clone());
            move |event: async_nats::Event| {
                let (connected, metrics, inbound_tx) =
                    (connected.clone(), metrics.clone(), inbound_tx.clone());
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!("message bus connected");
                            connected.store(true, Ordering::Release);
                            metrics.bus_connected(true);
                            // Never wait here (this task also reports
                            // disconnections); if the queue is full, the
                            // resync re-reads within its interval anyway.
                            let _ = inbound_tx.try_send(Inbound::Connected);
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!(
                                "message bus unreachable: degraded, other nodes' events come \
                                 from the database every bus.resync_interval_ms"
                            );
                            connected.store(false, Ordering::Release);
                            metrics.bus_connected(false);
                        }
                        other => tracing::debug!(event = %other, "message bus"),
                    }
                }
            }
        };
        let client = async_nats::ConnectOptions::new()
            .name("kaifang")
            .no_echo()
            .retry_on_initial_connect()
            .max_reconnects(None)
            // Back within a second of the bus returning (the default backs
            // off to 4 s): delivery to other nodes is slower until then.
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((attempts as u64).saturating_mul(100).min(1_000))
            })
            .connection_timeout(Duration::from_millis(settings.connect_timeout_ms.max(1)))
            .event_callback(events)
            .connect(settings.url.as_str())
            .await
            .map_err(|e| e.to_string())?;
        let prefix = settings.subject_prefix.clone();
        let mut events_in = client
            .subscribe(format!("{prefix}.events.>"))
            .await
            .map_err(|e| e.to_string())?;
        let mut ephemeral_in = client
            .subscribe(format!("{prefix}.ephemeral"))
            .await
            .map_err(|e| e.to_string())?;
        let mut signouts_in = client
            .subscribe(format!("{prefix}.signout"))
            .await
            .map_err(|e| e.to_string())?;
        let receiving = metrics.clone();
        tokio::spawn(async move {
            loop {
                let inbound = tokio::select! {
                    Some(m) = events_in.next() => match serde_json::from_slice::<Vec<Event>>(&m.payload) {
                        Ok(events) => Inbound::Events(events),
                        Err(e) => {
                            tracing::warn!(error = %e, "ignoring a malformed event batch from the bus");
                            continue;
                        }
                    },
                    Some(m) = ephemeral_in.next() => match serde_json::from_slice::<EphemeralMessage>(&m.payload) {
                        Ok(message) => Inbound::Ephemeral(message),
                        Err(e) => {
                            tracing::warn!(error = %e, "ignoring a malformed ephemeral event from the bus");
                            continue;
                        }
                    },
                    Some(m) = signouts_in.next() => match decode_signout(&m.payload) {
                        Some((user, token_hash)) => Inbound::SignOut { user, token_hash },
                        None => {
                            tracing::warn!("ignoring a malformed sign-out from the bus");
                            continue;
                        }
                    },
                    else => return,
                };
                receiving.bus_received();
                if inbound_tx.send(inbound).await.is_err() {
                    return;
                }
            }
        });
        let (outbound, mut queue) = mpsc::channel::<Outbound>(settings.publish_queue.max(1));
        let (publishing, up) = (metrics.clone(), connected.clone());
        tokio::spawn(async move {
            while let Some(item) = queue.recv().await {
                // Down, the client would only buffer: the other nodes re-read
                // the database when it comes back, so nothing is kept.
                if !up.load(Ordering::Acquire) {
                    continue;
                }
                let (subject, payload) = match item {
                    Outbound::Events(events) => {
                        let Some(first) = events.first() else {
                            continue;
                        };
                        let subject = format!("{prefix}.events.{}", first.conversation_id);
                        (subject, serde_json::to_vec(&events))
                    }
                    Outbound::Ephemeral(message) => {
                        (format!("{prefix}.ephemeral"), serde_json::to_vec(&message))
                    }
                    Outbound::SignOut(user, hash) => (
                        format!("{prefix}.signout"),
                        serde_json::to_vec(&SignOutMessage {
                            user,
                            token_hash: hex::encode(hash),
                        }),
                    ),
                };
                let Ok(payload) = payload else { continue };
                match client.publish(subject, payload.into()).await {
                    Ok(()) => publishing.bus_published(),
                    Err(e) => tracing::debug!(error = %e, "bus publish failed"),
                }
            }
        });
        Ok((
            Arc::new(Bus {
                outbound,
                connected,
                metrics,
            }),
            inbound,
        ))
    }

    /// Whether the bus is reachable now.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Offers events this node committed to the other nodes. Never waits:
    /// when the queue is full they are dropped, and found by the others'
    /// resync.
    pub fn publish_events(&self, events: Vec<Event>) {
        if self.outbound.try_send(Outbound::Events(events)).is_err() {
            self.metrics.bus_dropped();
        }
    }

    /// Offers an ephemeral event to the other nodes; dropped when the queue
    /// is full (nothing re-reads it: it is a hint, not history).
    pub fn publish_ephemeral(&self, conversation: i64, audience: Audience, json: String) {
        let message = EphemeralMessage {
            conversation,
            audience,
            json,
        };
        if self
            .outbound
            .try_send(Outbound::Ephemeral(message))
            .is_err()
        {
            self.metrics.bus_dropped();
        }
    }

    /// Tells the other nodes that a session signed out.
    pub fn publish_signout(&self, user: UserId, token_hash: [u8; 32]) {
        if self
            .outbound
            .try_send(Outbound::SignOut(user, token_hash))
            .is_err()
        {
            self.metrics.bus_dropped();
        }
    }
}

fn decode_signout(payload: &[u8]) -> Option<(UserId, [u8; 32])> {
    let message: SignOutMessage = serde_json::from_slice(payload).ok()?;
    let bytes = hex::decode(&message.token_hash).ok()?;
    Some((message.user, bytes.try_into().ok()?))
}
