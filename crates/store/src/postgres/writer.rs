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
//!
//! Sends ([`Writer::send`]) are the exception: the sends next to each other
//! in a batch are stored by one statement (`send.rs`), which takes the write
//! lock itself and reports refusals as outcomes, so they need no savepoint.
//! A batch of sends only, none quoting another message or carrying
//! attachments, is that one statement alone, its own transaction: one round
//! trip, commit included.
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use deadpool_postgres::{Pool, Transaction};
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot};

mod pipe;
use pipe::{Done, InFlight, Pipe};

use super::WRITE_LOCK;
use super::send;
use super::write::Events;
use crate::{Error, EventSink, Message, NewMessage};

pub(super) type WriteFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'c>>;

/// Where a queued write is: waiting, in a batch, or given up by its caller.
const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const GIVEN_UP: u8 = 2;

/// A queued write, type-erased so that one batch holds writes of any result.
trait Job: Send {
    /// Claims the write for a batch; false when its caller stopped waiting.
    fn take(&self) -> bool;
    /// The message, when the write is a send (see the module's
    /// documentation).
    fn message(&self) -> Option<&NewMessage> {
        None
    }
    /// Takes a send's message for its batch's statement.
    fn take_message(&mut self) -> Option<NewMessage> {
        None
    }
    /// Keeps a send's result.
    fn sent(&mut self, _result: Result<(Message, bool), Error>) {}
    /// Runs the write in `tx`, keeping its result; true when it succeeded.
    fn run<'c>(
        &'c mut self,
        tx: &'c Transaction<'c>,
        events: &'c mut Events,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>>;
    /// Answers the caller: its own result, or the batch's `failure`.
    fn answer(self: Box<Self>, failure: Option<Error>);
}

/// What every queued write carries: where it is, its result once run, and
/// the way back to its caller.
struct Reply<T> {
    state: Arc<AtomicU8>,
    result: Option<Result<T, Error>>,
    reply: oneshot::Sender<Result<T, Error>>,
}

impl<T> Reply<T> {
    fn take(&self) -> bool {
        self.state
            .compare_exchange(QUEUED, TAKEN, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    fn answer(self, failure: Option<Error>) {
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

struct Call<T, F> {
    work: Option<F>,
    reply: Reply<T>,
}

impl<T, F> Job for Call<T, F>
where
    T: Send,
    F: for<'c> FnOnce(&'c Transaction<'c>, &'c mut Events) -> WriteFuture<'c, T> + Send,
{
    fn take(&self) -> bool {
        self.reply.take()
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
            self.reply.result = Some(result);
            ok
        })
    }

    fn answer(self: Box<Self>, failure: Option<Error>) {
        self.reply.answer(failure);
    }
}

/// A queued send: its message until its batch takes it, then its result.
struct SendCall {
    message: Option<NewMessage>,
    reply: Reply<(Message, bool)>,
}

impl Job for SendCall {
    fn take(&self) -> bool {
        self.reply.take()
    }

    fn message(&self) -> Option<&NewMessage> {
        self.message.as_ref()
    }

    fn take_message(&mut self) -> Option<NewMessage> {
        self.message.take()
    }

    fn sent(&mut self, result: Result<(Message, bool), Error>) {
        self.reply.result = Some(result);
    }

    /// Run like any write: a send with attachments, whose binding can fail
    /// after the message is stored, runs in a savepoint of its own.
    fn run<'c>(
        &'c mut self,
        tx: &'c Transaction<'c>,
        events: &'c mut Events,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>> {
        Box::pin(async move {
            let Some(message) = self.message.take() else {
                return false;
            };
            let result = match send::append_messages(
                tx,
                vec![message],
                std::slice::from_mut(events),
            )
            .await
            {
                Ok(mut results) => results.pop().unwrap_or(Err(Error::WriterGone)),
                Err(e) => Err(e),
            };
            let ok = result.is_ok();
            self.reply.result = Some(result);
            ok
        })
    }

    fn answer(self: Box<Self>, failure: Option<Error>) {
        self.reply.answer(failure);
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
        depth: usize,
        acquire_timeout: Duration,
        sink: EventSink,
    ) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(writer_loop(
            pool,
            queue,
            max_batch.max(1),
            depth.max(1),
            sink,
        ));
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
        let (reply, answer) = oneshot::channel();
        let call = Call {
            work: Some(work),
            reply: Reply {
                state: state.clone(),
                result: None,
                reply,
            },
        };
        self.wait(Box::new(call), state, answer).await
    }

    /// Queues a send and waits for its result, as [`Writer::run`] does.
    pub(super) async fn send(&self, message: NewMessage) -> Result<(Message, bool), Error> {
        let state = Arc::new(AtomicU8::new(QUEUED));
        let (reply, answer) = oneshot::channel();
        let call = SendCall {
            message: Some(message),
            reply: Reply {
                state: state.clone(),
                result: None,
                reply,
            },
        };
        self.wait(Box::new(call), state, answer).await
    }

    async fn wait<T>(
        &self,
        job: Box<dyn Job>,
        state: Arc<AtomicU8>,
        mut answer: oneshot::Receiver<Result<T, Error>>,
    ) -> Result<T, Error> {
        self.jobs.send(job).map_err(|_| Error::WriterGone)?;
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
    depth: usize,
    sink: EventSink,
) {
    let mut pipe = Pipe::new(pool.clone());
    // Batches of sends whose statements have left, in the order they left:
    // the order the database runs them in, and so the order of their ids.
    let mut in_flight: FuturesOrdered<InFlight> = FuturesOrdered::new();
    let mut open = true;
    loop {
        tokio::select! {
            biased;
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                pipe.ended(done, &sink);
            }
            first = queue.recv(), if open && in_flight.len() < depth => {
                let Some(first) = first else {
                    open = false;
                    continue;
                };
                let batch = collect(first, &mut queue, max_batch);
                if batch.is_empty() {
                    continue;
                }
                if plain_sends(&batch) {
                    in_flight.push_back(pipe.start(batch).await);
                    continue;
                }
                // A transaction of its own, after every batch in flight.
                while let Some(done) = in_flight.next().await {
                    pipe.ended(done, &sink);
                }
                let mut batch = batch;
                let mut events: Vec<Events> = batch.iter().map(|_| Vec::new()).collect();
                let result = commit_on_a_connection(&pool, &mut batch, &mut events).await;
                let done = Done { batch, events, result, connection: None };
                pipe.ended(done, &sink);
            }
            else => break,
        }
    }
}

/// Takes the writes waiting, up to `max_batch`, leaving out those whose
/// callers stopped waiting.
fn collect(
    first: Box<dyn Job>,
    queue: &mut mpsc::UnboundedReceiver<Box<dyn Job>>,
    max_batch: usize,
) -> Vec<Box<dyn Job>> {
    let mut batch = Vec::new();
    let mut next = Some(first);
    while let Some(job) = next.take() {
        if job.take() {
            batch.push(job);
        }
        if batch.len() < max_batch {
            next = queue.try_recv().ok();
        }
    }
    batch
}

/// A batch of sends only, none quoting a message or carrying attachments:
/// one statement, its own transaction, and nothing after it can fail (a
/// retry's read of its original fails that send alone).
fn plain_sends(batch: &[Box<dyn Job>]) -> bool {
    batch.iter().all(|job| {
        job.message()
            .is_some_and(|m| m.reply_to.is_none() && m.attachments.is_empty())
    })
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
    if let ([job], [job_events]) = (&mut *batch, &mut *events)
        && job.message().is_none()
    {
        lock(&tx).await?;
        // Alone: no savepoint needed; its failure undoes the transaction.
        if !guarded(job.run(&tx, job_events)).await {
            job_events.clear();
            // A failed rollback only means the connection is broken, and
            // the pool drops it; the caller hears its own error.
            let _ = tx.rollback().await;
            return Ok(());
        }
        tx.commit().await?;
        return Ok(());
    }
    let mut locked = false;
    let mut start = 0;
    while start < batch.len() {
        let sends = batch[start..]
            .iter()
            .take_while(|job| job.message().is_some_and(|m| m.attachments.is_empty()))
            .count();
        if sends > 0 {
            let end = start + sends;
            send_all(&tx, &mut batch[start..end], &mut events[start..end]).await?;
            start = end;
            continue;
        }
        if !locked {
            lock(&tx).await?;
            locked = true;
        }
        let (job, job_events) = (&mut batch[start], &mut events[start]);
        let savepoint = tx.transaction().await?;
        if guarded(job.run(&savepoint, job_events)).await {
            savepoint.commit().await?;
        } else {
            job_events.clear();
            savepoint.rollback().await?;
        }
        start += 1;
    }
    tx.commit().await?;
    Ok(())
}

/// Takes the write lock for the rest of the transaction.
async fn lock(tx: &Transaction<'_>) -> Result<(), Error> {
    super::read::execute(tx, "SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK]).await?;
    Ok(())
}

/// Stores the sends `batch` holds with one statement; their results stay
/// in their jobs. An error means the statement failed, and the batch with it.
async fn send_all<C: deadpool_postgres::GenericClient>(
    c: &C,
    batch: &mut [Box<dyn Job>],
    events: &mut [Events],
) -> Result<(), Error> {
    let messages = batch
        .iter_mut()
        .filter_map(|job| job.take_message())
        .collect();
    let results = send::append_messages(c, messages, events).await?;
    for (job, result) in batch.iter_mut().zip(results) {
        job.sent(result);
    }
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
