//! The connection that batches of plain sends share (see `writer.rs`):
//! each batch's statement leaves without waiting for the answers to the
//! batches before it, and that one connection runs them in the order they
//! left, which is the order of their event ids.
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use deadpool_postgres::{Client, Pool};
use futures_util::FutureExt;

use super::{Failure, Job, send_all};
use crate::postgres::send;
use crate::postgres::write::Events;
use crate::{Error, EventSink};

/// A batch whose commit has ended: its jobs, their events, how it went,
/// and, for a pipelined batch, the connection it used.
pub(super) struct Done {
    pub(super) batch: Vec<Box<dyn Job>>,
    pub(super) events: Vec<Events>,
    pub(super) result: Result<(), Error>,
    pub(super) connection: Option<Arc<Client>>,
}

pub(super) type InFlight = Pin<Box<dyn Future<Output = Done> + Send>>;

/// The connection kept for sends, taken from the pool at the first batch
/// and replaced when the database ends it.
pub(super) struct Pipe {
    pool: Pool,
    connection: Option<Arc<Client>>,
}

impl Pipe {
    pub(super) fn new(pool: Pool) -> Self {
        Self {
            pool,
            connection: None,
        }
    }

    /// Sends the batch's statement and returns the batch's end.
    pub(super) async fn start(&mut self, mut batch: Vec<Box<dyn Job>>) -> InFlight {
        let connection = match self.connection().await {
            Ok(c) => c,
            Err(e) => {
                let events = batch.iter().map(|_| Vec::new()).collect();
                let done = Done {
                    batch,
                    events,
                    result: Err(e),
                    connection: None,
                };
                return Box::pin(std::future::ready(done));
            }
        };
        let end = AssertUnwindSafe(async move {
            let mut events: Vec<Events> = batch.iter().map(|_| Vec::new()).collect();
            let result = send_all(&*connection, &mut batch, &mut events).await;
            Done {
                batch,
                events,
                result,
                connection: Some(connection),
            }
        });
        // A panic ends only its batch, whose callers hear that the writer
        // is gone (their answers are dropped with it); the writer lives on.
        let mut end: InFlight = Box::pin(end.catch_unwind().map(|ended| {
            ended.unwrap_or_else(|_| Done {
                batch: Vec::new(),
                events: Vec::new(),
                result: Err(Error::WriterGone),
                connection: None,
            })
        }));
        // The first poll sends the statement (its prepared form is cached):
        // it leaves now, before any later batch's.
        match futures_util::poll!(end.as_mut()) {
            Poll::Ready(done) => Box::pin(std::future::ready(done)),
            Poll::Pending => end,
        }
    }

    async fn connection(&mut self) -> Result<Arc<Client>, Error> {
        if let Some(c) = &self.connection {
            if !c.is_closed() {
                return Ok(c.clone());
            }
            // Broken under an error that did not say so: a fresh one.
            self.connection = None;
        }
        let client = self.pool.get().await?;
        // Prepared before the first batch, so that no batch's statement
        // waits for a prepare while a later one leaves.
        client.prepare_cached(send::STATEMENT).await?;
        let client = Arc::new(client);
        self.connection = Some(client.clone());
        Ok(client)
    }

    /// Hands an ended batch's events to the sink and answers its callers. A
    /// connection the database dropped is closed, not given back to the
    /// pool (which may not have noticed yet).
    pub(super) fn ended(&mut self, done: Done, sink: &EventSink) {
        let Done {
            mut batch,
            mut events,
            result,
            connection,
        } = done;
        match result {
            Ok(()) => {
                // Sends may have been stored in another order than the
                // batch's (those of one statement before the others); the
                // sink hears the events in id order.
                events.sort_by_key(|e| e.first().map(|e| e.id));
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
                if matches!(e, Error::Unavailable(_)) {
                    self.connection = None;
                    if let Some(Ok(client)) = connection.map(Arc::try_unwrap) {
                        drop(deadpool_postgres::Object::take(client));
                    }
                }
                tracing::warn!(error = %e, writes = batch.len(), "a write batch failed; none of it is committed");
                let failure = Failure::from(e);
                for job in batch.drain(..) {
                    job.answer(Some(failure.error()));
                }
            }
        }
    }
}
