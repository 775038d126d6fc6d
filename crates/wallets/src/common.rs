//! The HTTP plumbing both adapters share: the client, how a transport failure is told, and a body
//! read within a cap.
use std::time::Duration;

use crate::AdapterError;

/// A client with `timeout` per request that follows no redirect: an answer that sends us
/// elsewhere is the provider's mistake or someone else's page, never followed with our
/// signature.
pub(crate) fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// A failed exchange: [`AdapterError::Timeout`] when the time ran out (the trade's state is then
/// unknown until queried), [`AdapterError::Unreachable`] otherwise.
pub(crate) fn transport(e: reqwest::Error) -> AdapterError {
    if e.is_timeout() {
        AdapterError::Timeout
    } else {
        AdapterError::Unreachable
    }
}

/// Reads `response`'s body, refusing one above `cap` bytes: at once when its length is
/// announced, otherwise as soon as the chunks read pass it.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, AdapterError> {
    let too_large = || AdapterError::BadAnswer("the answer is too large".into());
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
