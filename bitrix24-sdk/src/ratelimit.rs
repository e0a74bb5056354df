//! Client-side rate limiting: the portal's request bucket and per-method operating budgets.
//!
//! Bitrix24 enforces two independent limits, and the client mirrors both so that it slows
//! down *before* the portal starts refusing calls.
//!
//! # The request bucket ([`RateLimiter`])
//!
//! The portal keeps a leaky bucket per portal and source IP: every HTTP request (a `batch`
//! of up to 50 commands counts as one) adds 1 to a counter that drains at a fixed rate, and
//! a request that finds the counter above the limit is refused with HTTP 503
//! `QUERY_LIMIT_EXCEEDED`. The documentation does not say whether request X or X + 1 is the
//! first one refused, so the client is strict: it never lets more than `burst` requests be
//! "in the bucket" at once.
//!
//! The client keeps the same bucket as a single number, `level`, stamped with the instant it
//! was last brought up to date; before every use it is drained by `drain × elapsed`. A
//! caller that finds `level + 1 <= capacity` sends at once, where the capacity is the
//! portal's burst less one place kept free for network jitter (requests that leave in order
//! can arrive bunched). Otherwise its send time is the
//! instant at which the bucket will have drained enough, `now + (level + 1 − capacity) /
//! drain`, and the unit is *reserved* right away (`level += 1`) before the caller sleeps.
//! Because the level already counts every earlier reservation, each new caller's slot is
//! `1 / drain` after the previous one: callers are served in call order without a queue,
//! and no task needs to wake another. A caller dropped before its slot gives its unit back,
//! so callers arriving afterwards are not delayed by requests that were never sent.
//!
//! Other applications on the same portal and IP share the portal's bucket without sharing
//! ours, so a 503 that slips through anyway is taken as proof that the bucket is full
//! ([`RateLimiter::note_query_limit_exceeded`]): the level is raised to the capacity and every
//! caller on the portal waits for the drain. Clients of one portal share one limiter through
//! [`RateLimiter::shared`].
//!
//! # The operating budget ([`OperatingBudget`])
//!
//! Separately, the portal sums the execution time of each method, per application or
//! webhook, over a sliding ten-minute window of one-minute buckets. Every successful
//! response reports that sum (`time.operating`) and when the oldest bucket will age out
//! (`time.operating_reset_at`). Once the sum passes the limit, further calls of that method
//! (only that one) get HTTP 429 `OPERATION_TIME_LIMIT` until enough buckets have aged out.
//! The client records the reported figures per method, pauses a method whose sum has reached
//! the budget until the reset time, and pauses it after a 429 as well, so that no call is
//! sent just to be refused.

mod bucket;
mod operating;

use std::time::Duration;

pub use bucket::{LimiterStats, RateLimiter};
pub use operating::{MethodBudget, OperatingBudget};

/// The operating-time limit of cloud portals: 480 s per method in a ten-minute window.
const DEFAULT_OPERATING_BUDGET: Duration = Duration::from_secs(480);

/// Client-side limits, matching the portal's plan.
///
/// Bitrix24 refuses requests with HTTP 503 `QUERY_LIMIT_EXCEEDED` when its per-portal leaky
/// bucket overflows: on standard plans the bucket holds 50 requests and drains 2 per second,
/// on Enterprise plans it holds 250 and drains 5 per second. Separately, each method may
/// spend 480 s of execution time in a sliding ten-minute window before further calls of it
/// get HTTP 429 `OPERATION_TIME_LIMIT`.
///
/// The default is [`Limits::standard`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Limits {
    /// `(burst, drain per second)`; `None` disables the bucket.
    bucket: Option<(u32, f64)>,
    operating_budget: Option<Duration>,
}

impl Limits {
    /// Standard plans: bursts of 50 requests, draining at 2 per second, and a 480 s
    /// operating budget per method.
    pub const fn standard() -> Self {
        Self {
            bucket: Some((50, 2.0)),
            operating_budget: Some(DEFAULT_OPERATING_BUDGET),
        }
    }

    /// Enterprise plans: bursts of 250 requests, draining at 5 per second, and a 480 s
    /// operating budget per method.
    pub const fn enterprise() -> Self {
        Self {
            bucket: Some((250, 5.0)),
            operating_budget: Some(DEFAULT_OPERATING_BUDGET),
        }
    }

    /// A bucket of `burst` requests draining at `drain_per_sec` requests per second, with the
    /// usual 480 s operating budget.
    ///
    /// The values are checked when a client is built: `burst` must be at least 1 and
    /// `drain_per_sec` finite and positive.
    pub fn custom(burst: u32, drain_per_sec: f64) -> Self {
        Self {
            bucket: Some((burst, drain_per_sec)),
            operating_budget: Some(DEFAULT_OPERATING_BUDGET),
        }
    }

    /// No client-side limits at all: requests are never delayed in advance, and the client
    /// only reacts to 503 `QUERY_LIMIT_EXCEEDED` and 429 `OPERATION_TIME_LIMIT` replies.
    pub const fn unlimited() -> Self {
        Self {
            bucket: None,
            operating_budget: None,
        }
    }

    /// Replaces the per-method operating budget; `None` disables the proactive pause (a 429
    /// reply still pauses the method).
    #[must_use]
    pub fn with_operating_budget(mut self, budget: Option<Duration>) -> Self {
        self.operating_budget = budget;
        self
    }

    /// How many requests may be sent at once from an empty bucket (`None` when unlimited).
    pub fn burst(&self) -> Option<u32> {
        self.bucket.map(|(burst, _)| burst)
    }

    /// How many requests per second the bucket drains (`None` when unlimited).
    pub fn drain_per_sec(&self) -> Option<f64> {
        self.bucket.map(|(_, drain)| drain)
    }

    /// The per-method operating-time budget (`None` when disabled).
    pub fn operating_budget(&self) -> Option<Duration> {
        self.operating_budget
    }

    /// The shortest time in which `requests` requests can be sent, starting from an empty
    /// bucket: `max(0, requests − burst) / drain`. Zero when unlimited.
    pub fn theoretical_duration(&self, requests: u64) -> Duration {
        let Some((burst, drain)) = self.bucket else {
            return Duration::ZERO;
        };
        let excess = requests.saturating_sub(u64::from(burst));
        if excess == 0 {
            return Duration::ZERO;
        }
        #[expect(
            clippy::cast_precision_loss,
            reason = "request counts stay far below 2^52"
        )]
        let secs = excess as f64 / drain;
        // An invalid drain (zero, negative, NaN) means the requests never all go.
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }

    /// Checks that the bucket can work: `burst >= 1` and a finite, positive drain rate, and
    /// that the operating budget, when set, is not zero.
    pub(crate) fn validate(&self) -> crate::Result<()> {
        if let Some((burst, drain)) = self.bucket {
            if burst == 0 {
                return Err(crate::Error::config(
                    "rate limit burst must be at least 1 request (use Limits::unlimited() to disable the limit)",
                ));
            }
            if !(drain.is_finite() && drain > 0.0) {
                return Err(crate::Error::config(format!(
                    "rate limit drain must be a finite number of requests per second above 0, got {drain}"
                )));
            }
        }
        if self.operating_budget == Some(Duration::ZERO) {
            return Err(crate::Error::config(
                "operating budget must be above zero (use None to disable it)",
            ));
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::standard()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn presets_match_the_documented_numbers() {
        let standard = Limits::standard();
        assert_eq!(standard.burst(), Some(50));
        assert_eq!(standard.drain_per_sec(), Some(2.0));
        assert_eq!(standard.operating_budget(), Some(Duration::from_secs(480)));
        assert_eq!(Limits::default(), standard);

        let enterprise = Limits::enterprise();
        assert_eq!(enterprise.burst(), Some(250));
        assert_eq!(enterprise.drain_per_sec(), Some(5.0));
        assert_eq!(
            enterprise.operating_budget(),
            Some(Duration::from_secs(480))
        );

        let custom = Limits::custom(10, 4.0);
        assert_eq!(
            (custom.burst(), custom.drain_per_sec()),
            (Some(10), Some(4.0))
        );
        assert_eq!(custom.operating_budget(), Some(Duration::from_secs(480)));

        let unlimited = Limits::unlimited();
        assert_eq!((unlimited.burst(), unlimited.drain_per_sec()), (None, None));
        assert_eq!(unlimited.operating_budget(), None);

        let tuned = Limits::standard().with_operating_budget(Some(Duration::from_secs(100)));
        assert_eq!(tuned.operating_budget(), Some(Duration::from_secs(100)));
        assert_eq!(tuned.burst(), Some(50));
        assert_eq!(tuned.with_operating_budget(None).operating_budget(), None);
    }

    #[test]
    fn theoretical_duration_counts_only_requests_beyond_the_burst() {
        assert_eq!(
            Limits::standard().theoretical_duration(200),
            Duration::from_secs(75)
        );
        assert_eq!(Limits::standard().theoretical_duration(50), Duration::ZERO);
        assert_eq!(
            Limits::standard().theoretical_duration(51),
            Duration::from_millis(500)
        );
        assert_eq!(
            Limits::enterprise().theoretical_duration(600),
            Duration::from_secs(70)
        );
        assert_eq!(
            Limits::custom(10, 4.0).theoretical_duration(30),
            Duration::from_secs(5)
        );
        assert_eq!(
            Limits::unlimited().theoretical_duration(1_000_000),
            Duration::ZERO
        );
        assert_eq!(
            Limits::custom(1, 0.0).theoretical_duration(2),
            Duration::MAX
        );
    }

    #[test]
    fn validate_accepts_the_presets() {
        for limits in [
            Limits::standard(),
            Limits::enterprise(),
            Limits::unlimited(),
            Limits::custom(1, 0.1),
            Limits::standard().with_operating_budget(None),
        ] {
            assert!(limits.validate().is_ok(), "{limits:?}");
        }
    }

    #[test]
    fn validate_rejects_unusable_buckets() {
        for limits in [
            Limits::custom(0, 2.0),
            Limits::custom(50, 0.0),
            Limits::custom(50, -1.0),
            Limits::custom(50, f64::NAN),
            Limits::custom(50, f64::INFINITY),
            Limits::standard().with_operating_budget(Some(Duration::ZERO)),
        ] {
            let error = limits
                .validate()
                .expect_err(&format!("{limits:?} must be rejected"));
            assert_eq!(error.kind(), ErrorKind::Config, "{limits:?}");
        }
        let message = Limits::custom(0, 2.0).validate().unwrap_err().to_string();
        assert!(message.contains("burst"), "{message}");
        let message = Limits::custom(5, f64::NAN)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("drain") && message.contains("NaN"),
            "{message}"
        );
    }
}
