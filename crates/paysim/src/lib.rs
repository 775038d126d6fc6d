//! Local simulators of wallet providers, so that Kaifang's payments are tested against the real wire
//! formats without a public sandbox. Each simulator listens on loopback only, keeps its trades in
//! memory, and speaks its provider's documented protocol: request signatures checked, answers and
//! notifications signed, the buyer's payment page served as HTML.
//!
//! Faults are switched at start or at run time through `PUT /_sim/faults` (see [`Faults`]), so one
//! running simulator serves a whole test: a timeout, a notification sent twice, notifications sent
//! out of order, a bad signature.
#![deny(missing_docs)]

pub mod alipay;
pub mod wechat;

mod args;
mod notify;

use std::sync::{Arc, Mutex, PoisonError};

use axum::{Json, Router, extract::State, routing::get};
use serde::{Deserialize, Serialize};

/// The faults a simulator can be told to commit. All off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Accept requests but answer only after the client has given up (the trade is still created,
    /// so a later query finds it).
    pub timeout: bool,
    /// Send every notification twice.
    pub duplicate: bool,
    /// Hold notifications and send them newest first when the next one is due.
    pub out_of_order: bool,
    /// Sign notifications and answers with a corrupted signature.
    pub bad_signature: bool,
}

/// Faults shared between a simulator's handlers and its control endpoint.
#[derive(Debug, Clone, Default)]
pub struct SharedFaults(Arc<Mutex<Faults>>);

impl SharedFaults {
    /// Starts with `faults`.
    #[must_use]
    pub fn new(faults: Faults) -> Self {
        Self(Arc::new(Mutex::new(faults)))
    }

    /// The faults now in force.
    #[must_use]
    pub fn get(&self) -> Faults {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the faults in force.
    pub fn set(&self, faults: Faults) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = faults;
    }
}

/// `GET` and `PUT /_sim/faults`: read or replace the faults in force.
pub fn control_router(faults: SharedFaults) -> Router {
    async fn read(State(f): State<SharedFaults>) -> Json<Faults> {
        Json(f.get())
    }
    async fn write(State(f): State<SharedFaults>, Json(new): Json<Faults>) -> Json<Faults> {
        f.set(new);
        Json(new)
    }
    Router::new()
        .route("/_sim/faults", get(read).put(write))
        .with_state(faults)
}

/// Now, in seconds since the Unix epoch: the one clock both simulators read.
pub(crate) fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `len` random ASCII letters and digits (nonces, tokens, notification ids).
pub(crate) fn random(len: usize) -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
