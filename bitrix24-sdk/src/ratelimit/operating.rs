//! Per-method operating-time budgets.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The portal's window: no bucket counted now can still count after this long.
const WINDOW: Duration = Duration::from_secs(600);

/// After a 429 with no usable reset time, one one-minute bucket will have aged out by then.
const FALLBACK_PAUSE: Duration = Duration::from_secs(60);

/// What the client knows about one method's operating time.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct MethodBudget {
    /// The REST method, for example `crm.deal.list`.
    pub method: String,
    /// The last reported `time.operating`: seconds this method ran in the portal's window.
    pub operating: f64,
    /// The last reported `time.operating_reset_at` (unix seconds), when one was seen.
    pub operating_reset_at: Option<i64>,
    /// How much longer calls of this method are held back, if they are.
    pub paused_for: Option<Duration>,
}

/// The per-method operating-time budget of one client (one webhook or application).
///
/// The portal counts operating time per application or webhook, so this is not shared
/// between clients, unlike [`RateLimiter`](super::RateLimiter). Clones share one state.
#[derive(Clone)]
pub struct OperatingBudget {
    inner: Arc<Inner>,
}

struct Inner {
    budget: Option<Duration>,
    methods: Mutex<HashMap<String, MethodState>>,
}

#[derive(Default)]
struct MethodState {
    operating: f64,
    reset_at: Option<i64>,
    paused_until: Option<Instant>,
}

impl MethodState {
    /// Extends the pause to `now + pause`; a shorter pause never cuts a longer one short.
    fn pause(&mut self, now: Instant, pause: Duration) -> Duration {
        let until = now.checked_add(pause).unwrap_or(now + WINDOW);
        let until = self
            .paused_until
            .map_or(until, |current| current.max(until));
        self.paused_until = Some(until);
        until.saturating_duration_since(now)
    }

    /// The time left until the last known reset, if it is still ahead.
    fn until_reset(&self) -> Option<Duration> {
        let reset_at = u64::try_from(self.reset_at?).ok()?;
        let reset = UNIX_EPOCH.checked_add(Duration::from_secs(reset_at))?;
        let left = reset.duration_since(SystemTime::now()).ok()?;
        // A reset beyond the window can only come from a clock that disagrees with the
        // portal's; never wait longer than the window itself.
        Some(left.min(WINDOW))
    }
}

fn jitter() -> Duration {
    // Spreads the restart of many paused callers so that they do not all hit the portal in
    // the same instant.
    Duration::from_secs_f64(fastrand::f64())
}

impl OperatingBudget {
    /// A budget of `budget` operating time per method; `None` only reacts to 429 replies.
    pub fn new(budget: Option<Duration>) -> Self {
        Self {
            inner: Arc::new(Inner {
                budget,
                methods: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn methods(&self) -> MutexGuard<'_, HashMap<String, MethodState>> {
        self.inner
            .methods
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits while `method` is paused. Returns how long it waited.
    ///
    /// Other methods are never held back by this one.
    pub async fn wait_ready(&self, method: &str) -> Duration {
        let start = Instant::now();
        loop {
            let until = {
                let methods = self.methods();
                let now = Instant::now();
                match methods.get(method).and_then(|state| state.paused_until) {
                    Some(until) if until > now => until,
                    _ => return start.elapsed(),
                }
            };
            // The pause may be extended meanwhile (another caller got a 429), so look again.
            tokio::time::sleep_until(until).await;
        }
    }

    /// Records the `time.operating` and `time.operating_reset_at` of a successful response,
    /// or of one command of a `batch`.
    ///
    /// When the budget is set and `operating` has reached it, the next call of the method
    /// would be refused with 429, so the method is paused until `operating_reset_at` (plus
    /// up to a second of jitter), or for 60 s when that time is unknown or already past.
    pub fn record(&self, method: &str, operating: Option<f64>, operating_reset_at: Option<i64>) {
        let mut methods = self.methods();
        let state = methods.entry(method.to_owned()).or_default();
        if let Some(operating) = operating.filter(|operating| operating.is_finite()) {
            state.operating = operating;
        }
        if operating_reset_at.is_some() {
            state.reset_at = operating_reset_at;
        }
        let Some(budget) = self.inner.budget else {
            return;
        };
        if operating.is_some() && state.operating >= budget.as_secs_f64() {
            let pause = state.until_reset().unwrap_or(FALLBACK_PAUSE) + jitter();
            let paused_for = state.pause(Instant::now(), pause);
            tracing::debug!(
                method,
                operating = state.operating,
                budget = budget.as_secs_f64(),
                ?paused_for,
                "operating budget spent; pausing the method"
            );
        }
    }

    /// Reports that the portal answered 429 `OPERATION_TIME_LIMIT` for `method`, and pauses
    /// that method (only that one) until its last known reset time if that is still ahead,
    /// or for 60 s otherwise, plus up to a second of jitter. Returns how long the method is
    /// now paused for.
    pub fn note_limit_exceeded(&self, method: &str) -> Duration {
        let mut methods = self.methods();
        let state = methods.entry(method.to_owned()).or_default();
        let pause = state.until_reset().unwrap_or(FALLBACK_PAUSE) + jitter();
        let paused_for = state.pause(Instant::now(), pause);
        tracing::debug!(
            method,
            ?paused_for,
            "operating-time limit reached; pausing the method"
        );
        paused_for
    }

    /// Every method seen so far, by name, with what is known of its operating time.
    pub fn snapshot(&self) -> Vec<MethodBudget> {
        let methods = self.methods();
        let now = Instant::now();
        let mut snapshot: Vec<_> = methods
            .iter()
            .map(|(method, state)| MethodBudget {
                method: method.clone(),
                operating: state.operating,
                operating_reset_at: state.reset_at,
                paused_for: state
                    .paused_until
                    .filter(|until| *until > now)
                    .map(|until| until.saturating_duration_since(now)),
            })
            .collect();
        drop(methods);
        snapshot.sort_unstable_by(|a, b| a.method.cmp(&b.method));
        snapshot
    }
}

impl fmt::Debug for OperatingBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = Instant::now();
        let methods = self.methods();
        let paused = methods
            .values()
            .filter(|state| state.paused_until.is_some_and(|until| until > now))
            .count();
        f.debug_struct("OperatingBudget")
            .field("budget", &self.inner.budget)
            .field("methods", &methods.len())
            .field("paused", &paused)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix_now() -> i64 {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        i64::try_from(since.as_secs()).unwrap()
    }

    fn secs(duration: Duration) -> f64 {
        duration.as_secs_f64()
    }

    /// The wall clock keeps running under paused tokio time, and `reset_at` is whole
    /// seconds, so a pause "until now + n" lasts between n − 1 and n + 1 seconds.
    fn assert_about(duration: Duration, expected_secs: f64) {
        let actual = secs(duration);
        assert!(
            actual > expected_secs - 1.0 && actual < expected_secs + 1.01,
            "{actual} s is not about {expected_secs} s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_only_that_method_until_its_reset() {
        let budget = OperatingBudget::new(Some(Duration::from_secs(480)));
        budget.record("crm.deal.list", Some(470.0), Some(unix_now() + 30));
        budget.record("crm.lead.get", Some(1.0), Some(unix_now() + 30));
        assert_eq!(budget.wait_ready("crm.deal.list").await, Duration::ZERO);

        let paused = budget.note_limit_exceeded("crm.deal.list");
        assert_about(paused, 30.0);
        let start = Instant::now();
        assert_eq!(budget.wait_ready("crm.lead.get").await, Duration::ZERO);
        assert_eq!(budget.wait_ready("tasks.task.list").await, Duration::ZERO);
        assert_eq!(start.elapsed(), Duration::ZERO);

        // Paused tokio time moves in whole milliseconds.
        let waited = budget.wait_ready("crm.deal.list").await;
        assert!(
            waited >= paused && waited.saturating_sub(paused) <= Duration::from_millis(1),
            "{waited:?}"
        );
        assert_eq!(start.elapsed(), waited);
        assert_eq!(budget.wait_ready("crm.deal.list").await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_without_a_usable_reset_time_pauses_for_a_minute() {
        let budget = OperatingBudget::new(Some(Duration::from_secs(480)));
        assert_about(budget.note_limit_exceeded("crm.item.list"), 60.5);

        budget.record("crm.deal.list", Some(100.0), Some(unix_now() - 5));
        let paused = budget.note_limit_exceeded("crm.deal.list");
        assert_about(paused, 60.5);
        let waited = budget.wait_ready("crm.deal.list").await;
        assert!(
            waited >= paused && waited.saturating_sub(paused) <= Duration::from_millis(1),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reaching_the_budget_pauses_the_method_before_any_429() {
        let budget = OperatingBudget::new(Some(Duration::from_secs(480)));
        budget.record("crm.deal.list", Some(479.9), Some(unix_now() + 20));
        assert_eq!(budget.wait_ready("crm.deal.list").await, Duration::ZERO);

        budget.record("crm.deal.list", Some(480.2), Some(unix_now() + 20));
        budget.record("crm.lead.list", Some(12.0), Some(unix_now() + 20));
        assert_eq!(budget.wait_ready("crm.lead.list").await, Duration::ZERO);
        assert_about(budget.wait_ready("crm.deal.list").await, 20.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_budget_without_a_reset_time_pauses_for_a_minute() {
        let budget = OperatingBudget::new(Some(Duration::from_secs(100)));
        budget.record("disk.folder.getchildren", Some(150.0), None);
        assert_about(budget.wait_ready("disk.folder.getchildren").await, 60.5);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_budget_only_429_pauses() {
        let budget = OperatingBudget::new(None);
        budget.record("crm.deal.list", Some(10_000.0), Some(unix_now() + 30));
        assert_eq!(budget.wait_ready("crm.deal.list").await, Duration::ZERO);
        assert_about(budget.note_limit_exceeded("crm.deal.list"), 30.0);
        assert!(budget.wait_ready("crm.deal.list").await > Duration::from_secs(28));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_far_in_the_future_is_capped_at_the_window() {
        let budget = OperatingBudget::new(Some(Duration::from_secs(480)));
        budget.record("crm.deal.list", Some(500.0), Some(unix_now() + 86_400));
        let waited = budget.wait_ready("crm.deal.list").await;
        assert!(
            waited >= WINDOW && waited <= WINDOW + Duration::from_secs(1),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_pause_does_not_cut_a_longer_one() {
        let budget = OperatingBudget::new(Some(Duration::from_secs(480)));
        budget.record("crm.deal.list", Some(100.0), Some(unix_now() + 300));
        let long = budget.note_limit_exceeded("crm.deal.list");
        budget.record("crm.deal.list", Some(490.0), Some(unix_now() + 10));
        let again = budget.note_limit_exceeded("crm.deal.list");
        assert_eq!(again, long);
        assert_about(budget.wait_ready("crm.deal.list").await, 300.0);
    }

    #[tokio::test(start_paused = true)]
    async fn snapshot_lists_every_method_seen() {
        let budget = OperatingBudget::new(Some(Duration::from_secs(480)));
        let reset = unix_now() + 40;
        budget.record("user.get", Some(0.5), Some(reset));
        budget.record("crm.deal.list", Some(481.0), Some(reset));
        budget.record("crm.deal.list", None, None);
        budget.note_limit_exceeded("batch");

        let snapshot = budget.snapshot();
        let names: Vec<_> = snapshot.iter().map(|entry| entry.method.as_str()).collect();
        assert_eq!(names, ["batch", "crm.deal.list", "user.get"]);

        assert!(snapshot[0].operating.abs() < f64::EPSILON);
        assert_eq!(snapshot[0].operating_reset_at, None);
        assert_about(snapshot[0].paused_for.unwrap(), 60.5);

        assert!((snapshot[1].operating - 481.0).abs() < f64::EPSILON);
        assert_eq!(snapshot[1].operating_reset_at, Some(reset));
        assert_about(snapshot[1].paused_for.unwrap(), 40.0);

        assert_eq!(
            snapshot[2],
            MethodBudget {
                method: "user.get".into(),
                operating: 0.5,
                operating_reset_at: Some(reset),
                paused_for: None,
            }
        );

        tokio::time::advance(Duration::from_secs(62)).await;
        assert!(
            budget
                .snapshot()
                .iter()
                .all(|entry| entry.paused_for.is_none())
        );
        let text = format!("{budget:?}");
        assert!(
            text.contains("methods: 3") && text.contains("paused: 0"),
            "{text}"
        );
    }
}
