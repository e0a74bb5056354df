//! State shared by the HTTP handlers, the webhook worker and the test-facing handle.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use url::Url;

use super::error::SandboxTelegramError;
use super::state::{State, UserInfo};

/// How the webhook worker retries a delivery the receiver did not accept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub(crate) attempts: u32,
    pub(crate) first_backoff: Duration,
}

#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Bumped after every change, so waiters (long polls, the webhook worker, tests) wake
    /// up instead of polling.
    version: watch::Sender<u64>,
    pub(crate) token: String,
    pub(crate) bot: UserInfo,
    pub(crate) base_url: Url,
    pub(crate) http: reqwest::Client,
    pub(crate) retry: RetryPolicy,
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl Shared {
    pub(crate) fn new(
        token: String,
        bot: UserInfo,
        base_url: Url,
        http: reqwest::Client,
        retry: RetryPolicy,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            state: Mutex::new(State::default()),
            version: watch::Sender::new(0),
            token,
            bot,
            base_url,
            http,
            retry,
            shutdown,
        }
    }

    /// The state, even after a panic elsewhere: a test that panicked while holding the lock
    /// should not turn every later request into a second panic.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `change` under the lock, then wakes every waiter.
    pub(crate) fn modify<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        let result = change(&mut self.lock());
        self.version.send_modify(|v| *v = v.wrapping_add(1));
        result
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Waits until `check` finds what it looks for, re-checking after every change.
    pub(crate) async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: impl FnOnce() -> String,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Result<T, SandboxTelegramError> {
        let mut changes = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changes.borrow_and_update();
            if let Some(found) = check(&self.lock()) {
                return Ok(found);
            }
            tokio::select! {
                result = changes.changed() => if result.is_err() { break },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        Err(SandboxTelegramError::Timeout(timeout, what()))
    }
}
