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
//!
//! A gap is usually not a loss. With two nodes writing, a node's own commit
//! reaches it through the sink before the other node's commit just before
//! it arrives through the bus, a fraction of a millisecond later. So a gap
//! is read only once it has lasted `gap_wait` (`bus.gap_wait_ms`): under
//! load from two nodes, reading at once cost a database read for about one
//! commit in three (docs/benchmarks.md).
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kaifang_store::{Event, EventId, Store};
use tokio::sync::mpsc;

use crate::bus::{Bus, Inbound};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::service::accounts::Accounts;

/// How often and how much the merging task reads (settings under `bus`
/// and `stream`).
pub(crate) struct Timing {
    /// Events read per page when re-reading.
    pub(crate) page: u32,
    /// How often the database's head is compared with ours.
    pub(crate) resync: Duration,
    /// How long a gap may last before it is read from the database; zero
    /// reads it at once.
    pub(crate) gap_wait: Duration,
    /// How often the sessions of open streams are checked in the database.
    pub(crate) revocation: Duration,
}

/// The merging task's state.
pub struct Cluster {
    hub: Arc<Hub>,
    store: Arc<dyn Store>,
    /// Where this node's commits are published (`None` only in tests).
    bus: Option<Arc<Bus>>,
    accounts: Arc<Accounts>,
    metrics: Arc<Metrics>,
    timing: Timing,
    /// The last event handed to the hub.
    head: EventId,
    /// Events seen ahead of `head + 1`, waiting for the ones before them.
    pending: BTreeMap<EventId, Event>,
    /// When the gap seen now is read, if it has not closed by then.
    gap_deadline: Option<tokio::time::Instant>,
}

impl Cluster {
    /// A task that starts at `head`, the newest event this node has seen.
    pub(crate) fn new(
        hub: Arc<Hub>,
        store: Arc<dyn Store>,
        bus: Option<Arc<Bus>>,
        accounts: Arc<Accounts>,
        metrics: Arc<Metrics>,
        head: EventId,
        timing: Timing,
    ) -> Self {
        Self {
            hub,
            store,
            bus,
            accounts,
            metrics,
            timing,
            head,
            pending: BTreeMap::new(),
            gap_deadline: None,
        }
    }

    /// Runs until this node's store closes its sink (shutdown).
    pub async fn run(
        mut self,
        mut local: mpsc::UnboundedReceiver<Vec<Event>>,
        mut inbound: mpsc::Receiver<Inbound>,
    ) {
        let mut tick = tokio::time::interval(self.timing.resync.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A sign-out whose bus message was lost still closes the streams
        // here within `bus.revocation_ms`.
        let mut sessions =
            tokio::time::interval(self.timing.revocation.max(Duration::from_millis(1)));
        sessions.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut bus_open = true;
        loop {
            let gap = self.gap_deadline;
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
                _ = tokio::time::sleep_until(gap.unwrap_or_else(tokio::time::Instant::now)), if gap.is_some() => {
                    self.read_gap().await;
                }
                _ = tick.tick() => self.resync().await,
                _ = sessions.tick() => self.end_revoked_sessions().await,
            }
        }
    }

    /// Takes events from the sink or the bus: those next in line go to the
    /// hub; one past a gap makes the gap be read from the database, at once
    /// or, with a `gap_wait`, once the gap has lasted that long.
    async fn offer(&mut self, batch: Vec<Event>) {
        for event in batch {
            if event.id > self.head {
                self.pending.insert(event.id, event);
            }
        }
        self.drain();
        if self.pending.is_empty() {
            self.gap_deadline = None;
        } else if self.timing.gap_wait.is_zero() {
            self.read_gap().await;
        } else if self.gap_deadline.is_none() {
            self.gap_deadline = Some(tokio::time::Instant::now() + self.timing.gap_wait);
        }
    }

    /// Reads the gap that is still open. A failed read leaves the events
    /// pending; the next event past the gap, or the resync, tries again.
    async fn read_gap(&mut self) {
        self.gap_deadline = None;
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
            let events = match self.store.events_after(self.head, self.timing.page).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "re-reading events from the database failed");
                    return;
                }
            };
            let full = events.len() >= self.timing.page as usize;
            for event in events {
                if event.id > self.head {
                    self.hub.dispatch(&event);
                    self.head = event.id;
                }
            }
            let head = self.head;
            self.pending.retain(|id, _| *id > head);
            self.drain();
            if self.pending.is_empty() {
                self.gap_deadline = None;
            }
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

    use kaifang_store::{AdminGrant, Event, NewMessage, SqliteConfig, SqliteStore, Store};
    use tokio::sync::mpsc;

    use super::{Cluster, Timing};
    use crate::bus::Inbound;
    use crate::hub::{Frame, Hub, Subscription};
    use crate::metrics::Metrics;
    use crate::service::accounts::Accounts;

    fn ids(rx: &mut mpsc::Receiver<Frame>) -> Vec<i64> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|f| f.id)
            .collect()
    }

    /// Alice and Bob in a direct conversation on a SQLite store, five
    /// messages from Alice, and a cluster (no bus) over a hub that Alice
    /// listens to. `events` are the seven committed so far (two joins, five
    /// messages), as the store's sink gave them, for the test to offer.
    struct Fixture {
        _dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        sunk: mpsc::UnboundedReceiver<Vec<Event>>,
        events: Vec<Event>,
        metrics: Arc<Metrics>,
        alice: Subscription,
        alice_id: i64,
        conversation: i64,
        cluster: Option<Cluster>,
    }

    impl Fixture {
        async fn new(gap_wait: Duration) -> Self {
            let dir = tempfile::tempdir().expect("temp dir");
            let (sink, mut sunk) = mpsc::unbounded_channel();
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
            // Alice's stream is a live session: the task checks.
            store
                .create_session(alice.id, [1; 32])
                .await
                .expect("session");
            let (c, _) = store.open_direct(alice.id, bob.id).await.expect("direct");
            for i in 0..5 {
                store
                    .append_message(NewMessage::text(c.id, alice.id, format!("m{i}")))
                    .await
                    .expect("send");
            }
            let events: Vec<_> = std::iter::from_fn(|| sunk.try_recv().ok())
                .flatten()
                .collect();
            assert_eq!(events.len(), 7, "two joins and five messages");
            let metrics = Arc::new(Metrics::default());
            metrics.bus_configured();
            let hub = Hub::new(Vec::new(), 64, metrics.clone());
            let subscription = hub.subscribe(alice.id, [1; 32]);
            let accounts =
                Accounts::new(store.clone(), sqlite, Default::default(), (100, 100), 100)
                    .expect("accounts");
            let timing = Timing {
                page: 2,
                // Run by the tests themselves, or at the task's start.
                resync: Duration::from_secs(3600),
                gap_wait,
                revocation: Duration::from_millis(1000),
            };
            let cluster = Cluster::new(
                hub.clone(),
                store.clone(),
                None,
                Arc::new(accounts),
                metrics.clone(),
                0,
                timing,
            );
            Self {
                _dir: dir,
                store,
                sunk,
                events,
                metrics,
                alice: subscription,
                alice_id: alice.id,
                conversation: c.id,
                cluster: Some(cluster),
            }
        }

        /// Alice sends `body`; its event, as the sink gave it.
        async fn send(&mut self, body: &str) -> Vec<Event> {
            self.store
                .append_message(NewMessage::text(self.conversation, self.alice_id, body))
                .await
                .expect("send");
            std::iter::from_fn(|| self.sunk.try_recv().ok())
                .flatten()
                .collect()
        }

        fn counted(&self, name: &str) -> u64 {
            self.metrics
                .render()
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<u64>().ok())
                .unwrap_or(u64::MAX)
        }

        /// Runs the cluster task, taken from the fixture, fed by the two
        /// senders returned: this node's sink and the bus. The task ends
        /// when the first is dropped.
        #[allow(clippy::type_complexity)]
        fn run(
            &mut self,
        ) -> (
            mpsc::UnboundedSender<Vec<Event>>,
            mpsc::Sender<Inbound>,
            tokio::task::JoinHandle<()>,
        ) {
            let cluster = self.cluster.take().expect("run once");
            let (local, local_rx) = mpsc::unbounded_channel();
            let (bus, bus_rx) = mpsc::channel(8);
            (local, bus, tokio::spawn(cluster.run(local_rx, bus_rx)))
        }
    }

    /// Whatever order and however often events arrive (late, early, twice,
    /// never), a subscriber gets each once, in id order: gaps are read from
    /// the database, a lost last event by the resync.
    #[tokio::test]
    async fn events_reach_subscribers_once_in_order_whatever_the_bus_does() {
        let mut f = Fixture::new(Duration::ZERO).await;
        let all = f.events.clone();
        let mut cluster = f.cluster.take().expect("cluster");
        // The first two in order, then the fifth before the rest: a gap,
        // read from the database (in pages of two) up to its newest.
        cluster.offer(all[..2].to_vec()).await;
        assert_eq!(ids(&mut f.alice.rx), vec![1, 2]);
        cluster.offer(vec![all[4].clone()]).await;
        assert_eq!(ids(&mut f.alice.rx), vec![3, 4, 5, 6, 7]);
        // Late and repeated ones change nothing.
        cluster
            .offer(vec![all[2].clone(), all[3].clone(), all[4].clone()])
            .await;
        cluster.offer(all.clone()).await;
        assert!(ids(&mut f.alice.rx).is_empty());
        // The next in line goes out at once, without a read.
        let next = f.send("next").await;
        cluster.offer(next).await;
        assert_eq!(ids(&mut f.alice.rx), vec![8]);
        assert_eq!(f.counted("kaifang_bus_gap_rereads_total"), 1);
        // A commit whose bus message never comes: the resync finds it.
        f.send("lost").await;
        cluster.resync().await;
        assert_eq!(ids(&mut f.alice.rx), vec![9]);
        assert_eq!(f.counted("kaifang_bus_resync_rereads_total"), 1);
        cluster.resync().await;
        assert!(ids(&mut f.alice.rx).is_empty());
    }

    /// Receives `n` frames from `rx`, waiting at most ten seconds in all.
    async fn receive(rx: &mut mpsc::Receiver<Frame>, n: usize) -> Vec<i64> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while got.len() < n {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(frame)) => got.push(frame.id),
                _ => break,
            }
        }
        got
    }

    /// With several nodes writing, a node's own commit usually comes before
    /// the other node's commit just before it, which is still on the bus. A
    /// gap the bus closes within `bus.gap_wait_ms` costs no database read;
    /// one it leaves open is read once that wait is over, not before.
    #[tokio::test]
    async fn a_gap_is_read_only_when_the_bus_has_not_closed_it_in_time() {
        // The bus closes the gap; the wait is far longer than the test.
        let mut f = Fixture::new(Duration::from_secs(3600)).await;
        let (local, bus, running) = f.run();
        // The task's first resync delivers the seven events there are.
        assert_eq!(receive(&mut f.alice.rx, 7).await, vec![1, 2, 3, 4, 5, 6, 7]);
        let mut new = Vec::new();
        for body in ["a", "b", "c"] {
            new.extend(f.send(body).await);
        }
        // Its own commit, the tenth event, comes first; the other node's,
        // the eighth and ninth, then come through the bus.
        local.send(new[2..].to_vec()).expect("local");
        bus.send(Inbound::Events(new[..2].to_vec()))
            .await
            .expect("bus");
        assert_eq!(receive(&mut f.alice.rx, 3).await, vec![8, 9, 10]);
        drop(local);
        running.await.expect("cluster task");
        assert_eq!(
            f.counted("kaifang_bus_gap_rereads_total"),
            0,
            "the gap closed without a read"
        );

        // The bus never brings the eighth and ninth: read after the wait.
        let wait = Duration::from_millis(200);
        let mut f = Fixture::new(wait).await;
        let (local, _bus, running) = f.run();
        assert_eq!(receive(&mut f.alice.rx, 7).await, vec![1, 2, 3, 4, 5, 6, 7]);
        let mut new = Vec::new();
        for body in ["a", "b", "c"] {
            new.extend(f.send(body).await);
        }
        let offered = tokio::time::Instant::now();
        local.send(new[2..].to_vec()).expect("local");
        assert_eq!(receive(&mut f.alice.rx, 1).await, vec![8]);
        assert!(offered.elapsed() >= wait, "read after the wait, not before");
        assert_eq!(receive(&mut f.alice.rx, 2).await, vec![9, 10]);
        drop(local);
        running.await.expect("cluster task");
        assert_eq!(f.counted("kaifang_bus_gap_rereads_total"), 1);
    }
}
