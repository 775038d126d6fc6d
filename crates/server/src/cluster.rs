//! Fan-out when several nodes share one PostgreSQL database. Events reach
//! this node from three places: its own commits (the store's sink), other
//! nodes' commits (the bus), and the database itself (re-reads). This task
//! merges them and hands the hub every event exactly once, in id order.
//!
//! Why that works: event ids have no holes and become visible in id order
//! (the store's write lock), and an event is published only after its
//! commit. So an event seen with an id past `head + 1` means the ones in
//! between are committed and readable: one read from `head` closes the gap.
//! A lost last message leaves no gap to see; the periodic resync compares
//! the database's head with ours and catches that too.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kaifang_store::{Event, EventId, Store};
use tokio::sync::mpsc;

use crate::bus::{Bus, Inbound};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::service::accounts::Accounts;

/// The merging task's state.
pub struct Cluster {
    pub(crate) hub: Arc<Hub>,
    pub(crate) store: Arc<dyn Store>,
    /// Where this node's commits are published (`None` only in tests).
    pub(crate) bus: Option<Arc<Bus>>,
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) metrics: Arc<Metrics>,
    /// The last event handed to the hub.
    pub(crate) head: EventId,
    /// Events seen ahead of `head + 1`, waiting for the ones before them.
    pub(crate) pending: BTreeMap<EventId, Event>,
    /// Events read per page when re-reading.
    pub(crate) page: u32,
    pub(crate) resync: Duration,
    /// How often the sessions of open streams are checked in the database.
    pub(crate) revocation: Duration,
}

impl Cluster {
    /// Runs until this node's store closes its sink (shutdown).
    pub async fn run(
        mut self,
        mut local: mpsc::UnboundedReceiver<Vec<Event>>,
        mut inbound: mpsc::Receiver<Inbound>,
    ) {
        let mut tick = tokio::time::interval(self.resync.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A sign-out whose bus message was lost still closes the streams
        // here within `bus.revocation_ms`.
        let mut sessions = tokio::time::interval(self.revocation.max(Duration::from_millis(1)));
        sessions.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut bus_open = true;
        loop {
            tokio::select! {
                batch = local.recv() => {
                    let Some(batch) = batch else { return };
                    if let Some(bus) = &self.bus {
                        bus.publish_events(batch.clone());
                    }
                    self.offer(batch).await;
                }
                message = inbound.recv(), if bus_open => match message {
                    Some(Inbound::Events(batch)) => self.offer(batch).await,
                    Some(Inbound::Ephemeral(m)) => {
                        self.hub.dispatch_ephemeral(m.conversation, &m.audience, &m.json);
                    }
                    Some(Inbound::SignOut { user, token_hash }) => {
                        self.accounts.forget_token(&token_hash);
                        self.hub.end_session(user, token_hash);
                    }
                    // Whatever was published while it was down is lost.
                    Some(Inbound::Connected) => {
                        self.metrics.resync_reread();
                        self.reread().await;
                    }
                    None => bus_open = false,
                },
                _ = tick.tick() => self.resync().await,
                _ = sessions.tick() => self.end_revoked_sessions().await,
            }
        }
    }

    /// Takes events from the sink or the bus: those next in line go to the
    /// hub; one past a gap makes the gap be read from the database.
    async fn offer(&mut self, batch: Vec<Event>) {
        for event in batch {
            if event.id > self.head {
                self.pending.insert(event.id, event);
            }
        }
        self.drain();
        if !self.pending.is_empty() {
            self.metrics.gap_reread();
            self.reread().await;
        }
    }

    fn drain(&mut self) {
        while let Some(event) = self.pending.remove(&(self.head + 1)) {
            self.hub.dispatch(&event);
            self.head = event.id;
        }
    }

    /// Reads everything after `head` from the database and dispatches it.
    /// A failed read leaves the rest for the next tick.
    async fn reread(&mut self) {
        loop {
            let events = match self.store.events_after(self.head, self.page).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "re-reading events from the database failed");
                    return;
                }
            };
            let full = events.len() >= self.page as usize;
            for event in events {
                if event.id > self.head {
                    self.hub.dispatch(&event);
                    self.head = event.id;
                }
            }
            let head = self.head;
            self.pending.retain(|id, _| *id > head);
            self.drain();
            if !full {
                return;
            }
        }
    }

    /// Ends the open streams whose session was revoked (on any node).
    async fn end_revoked_sessions(&self) {
        let open = self.hub.open_sessions();
        if open.is_empty() {
            return;
        }
        let hashes = open.iter().map(|(_, hash)| *hash).collect();
        match self.store.ended_sessions(hashes).await {
            Ok(ended) => {
                for (user, hash) in open.iter().filter(|(_, h)| ended.contains(h)) {
                    self.accounts.forget_token(hash);
                    self.hub.end_session(*user, *hash);
                }
            }
            Err(e) => tracing::warn!(error = %e, "checking open sessions failed"),
        }
    }

    /// The durable path: whatever the bus lost, the database has.
    async fn resync(&mut self) {
        match self.store.head().await {
            Ok(newest) => {
                self.metrics.catch_up_lag(newest.saturating_sub(self.head));
                if newest > self.head {
                    self.metrics.resync_reread();
                    self.reread().await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the newest event failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use kaifang_store::{AdminGrant, NewMessage, SqliteConfig, SqliteStore, Store};

    use super::Cluster;
    use crate::hub::{Frame, Hub};
    use crate::metrics::Metrics;
    use crate::service::accounts::Accounts;

    fn message(c: i64, sender: i64, body: &str) -> NewMessage {
        NewMessage::text(c, sender, body)
    }

    fn ids(rx: &mut tokio::sync::mpsc::Receiver<Frame>) -> Vec<i64> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|f| f.id)
            .collect()
    }

    /// Whatever order and however often events arrive (late, early, twice,
    /// never), a subscriber gets each once, in id order: gaps are read from
    /// the database, a lost last event by the resync.
    #[tokio::test]
    async fn events_reach_subscribers_once_in_order_whatever_the_bus_does() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sink, mut sunk) = tokio::sync::mpsc::unbounded_channel();
        let sqlite = Arc::new(
            SqliteStore::open(SqliteConfig::new(dir.path().join("k.db")), sink).expect("store"),
        );
        let store: Arc<dyn Store> = sqlite.clone();
        let alice = store
            .create_user("alice", "A", "h", AdminGrant::No)
            .await
            .expect("alice");
        let bob = store
            .create_user("bob", "B", "h", AdminGrant::No)
            .await
            .expect("bob");
        let (c, _) = store.open_direct(alice.id, bob.id).await.expect("direct");
        for i in 0..5 {
            store
                .append_message(message(c.id, alice.id, &format!("m{i}")))
                .await
                .expect("send");
        }
        let all: Vec<_> = std::iter::from_fn(|| sunk.try_recv().ok())
            .flatten()
            .collect();
        assert_eq!(all.len(), 7, "two joins and five messages");

        let metrics = Arc::new(Metrics::default());
        metrics.bus_configured();
        let counted = |name: &str| {
            let text = metrics.render();
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<u64>().ok())
                .unwrap_or(u64::MAX)
        };
        let hub = Hub::new(Vec::new(), 64, metrics.clone());
        let mut alice_stream = hub.subscribe(alice.id, [1; 32]);
        let accounts = Accounts::new(store.clone(), sqlite, Default::default(), (100, 100), 100)
            .expect("accounts");
        let mut cluster = Cluster {
            hub: hub.clone(),
            store: store.clone(),
            bus: None,
            accounts: Arc::new(accounts),
            metrics: metrics.clone(),
            head: 0,
            pending: Default::default(),
            page: 2,
            resync: Duration::from_millis(500),
            revocation: Duration::from_millis(1000),
        };
        // The first two in order, then the fifth before the rest: a gap,
        // read from the database (in pages of two) up to its newest.
        cluster.offer(all[..2].to_vec()).await;
        assert_eq!(ids(&mut alice_stream.rx), vec![1, 2]);
        cluster.offer(vec![all[4].clone()]).await;
        assert_eq!(ids(&mut alice_stream.rx), vec![3, 4, 5, 6, 7]);
        // Late and repeated ones change nothing.
        cluster
            .offer(vec![all[2].clone(), all[3].clone(), all[4].clone()])
            .await;
        cluster.offer(all.clone()).await;
        assert!(ids(&mut alice_stream.rx).is_empty());
        // The next in line goes out at once, without a read.
        store
            .append_message(message(c.id, alice.id, "next"))
            .await
            .expect("send");
        let next: Vec<_> = std::iter::from_fn(|| sunk.try_recv().ok())
            .flatten()
            .collect();
        cluster.offer(next).await;
        assert_eq!(ids(&mut alice_stream.rx), vec![8]);
        assert_eq!(counted("kaifang_bus_gap_rereads_total"), 1);
        // A commit whose bus message never comes: the resync finds it.
        store
            .append_message(message(c.id, alice.id, "lost"))
            .await
            .expect("send");
        cluster.resync().await;
        assert_eq!(ids(&mut alice_stream.rx), vec![9]);
        assert_eq!(counted("kaifang_bus_resync_rereads_total"), 1);
        cluster.resync().await;
        assert!(ids(&mut alice_stream.rx).is_empty());
    }
}
