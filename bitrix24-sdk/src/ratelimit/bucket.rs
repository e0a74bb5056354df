//! The client-side mirror of the portal's leaky bucket.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::Limits;

/// Live limiters by portal key. Weak, so that a portal's limiter goes away with its last
/// client instead of living for the whole process.
static REGISTRY: LazyLock<Mutex<HashMap<String, Weak<Shared>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn registry() -> MutexGuard<'static, HashMap<String, Weak<Shared>>> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counters of a [`RateLimiter`], for monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct LimiterStats {
    /// Requests let through by [`RateLimiter::acquire`].
    pub acquired: u64,
    /// How many of those had to wait for the bucket to drain.
    pub waited: u64,
    /// The sum of all those waits.
    pub total_wait: Duration,
    /// How many 503 `QUERY_LIMIT_EXCEEDED` replies were reported through
    /// [`RateLimiter::note_query_limit_exceeded`].
    pub overflows_reported: u64,
}

/// The client-side mirror of the portal's leaky bucket (see the [module docs](super)).
///
/// Clones share one state: every clone waits in the same line.
#[derive(Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    /// The registry key, for limiters made by [`RateLimiter::shared`].
    key: Option<String>,
    state: Mutex<State>,
    warned_limits_change: AtomicBool,
}

struct State {
    limits: Limits,
    /// Estimated fill at `updated`, including reserved units whose slot is still ahead.
    level: f64,
    updated: Instant,
    stats: LimiterStats,
}

impl State {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            level: 0.0,
            updated: Instant::now(),
            stats: LimiterStats::default(),
        }
    }

    /// `(capacity, drain)` when the bucket is on. Unusable values (which `Limits::validate`
    /// keeps out of clients) turn it off rather than blocking callers forever.
    ///
    /// The capacity keeps one place of the portal's burst free. The portal counts a request
    /// when it *arrives*: requests that left here in order can arrive bunched (a new
    /// connection takes longer than a reused one), so the portal may have drained a little
    /// less than this mirror assumes. One spare place absorbs up to one drain interval of
    /// such jitter, at the price of one request of the initial burst.
    fn bucket(&self) -> Option<(f64, f64)> {
        let burst = self.limits.burst()?;
        let drain = self.limits.drain_per_sec()?;
        let capacity = if burst >= 2 { burst - 1 } else { burst };
        (burst >= 1 && drain.is_finite() && drain > 0.0).then_some((f64::from(capacity), drain))
    }

    /// Brings `level` up to `now` and returns `(burst, drain)` when the bucket is on.
    fn drain_to(&mut self, now: Instant) -> Option<(f64, f64)> {
        let Some((burst, drain)) = self.bucket() else {
            self.level = 0.0;
            self.updated = now;
            return None;
        };
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.level = (self.level - drain * elapsed).max(0.0);
        self.updated = self.updated.max(now);
        Some((burst, drain))
    }

    fn lock(shared: &Shared) -> MutexGuard<'_, Self> {
        shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(key) = &self.key {
            let mut registry = registry();
            // A new limiter for the same portal may already have taken the entry.
            if registry
                .get(key)
                .is_some_and(|weak| weak.strong_count() == 0)
            {
                registry.remove(key);
            }
        }
    }
}

/// Gives a reserved unit back if the caller stops waiting before its slot.
struct Reservation<'a> {
    shared: &'a Shared,
    armed: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = State::lock(self.shared);
            state.drain_to(Instant::now());
            state.level = (state.level - 1.0).max(0.0);
        }
    }
}

impl RateLimiter {
    /// A limiter of its own, shared only with its clones.
    pub fn new(limits: Limits) -> Self {
        Self {
            shared: Arc::new(Self::make_shared(None, limits)),
        }
    }

    fn make_shared(key: Option<String>, limits: Limits) -> Shared {
        Shared {
            key,
            state: Mutex::new(State::new(limits)),
            warned_limits_change: AtomicBool::new(false),
        }
    }

    /// The process-wide limiter of one portal, shared by every client of that portal.
    ///
    /// `portal_key` identifies the portal, as `host:port`. The portal counts requests per
    /// portal, not per webhook or application, so all clients of a portal must wait in the
    /// same line. The limiter lives as long as some clone of it does; the next call after
    /// that starts from an empty bucket.
    ///
    /// If a live limiter for the portal has other limits, it is kept (its level and waiters
    /// stay) and its limits are replaced by `limits`.
    pub fn shared(portal_key: &str, limits: Limits) -> Self {
        let mut registry = registry();
        if let Some(shared) = registry.get(portal_key).and_then(Weak::upgrade) {
            let limiter = Self { shared };
            limiter.replace_limits(limits);
            return limiter;
        }
        let shared = Arc::new(Self::make_shared(Some(portal_key.to_owned()), limits));
        registry.insert(portal_key.to_owned(), Arc::downgrade(&shared));
        Self { shared }
    }

    fn replace_limits(&self, limits: Limits) {
        let mut state = State::lock(&self.shared);
        if state.limits == limits {
            return;
        }
        // Settle the level under the old rate before the new rate applies.
        state.drain_to(Instant::now());
        let old = state.limits;
        state.limits = limits;
        drop(state);
        let portal = self.shared.key.as_deref().unwrap_or_default();
        if self
            .shared
            .warned_limits_change
            .swap(true, Ordering::Relaxed)
        {
            tracing::debug!(portal, ?old, new = ?limits, "rate limits of the portal replaced");
        } else {
            tracing::warn!(
                portal,
                ?old,
                new = ?limits,
                "clients of the same portal were built with different rate limits; the latest ones apply to all of them"
            );
        }
    }

    /// Waits until one more request can be sent without overflowing the portal's bucket,
    /// and takes its place in the bucket. Returns how long it waited.
    ///
    /// Callers are served in the order they called. Dropping the future before it completes
    /// gives the place back. With [`Limits::unlimited`] it returns at once.
    pub async fn acquire(&self) -> Duration {
        let start = Instant::now();
        let slot = {
            let mut state = State::lock(&self.shared);
            let now = Instant::now();
            let slot = state.drain_to(now).and_then(|(burst, drain)| {
                let overflow = state.level + 1.0 - burst;
                state.level += 1.0;
                (overflow > 0.0).then(|| {
                    let wait = round_up_to_micros(overflow / drain);
                    now.checked_add(wait).unwrap_or(now + FAR_FUTURE)
                })
            });
            if slot.is_none() {
                state.stats.acquired += 1;
            }
            slot
        };
        let Some(slot) = slot else {
            return Duration::ZERO;
        };

        let mut reservation = Reservation {
            shared: &self.shared,
            armed: true,
        };
        tokio::time::sleep_until(slot).await;
        reservation.armed = false;

        let waited = start.elapsed();
        let mut state = State::lock(&self.shared);
        state.stats.acquired += 1;
        state.stats.waited += 1;
        state.stats.total_wait = state.stats.total_wait.saturating_add(waited);
        waited
    }

    /// Reports that the portal answered 503 `QUERY_LIMIT_EXCEEDED`.
    ///
    /// The portal's bucket is shared with every other application calling it from the same
    /// IP, so it can be full even when ours is not: the bucket is taken to be full now, and
    /// every caller on this portal waits for it to drain.
    pub fn note_query_limit_exceeded(&self) {
        let mut state = State::lock(&self.shared);
        if let Some((burst, _)) = state.drain_to(Instant::now()) {
            state.level = state.level.max(burst);
        }
        state.stats.overflows_reported += 1;
    }

    /// The estimated fill of the bucket now, counting requests that are waiting for their
    /// turn. Zero when unlimited.
    pub fn level(&self) -> f64 {
        let mut state = State::lock(&self.shared);
        state.drain_to(Instant::now());
        state.level
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        State::lock(&self.shared).limits
    }

    /// Counters since the limiter was created.
    pub fn stats(&self) -> LimiterStats {
        State::lock(&self.shared).stats
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limits", &self.limits())
            .field("level", &self.level())
            .finish()
    }
}

/// Stands in for "never" when a wait does not fit an `Instant`.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365);

/// Rounding the slot up keeps float error from ever putting a request a hair early.
fn round_up_to_micros(secs: f64) -> Duration {
    let micros = (secs * 1e6).ceil();
    if micros.is_nan() || micros <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(micros / 1e6).unwrap_or(FAR_FUTURE)
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::Poll;

    use super::*;

    /// An independent model of the portal's bucket, in exact integer arithmetic: the counter
    /// is kept as the time the bucket needs to empty, each request adds `1 / drain` seconds
    /// of it, and a request is refused when the counter would then exceed `burst` requests.
    /// Returns the index (in send order) of the first request the portal would refuse.
    fn first_refused(burst: u32, drain_per_sec: u64, mut sends: Vec<Duration>) -> Option<usize> {
        assert_eq!(
            1_000_000_000 % drain_per_sec,
            0,
            "the model needs a whole number of ns per unit"
        );
        let unit = 1_000_000_000 / u128::from(drain_per_sec);
        let capacity = unit * u128::from(burst);
        sends.sort();
        let mut counter = 0u128;
        let mut last = Duration::ZERO;
        for (index, sent) in sends.into_iter().enumerate() {
            counter = counter.saturating_sub(sent.saturating_sub(last).as_nanos());
            last = sent;
            counter += unit;
            if counter > capacity {
                return Some(index);
            }
        }
        None
    }

    #[test]
    fn the_portal_model_refuses_what_the_portal_would() {
        let at = Duration::from_millis;
        assert_eq!(first_refused(50, 2, vec![at(0); 50]), None);
        assert_eq!(first_refused(50, 2, vec![at(0); 51]), Some(50));
        let mut sends = vec![at(0); 50];
        sends.push(at(499));
        assert_eq!(first_refused(50, 2, sends.clone()), Some(50));
        sends[50] = at(500);
        assert_eq!(first_refused(50, 2, sends), None);
    }

    /// Sends `count` requests at once through a fresh limiter and returns when each went,
    /// measured from the start.
    async fn send_all(limiter: &RateLimiter, count: usize) -> Vec<Duration> {
        let start = Instant::now();
        let tasks: Vec<_> = (0..count)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    limiter.acquire().await;
                    start.elapsed()
                })
            })
            .collect();
        let mut sends = Vec::with_capacity(count);
        for task in tasks {
            sends.push(task.await.unwrap());
        }
        sends
    }

    async fn check_burst_then_drain(limits: Limits, count: usize, drain_per_sec: u64) {
        let burst = limits.burst().unwrap();
        let limiter = RateLimiter::new(limits);
        let sends = send_all(&limiter, count).await;

        assert_eq!(
            first_refused(burst, drain_per_sec, sends.clone()),
            None,
            "{limits:?}"
        );
        // One place of the burst is kept free for network jitter.
        let capacity = burst as usize - 1;
        let at_once = sends.iter().filter(|sent| sent.is_zero()).count();
        assert_eq!(at_once, capacity, "{limits:?}");

        let theoretical = limits.theoretical_duration(count as u64).as_secs_f64();
        let elapsed = sends.iter().max().unwrap().as_secs_f64();
        assert!(
            (elapsed - theoretical).abs() <= theoretical * 0.05,
            "{limits:?}: took {elapsed} s, theory says {theoretical} s"
        );

        let stats = limiter.stats();
        assert_eq!(stats.acquired, count as u64);
        assert_eq!(stats.waited, (count - capacity) as u64);
        assert!(stats.total_wait > Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn standard_limits_send_200_requests_without_a_refusal() {
        check_burst_then_drain(Limits::standard(), 200, 2).await;
    }

    #[tokio::test(start_paused = true)]
    async fn enterprise_limits_send_600_requests_without_a_refusal() {
        check_burst_then_drain(Limits::enterprise(), 600, 5).await;
    }

    #[tokio::test(start_paused = true)]
    async fn custom_limits_send_100_requests_without_a_refusal() {
        check_burst_then_drain(Limits::custom(10, 4.0), 100, 4).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_arriving_later_sees_the_drained_bucket() {
        let limiter = RateLimiter::new(Limits::standard());
        let start = Instant::now();
        let mut sends = send_all(&limiter, 50).await;
        tokio::time::advance(Duration::from_secs(10)).await;
        // 49 went at once and one after half a second (a place is kept free), then 20 drained.
        assert!((limiter.level() - 29.0).abs() < 1e-9, "{}", limiter.level());
        // Exactly 20 more fit at once, the next waits half a second.
        let offset = start.elapsed();
        sends.extend(
            send_all(&limiter, 21)
                .await
                .into_iter()
                .map(|sent| sent + offset),
        );
        assert_eq!(first_refused(50, 2, sends.clone()), None);
        assert_eq!(sends.iter().filter(|sent| **sent == offset).count(), 20);
        assert!(sends.iter().max().unwrap().as_secs_f64() <= 11.001);
    }

    type Pending = Pin<Box<dyn Future<Output = Duration> + Send>>;

    /// Calls `acquire` and polls it once, so that it takes its place in line now.
    async fn start_acquire(limiter: &RateLimiter, start: Instant) -> Pending {
        let limiter = limiter.clone();
        let mut future: Pending = Box::pin(async move {
            limiter.acquire().await;
            start.elapsed()
        });
        let first_poll = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
        assert!(first_poll.is_pending(), "this acquire was expected to wait");
        future
    }

    #[tokio::test(start_paused = true)]
    async fn callers_are_served_in_call_order() {
        let limiter = RateLimiter::new(Limits::custom(1, 1.0));
        let start = Instant::now();
        assert_eq!(limiter.acquire().await, Duration::ZERO);
        let mut waiting = Vec::new();
        for _ in 0..10 {
            waiting.push(start_acquire(&limiter, start).await);
        }
        // Finish them in reverse, so that only the slots fixed at call time can order them.
        let mut sends: Vec<_> = waiting.into_iter().rev().map(tokio::spawn).collect();
        sends.reverse();
        let mut previous = Duration::ZERO;
        for (index, task) in sends.into_iter().enumerate() {
            let sent = task.await.unwrap();
            assert!(
                sent > previous,
                "caller {index} went at {sent:?}, after {previous:?}"
            );
            let slot = Duration::from_secs(index as u64 + 1);
            assert!(
                sent >= slot && sent.saturating_sub(slot) <= Duration::from_millis(2),
                "caller {index}: {sent:?}"
            );
            previous = sent;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_waiters_give_their_place_back() {
        let limiter = RateLimiter::new(Limits::custom(1, 1.0));
        let start = Instant::now();
        limiter.acquire().await;
        // Slots at 1, 2, 3, 4 and 5 s.
        let mut waiting = Vec::new();
        for _ in 0..5 {
            waiting.push(start_acquire(&limiter, start).await);
        }
        tokio::time::advance(Duration::from_millis(500)).await;
        let last = waiting.pop().unwrap();
        let first = waiting.remove(0);
        drop(waiting);
        assert!((limiter.level() - 2.5).abs() < 1e-6, "{}", limiter.level());

        // Without the three dropped reservations the newcomer would wait until 6 s.
        let newcomer = start_acquire(&limiter, start).await;
        let tasks = [first, last, newcomer].map(tokio::spawn);
        let mut sends = vec![Duration::ZERO];
        for task in tasks {
            sends.push(task.await.unwrap());
        }
        let newcomer_sent = sends[3].as_secs_f64();
        assert!(
            (3.0..3.01).contains(&newcomer_sent),
            "newcomer went at {newcomer_sent} s"
        );
        assert_eq!(first_refused(1, 1, sends), None);
        assert_eq!(limiter.stats().acquired, 4);

        // Once every waiter is gone, the bucket holds only what was sent.
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(limiter.acquire().await, Duration::ZERO);
        for _ in 0..3 {
            drop(start_acquire(&limiter, start).await);
        }
        assert!((limiter.level() - 1.0).abs() < 1e-6, "{}", limiter.level());
        let waited = limiter.acquire().await;
        assert!(
            waited >= Duration::from_secs(1) && waited <= Duration::from_millis(1_002),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_reported_overflow_makes_the_next_caller_wait_for_the_drain() {
        let limiter = RateLimiter::new(Limits::standard());
        assert_eq!(limiter.acquire().await, Duration::ZERO);
        limiter.note_query_limit_exceeded();
        // Full, as far as this client may fill it.
        assert!((limiter.level() - 49.0).abs() < 1e-9);
        let waited = limiter.acquire().await;
        assert!(
            (Duration::from_millis(500)..=Duration::from_millis(502)).contains(&waited),
            "{waited:?}"
        );
        let stats = limiter.stats();
        assert_eq!(
            (stats.acquired, stats.waited, stats.overflows_reported),
            (2, 1, 1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let limiter = RateLimiter::new(Limits::unlimited());
        let start = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(limiter.acquire().await, Duration::ZERO);
        }
        limiter.note_query_limit_exceeded();
        assert_eq!(limiter.acquire().await, Duration::ZERO);
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(limiter.level().abs() < f64::EPSILON);
        assert_eq!(limiter.stats().acquired, 10_001);
        assert_eq!(limiter.stats().waited, 0);
    }

    fn registered(key: &str) -> bool {
        registry().contains_key(key)
    }

    #[tokio::test(start_paused = true)]
    async fn shared_limiters_are_per_portal_and_go_away_when_unused() {
        let key_a = "ratelimit-test-a.bitrix24.ru:443";
        let key_b = "ratelimit-test-b.bitrix24.ru:443";
        let a1 = RateLimiter::shared(key_a, Limits::standard());
        let a2 = RateLimiter::shared(key_a, Limits::standard());
        let b = RateLimiter::shared(key_b, Limits::standard());
        assert!(Arc::ptr_eq(&a1.shared, &a2.shared));
        assert!(!Arc::ptr_eq(&a1.shared, &b.shared));

        for _ in 0..3 {
            a1.acquire().await;
        }
        a2.acquire().await;
        assert!((a2.level() - 4.0).abs() < 1e-9);
        assert_eq!(a1.stats().acquired, 4);
        assert!(b.level().abs() < 1e-9);

        // A client with other limits changes them for the whole portal.
        let a3 = RateLimiter::shared(key_a, Limits::enterprise());
        assert_eq!(a1.limits(), Limits::enterprise());
        assert!((a3.level() - 4.0).abs() < 1e-9);

        drop((a1, a2));
        assert!(registered(key_a));
        drop(a3);
        assert!(!registered(key_a));
        assert!(registered(key_b));
        let again = RateLimiter::shared(key_a, Limits::standard());
        assert!(again.level().abs() < 1e-9);
        assert_eq!(again.stats(), LimiterStats::default());
        drop((again, b));
        assert!(!registered(key_a) && !registered(key_b));
    }

    #[test]
    fn private_limiters_are_not_registered_and_debug_shows_the_state() {
        let limiter = RateLimiter::new(Limits::custom(3, 1.0));
        let text = format!("{limiter:?}");
        assert!(
            text.contains("RateLimiter") && text.contains("level"),
            "{text}"
        );
        assert!(text.contains("bucket: Some((3, 1.0))"), "{text}");
    }

    #[test]
    fn slots_round_up() {
        assert_eq!(round_up_to_micros(0.5), Duration::from_millis(500));
        assert_eq!(round_up_to_micros(0.000_000_1), Duration::from_micros(1));
        assert_eq!(round_up_to_micros(-1.0), Duration::ZERO);
        assert_eq!(round_up_to_micros(f64::NAN), Duration::ZERO);
        assert_eq!(round_up_to_micros(f64::INFINITY), FAR_FUTURE);
    }
}
