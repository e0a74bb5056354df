//! Counters a client keeps about its own traffic, and the retry hook's event.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::Error;
use crate::retry::RetryClass;

/// A snapshot of a client's counters (shared by all its clones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientMetrics {
    /// HTTP requests sent to the portal (a batch counts once).
    pub requests: u64,
    /// Attempts repeated after a failure.
    pub retries: u64,
    /// HTTP 503 `QUERY_LIMIT_EXCEEDED` replies received.
    pub rate_limited: u64,
    /// HTTP 429 `OPERATION_TIME_LIMIT` replies received.
    pub operating_limited: u64,
    /// Calls that waited for the leaky bucket or a method's operating pause before sending.
    pub throttle_waits: u64,
    /// Total time calls spent in those waits.
    pub throttle_wait: Duration,
    /// OAuth token refreshes carried out.
    pub token_refreshes: u64,
    /// Times the portal moved to a new address.
    pub portal_moves: u64,
}

/// What the retry hook ([`ClientBuilder::on_retry`](crate::ClientBuilder::on_retry)) is told
/// before a failed attempt is repeated.
#[derive(Debug)]
#[non_exhaustive]
pub struct RetryEvent<'a> {
    /// The REST method.
    pub method: &'a str,
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    /// How the failure was classified.
    pub class: RetryClass,
    /// The backoff before the next attempt (the limiter may add to it).
    pub delay: Duration,
    /// The failure.
    pub error: &'a Error,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    operating_limited: AtomicU64,
    throttle_waits: AtomicU64,
    throttle_wait_nanos: AtomicU64,
    token_refreshes: AtomicU64,
    portal_moves: AtomicU64,
}

impl Counters {
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn operating_limited(&self) {
        self.operating_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn throttle_wait(&self, waited: Duration) {
        if !waited.is_zero() {
            self.throttle_waits.fetch_add(1, Ordering::Relaxed);
            let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
            self.throttle_wait_nanos.fetch_add(nanos, Ordering::Relaxed);
        }
    }

    pub(crate) fn token_refresh(&self) {
        self.token_refreshes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn portal_move(&self) {
        self.portal_moves.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ClientMetrics {
        ClientMetrics {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            operating_limited: self.operating_limited.load(Ordering::Relaxed),
            throttle_waits: self.throttle_waits.load(Ordering::Relaxed),
            throttle_wait: Duration::from_nanos(self.throttle_wait_nanos.load(Ordering::Relaxed)),
            token_refreshes: self.token_refreshes.load(Ordering::Relaxed),
            portal_moves: self.portal_moves.load(Ordering::Relaxed),
        }
    }
}
