//! When a failed call is sent again, and after how long.
//!
//! The decision is a pure function of what happened ([`RetryClass`]), how many attempts were
//! made, how long the call has run, and whether the method is idempotent. The rule that matters
//! most: a failure that may have happened *after* the portal ran the method (a timeout, a reset
//! connection, a 5xx) is only retried for idempotent methods, so a create is never duplicated.
//! Failures where the portal certainly did not run the method (connection refused, 503
//! `QUERY_LIMIT_EXCEEDED`, 429 `OPERATION_TIME_LIMIT`) are always retried.

use std::time::Duration;

use crate::error::{Error, ErrorCode, ErrorKind};

/// How a failure bears on retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryClass {
    /// Nothing reached the portal (connect or DNS failure): always safe to retry.
    BeforeSend,
    /// HTTP 503 `QUERY_LIMIT_EXCEEDED`: the portal refused the request before running it.
    Throttled,
    /// HTTP 429 `OPERATION_TIME_LIMIT`: the method is paused until its budget recovers.
    MethodBlocked,
    /// The portal may or may not have run the method (timeout or reset after sending, 5xx).
    Ambiguous,
    /// Retrying will not help (validation, permissions, not found, decode errors…).
    Fatal,
}

impl RetryClass {
    /// Classifies an error.
    pub fn of(error: &Error) -> Self {
        match error.kind() {
            ErrorKind::RateLimited => Self::Throttled,
            ErrorKind::OperatingLimit => Self::MethodBlocked,
            ErrorKind::Transport | ErrorKind::Timeout => {
                if error.is_outcome_unknown() {
                    Self::Ambiguous
                } else {
                    Self::BeforeSend
                }
            }
            ErrorKind::Api => match error.api() {
                Some(api) if api.http_status >= 500 => match api.code {
                    // A manual block by support or a deleted portal will not go away soon.
                    ErrorCode::OverloadLimit | ErrorCode::PortalDeleted => Self::Fatal,
                    _ => Self::Ambiguous,
                },
                _ => Self::Fatal,
            },
            _ => Self::Fatal,
        }
    }
}

/// What the policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryDecision {
    /// Send again after this delay (the limiter may add its own wait on top).
    Retry {
        /// Delay before the next attempt.
        after: Duration,
    },
    /// Give up and return the error.
    Stop,
}

/// The state of a call when an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryContext {
    /// Attempts made so far, counting the one that just failed (so at least 1).
    pub attempts: u32,
    /// Time since the call started.
    pub elapsed: Duration,
    /// Whether repeating the method cannot cause a duplicate side effect.
    pub idempotent: bool,
    /// A random number in `[0, 1)` used for jitter; fixed in tests.
    pub jitter: f64,
}

impl RetryContext {
    /// Builds a context.
    pub fn new(attempts: u32, elapsed: Duration, idempotent: bool, jitter: f64) -> Self {
        Self {
            attempts,
            elapsed,
            idempotent,
            jitter,
        }
    }
}

/// Attempt and time limits plus jittered exponential backoff.
///
/// The default ([`RetryPolicy::standard`]) makes up to 8 attempts within 15 minutes, with
/// backoff from 0.5 s doubling to at most 30 s. Fifteen minutes leaves room for one full pause
/// of a method's 10-minute operating window.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    max_attempts: u32,
    max_elapsed: Duration,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::standard()
    }
}

impl RetryPolicy {
    /// 8 attempts, 15 minutes in total, backoff 0.5 s doubling up to 30 s.
    pub fn standard() -> Self {
        Self {
            max_attempts: 8,
            max_elapsed: Duration::from_secs(15 * 60),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }

    /// One attempt, no retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::standard()
        }
    }

    /// Sets the maximum number of attempts, the first included (at least 1).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the time after which no further attempt is started.
    #[must_use]
    pub fn with_max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// Sets the first backoff delay and the cap it doubles up to.
    #[must_use]
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The maximum number of attempts.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The time budget for all attempts.
    pub fn max_elapsed(&self) -> Duration {
        self.max_elapsed
    }

    /// Decides whether to retry after a failure of class `class`.
    pub fn decide(&self, class: RetryClass, context: RetryContext) -> RetryDecision {
        let after = match class {
            RetryClass::Fatal => return RetryDecision::Stop,
            RetryClass::Ambiguous if !context.idempotent => return RetryDecision::Stop,
            // The operating budget pauses the method until its window recovers; waiting
            // again here would only add to that.
            RetryClass::MethodBlocked => Duration::ZERO,
            RetryClass::BeforeSend | RetryClass::Throttled | RetryClass::Ambiguous => {
                self.backoff(context.attempts, context.jitter)
            }
        };
        if context.attempts >= self.max_attempts || context.elapsed + after > self.max_elapsed {
            return RetryDecision::Stop;
        }
        RetryDecision::Retry { after }
    }

    /// Backoff before attempt `attempts + 1`: half of the exponential step fixed, half jittered,
    /// so concurrent callers spread out but none retries at once.
    pub fn backoff(&self, attempts: u32, jitter: f64) -> Duration {
        let exponent = attempts.saturating_sub(1).min(20);
        let step = self
            .initial_backoff
            .saturating_mul(1 << exponent)
            .min(self.max_backoff);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        step / 2 + step.mul_f64(jitter / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    fn api(code: &str, status: u16) -> Error {
        Error::from_api(ApiError::new(code, "", status))
    }

    #[test]
    fn classification_table() {
        let cases = [
            (api("QUERY_LIMIT_EXCEEDED", 503), RetryClass::Throttled),
            (api("OPERATION_TIME_LIMIT", 429), RetryClass::MethodBlocked),
            (api("INTERNAL_SERVER_ERROR", 500), RetryClass::Ambiguous),
            (api("", 502), RetryClass::Ambiguous),
            (api("OVERLOAD_LIMIT", 503), RetryClass::Fatal),
            (api("PORTAL_DELETED", 500), RetryClass::Fatal),
            (api("NO_AUTH_FOUND", 401), RetryClass::Fatal),
            (api("expired_token", 401), RetryClass::Fatal),
            (api("ACCESS_DENIED", 403), RetryClass::Fatal),
            (api("", 400), RetryClass::Fatal),
            (api("ERROR_CORE", 400), RetryClass::Fatal),
            (
                Error::timeout(Duration::from_secs(70)),
                RetryClass::Ambiguous,
            ),
            (Error::decode("bad", None), RetryClass::Fatal),
            (Error::invalid_input("bad"), RetryClass::Fatal),
        ];
        for (error, class) in cases {
            assert_eq!(RetryClass::of(&error), class, "{error:?}");
        }
    }

    fn context(attempts: u32, idempotent: bool) -> RetryContext {
        RetryContext::new(attempts, Duration::from_secs(1), idempotent, 0.0)
    }

    #[test]
    fn decision_table() {
        let policy = RetryPolicy::standard();
        let retry = |after_ms| RetryDecision::Retry {
            after: Duration::from_millis(after_ms),
        };
        let cases = [
            // (class, attempts, idempotent) -> decision
            (RetryClass::BeforeSend, 1, false, retry(250)),
            (RetryClass::BeforeSend, 2, false, retry(500)),
            (RetryClass::Throttled, 1, false, retry(250)),
            (RetryClass::Throttled, 3, true, retry(1000)),
            (RetryClass::MethodBlocked, 1, false, retry(0)),
            (RetryClass::Ambiguous, 1, true, retry(250)),
            (RetryClass::Ambiguous, 1, false, RetryDecision::Stop),
            (RetryClass::Fatal, 1, true, RetryDecision::Stop),
            (RetryClass::BeforeSend, 8, true, RetryDecision::Stop),
            (RetryClass::Throttled, 8, true, RetryDecision::Stop),
        ];
        for (class, attempts, idempotent, expected) in cases {
            assert_eq!(
                policy.decide(class, context(attempts, idempotent)),
                expected,
                "{class:?} #{attempts} idempotent={idempotent}"
            );
        }
    }

    #[test]
    fn time_limit_stops_before_overrunning() {
        let policy = RetryPolicy::standard().with_max_elapsed(Duration::from_secs(10));
        let late = RetryContext::new(2, Duration::from_millis(9_800), true, 0.0);
        assert_eq!(
            policy.decide(RetryClass::BeforeSend, late),
            RetryDecision::Stop
        );
        let early = RetryContext::new(2, Duration::from_secs(9), true, 0.0);
        assert!(matches!(
            policy.decide(RetryClass::BeforeSend, early),
            RetryDecision::Retry { .. }
        ));
    }

    #[test]
    fn backoff_doubles_caps_and_jitters_within_bounds() {
        let policy = RetryPolicy::standard();
        assert_eq!(policy.backoff(1, 0.0), Duration::from_millis(250));
        assert_eq!(policy.backoff(1, 1.0), Duration::from_millis(500));
        assert_eq!(policy.backoff(4, 0.0), Duration::from_secs(2));
        assert_eq!(policy.backoff(30, 1.0), Duration::from_secs(30));
        assert_eq!(policy.backoff(30, 0.0), Duration::from_secs(15));
        assert_eq!(policy.backoff(1, f64::NAN), Duration::from_millis(250));
    }

    #[test]
    fn none_never_retries() {
        let policy = RetryPolicy::none();
        assert_eq!(
            policy.decide(RetryClass::BeforeSend, context(1, true)),
            RetryDecision::Stop
        );
        assert_eq!(
            RetryPolicy::standard().with_max_attempts(0).max_attempts(),
            1
        );
    }
}
