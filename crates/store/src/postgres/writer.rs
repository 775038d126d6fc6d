//! Group commit: one writer task per process runs every write. Writes that
//! queue up while a transaction commits join the next one (up to
//! `max_batch`), so a burst of sends shares one fsync instead of waiting
//! for one each, one after another.
//!
//! A batch is one transaction holding the write lock (see `mod.rs`); each
//! write in it runs inside its own savepoint, so one write's error (a taken
//! handle, a non-member) undoes only that write and reaches only its
//! caller. Nobody hears back before the commit: then the batch's events go
//! to the sink in id order, and every caller gets its result. A failed
//! commit answers every write of the batch with that failure.
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use deadpool_postgres::{Pool, Transaction};
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};

use super::WRITE_LOCK;
use super::write::Events;
use crate::{Error, EventSink};

pub(super) type WriteFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'c>>;

/// Where a queued write is: waiting, in a batch, or given up by its caller.
const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const GIVEN_UP: u8 = 2;

/// A queued write, type-erased so that one batch holds writes of any result.
trait Job: Send {
    /// Claims the write for a batch; false when its caller stopped waiting.
    fn take(&self) -> bool;
    /// Runs the write in `tx`, keeping its result; true when it succeeded.
    fn run<'c>(
        &'c mut self,
        tx: &'c Transaction<'c>,
        events: &'c mut Events,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>>;
    /// Answers the caller: its own result, or the batch's `failure`.
    fn answer(self: Box<Self>, failure: Option<Error>);
}

struct Call<T, F> {
    work: Option<F>,
    result: Option<Result<T, Error>>,
    reply: oneshot::Sender<Result<T, Error>>,
    state: Arc<AtomicU8>,
}

impl<T, F> Job for Call<T, F>
where
    T: Send,
    F: for<'c> FnOnce(&'c Transaction<'c>, &'c mut Events) -> WriteFuture<'c, T> + Send,
{
    fn take(&self) -> bool {
        self.state
            .compare_exchange(QUEUED, TAKEN, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    fn run<'c>(
        &'c mut self,
        tx: &'c Transaction<'c>,
        events: &'c mut Events,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>> {
        Box::pin(async move {
            let Some(work) = self.work.take() else {
                return false;
            };
            let result = work(tx, events).await;
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn answer(self: Box<Self>, failure: Option<Error>) {
        let result = match (failure, self.result) {
            (Some(e), _) => Err(e),
            (None, Some(result)) => result,
            // It never finished: it panicked.
            (None, None) => Err(Error::WriterGone),
        };
        // The caller may have gone away (a client disconnected): the write
        // is committed all the same.
        let _ = self.reply.send(result);
    }
}

/// The write was not taken into a transaction within the acquire timeout.
#[derive(Debug, thiserror::Error)]
#[error("no turn to write within {0} ms: earlier writes are waiting for the database")]
struct TurnTimeout(u128);

/// This process's queue of writes, and the task that commits them.
pub(super) struct Writer {
    jobs: mpsc::UnboundedSender<Box<dyn Job>>,
    /// Longest wait to be taken into a transaction, as for a pooled
    /// connection: writes stuck behind a database that stopped answering
    /// fail instead of queueing without end.
    acquire_timeout: Duration,
}

impl Writer {
    /// Starts the writer task; it ends (and closes `sink`) once this value
    /// is dropped and the queue is drained.
    pub(super) fn start(
        pool: Pool,
        max_batch: usize,
        acquire_timeout: Duration,
        sink: EventSink,
    ) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(writer_loop(pool, queue, max_batch.max(1), sink));
        Self {
            jobs,
            acquire_timeout,
        }
    }

    /// Queues `work` and waits for its result, known after its batch's
    /// commit. The writer task runs it, so a caller that goes away (a
    /// client disconnecting) cannot stop it between the commit and the sink.
    pub(super) async fn run<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c Transaction<'c>, &'c mut Events) -> WriteFuture<'c, T>
            + Send
            + 'static,
    {
        let state = Arc::new(AtomicU8::new(QUEUED));
        let (reply, mut answer) = oneshot::channel();
        let call = Call {
            work: Some(work),
            result: None,
            reply,
            state: state.clone(),
        };
        self.jobs
            .send(Box::new(call))
            .map_err(|_| Error::WriterGone)?;
        match tokio::time::timeout(self.acquire_timeout, &mut answer).await {
            Ok(answered) => answered.map_err(|_| Error::WriterGone)?,
            Err(_) => {
                // Given up only if no batch took it: once taken, it may
                // commit, and its caller must hear how it ended.
                let given_up = state
                    .compare_exchange(QUEUED, GIVEN_UP, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok();
                if given_up {
                    let ms = self.acquire_timeout.as_millis();
                    return Err(Error::Unavailable(Box::new(TurnTimeout(ms))));
                }
                answer.await.map_err(|_| Error::WriterGone)?
            }
        }
    }
}

async fn writer_loop(
    pool: Pool,
    mut queue: mpsc::UnboundedReceiver<Box<dyn Job>>,
    max_batch: usize,
    sink: EventSink,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    while let Some(first) = queue.recv().await {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            if job.take() {
                batch.push(job);
            }
            if batch.len() < max_batch {
                next = queue.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        let mut events: Vec<Events> = batch.iter().map(|_| Vec::new()).collect();
        match commit_on_a_connection(&pool, &mut batch, &mut events).await {
            Ok(()) => {
                for job_events in events {
                    if !job_events.is_empty() {
                        // The fan-out may be gone during shutdown; the data is safe anyway.
                        let _ = sink.send(job_events);
                    }
                }
                for job in batch.drain(..) {
                    job.answer(None);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, writes = batch.len(), "a write batch failed; none of it is committed");
                let failure = Failure::from(e);
                for job in batch.drain(..) {
                    job.answer(Some(failure.error()));
                }
            }
        }
    }
}

/// [`commit`] on a pooled connection, which is closed rather than reused
/// when the database dropped it (the pool may not have noticed yet, and
/// the next read would fail on it).
async fn commit_on_a_connection(
    pool: &Pool,
    batch: &mut [Box<dyn Job>],
    events: &mut [Events],
) -> Result<(), Error> {
    let mut client = pool.get().await?;
    let result = commit(&mut client, batch, events).await;
    if matches!(result, Err(Error::Unavailable(_))) {
        drop(deadpool_postgres::Object::take(client));
    }
    result
}

/// Runs the batch in one transaction and commits it. `events[i]` receives
/// the events of `batch[i]` (none when it failed). An error here means
/// nothing of the batch is committed.
async fn commit(
    client: &mut deadpool_postgres::Client,
    batch: &mut [Box<dyn Job>],
    events: &mut [Events],
) -> Result<(), Error> {
    let mut tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
        .await?;
    if let ([job], [job_events]) = (&mut *batch, &mut *events) {
        // Alone: no savepoint needed; its failure undoes the transaction.
        if !guarded(job.run(&tx, job_events)).await {
            job_events.clear();
            // A failed rollback only means the connection is broken, and
            // the pool drops it; the caller hears its own error.
            let _ = tx.rollback().await;
            return Ok(());
        }
    } else {
        for (job, job_events) in batch.iter_mut().zip(events.iter_mut()) {
            let savepoint = tx.transaction().await?;
            if guarded(job.run(&savepoint, job_events)).await {
                savepoint.commit().await?;
            } else {
                job_events.clear();
                savepoint.rollback().await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A write that panics counts as failed, and the writer task lives on for
/// the others.
async fn guarded(run: Pin<Box<dyn Future<Output = bool> + Send + '_>>) -> bool {
    AssertUnwindSafe(run).catch_unwind().await.unwrap_or(false)
}

/// A batch's failure, told to each of its callers (an [`Error`] is not
/// `Clone`): the same variant, and the same cause as the source.
struct Failure {
    unavailable: bool,
    cause: Shared,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let (unavailable, cause): (bool, Arc<dyn std::error::Error + Send + Sync>) = match e {
            Error::Unavailable(cause) => (true, Arc::from(cause)),
            Error::Backend(cause) => (false, Arc::from(cause)),
            other => (false, Arc::new(other)),
        };
        Self {
            unavailable,
            cause: Shared(cause),
        }
    }
}

impl Failure {
    fn error(&self) -> Error {
        let cause = Box::new(self.cause.clone());
        if self.unavailable {
            Error::Unavailable(cause)
        } else {
            Error::Backend(cause)
        }
    }
}

#[derive(Debug, Clone)]
struct Shared(Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
