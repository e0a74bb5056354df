//! The limiter end to end, on paused time: a mock portal that enforces the real leaky bucket
//! sees no 503, and a 429 on one method does not hold up another.
//!
//! The mock runs on wiremock's own thread, so it reads the test runtime's paused clock through
//! the runtime's `Handle`. Tokio's auto-advance would move the clock while a request is on the
//! (real) wire, bunching arrivals at the mock; so [`VirtualTime`] switches auto-advance off and
//! moves the clock 1 ms at a time, only while every request sent has been answered.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitrix24::{Client, Limits, RetryPolicy};
use futures::future::join_all;
use serde_json::{Value, json};
use tokio::runtime::Handle;
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{api_error, hook_path, hook_url, ok};

/// The portal's leaky bucket: +1 per request, drains `drain` per second, refuses above `burst`.
struct BucketPortal {
    clock: Handle,
    burst: f64,
    drain: f64,
    state: Mutex<(f64, Option<Instant>)>,
    served: AtomicU64,
    refused: AtomicU64,
}

impl BucketPortal {
    fn standard(clock: Handle) -> Self {
        Self {
            clock,
            burst: 50.0,
            drain: 2.0,
            state: Mutex::new((0.0, None)),
            served: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }
}

/// Shares one bucket between the mock and the test's assertions.
struct Shared(Arc<BucketPortal>);

impl Respond for Shared {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let now = {
            let _paused_clock = self.0.clock.enter();
            Instant::now()
        };
        let portal = &self.0;
        let mut state = portal.state.lock().unwrap();
        let (level, last) = &mut *state;
        if let Some(last) = last {
            *level = (*level - now.duration_since(*last).as_secs_f64() * portal.drain).max(0.0);
        }
        *last = Some(now);
        // A millisecond of slack: the paused clock ticks in whole milliseconds.
        if *level + 1.0 > portal.burst + portal.drain * 0.001 {
            portal.refused.fetch_add(1, Ordering::SeqCst);
            return api_error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests");
        }
        *level += 1.0;
        portal.served.fetch_add(1, Ordering::SeqCst);
        ok(json!(true))
    }
}

/// Counts the replies of the mock it wraps.
struct Counted<R> {
    inner: R,
    answered: Arc<AtomicU64>,
}

impl<R: Respond> Respond for Counted<R> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let reply = self.inner.respond(request);
        self.answered.fetch_add(1, Ordering::SeqCst);
        reply
    }
}

fn counted<R: Respond>(inner: R, answered: &Arc<AtomicU64>) -> Counted<R> {
    Counted {
        inner,
        answered: answered.clone(),
    }
}

/// Drives the paused clock: 1 ms at a time, only when no request is in flight.
struct VirtualTime {
    stop: Arc<AtomicBool>,
    driver: tokio::task::JoinHandle<()>,
}

impl VirtualTime {
    /// `answered` counts the replies the mock has sent.
    fn start(client: &Client, answered: Arc<AtomicU64>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let inhibit = stop.clone();
        // A running blocking task keeps tokio from auto-advancing the paused clock.
        let inhibitor = tokio::task::spawn_blocking(move || {
            while !inhibit.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let client = client.clone();
        let running = stop.clone();
        let driver = tokio::spawn(async move {
            while !running.load(Ordering::SeqCst) {
                if client.metrics().requests == answered.load(Ordering::SeqCst) {
                    tokio::time::advance(Duration::from_millis(1)).await;
                } else {
                    // A request is on the wire: wait for it in real time.
                    let _ = tokio::task::spawn_blocking(|| {
                        std::thread::sleep(Duration::from_micros(100));
                    })
                    .await;
                }
            }
            let _ = inhibitor.await;
        });
        Self { stop, driver }
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.driver.await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn two_hundred_calls_fit_the_standard_bucket_without_a_503() {
    let server = MockServer::start().await;
    let portal = Arc::new(BucketPortal::standard(Handle::current()));
    let answered = Arc::default();
    Mock::given(method("POST"))
        .and(path(hook_path("crm.lead.get")))
        .respond_with(counted(Shared(portal.clone()), &answered))
        .mount(&server)
        .await;
    let client = Client::builder()
        .webhook(hook_url(&server))
        .limits(Limits::standard())
        .build()
        .unwrap();
    let time = VirtualTime::start(&client, answered);

    let started = Instant::now();
    let calls = (0..200).map(|id| {
        let client = client.clone();
        async move {
            client
                .call_raw::<bool>("crm.lead.get", json!({ "id": id }))
                .idempotent(true)
                .await
        }
    });
    let results = join_all(calls).await;
    let elapsed = started.elapsed();
    time.stop().await;

    assert!(results.iter().all(Result::is_ok), "every call succeeds");
    assert_eq!(
        portal.refused.load(Ordering::SeqCst),
        0,
        "the portal refused nothing"
    );
    assert_eq!(portal.served.load(Ordering::SeqCst), 200);
    assert_eq!(client.metrics().rate_limited, 0);
    let theory = Limits::standard().theoretical_duration(200);
    assert_eq!(theory, Duration::from_secs(75));
    let ratio = elapsed.as_secs_f64() / theory.as_secs_f64();
    assert!(
        (0.95..=1.05).contains(&ratio),
        "took {elapsed:?}, theory {theory:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn without_the_limiter_the_same_load_is_refused() {
    // The control experiment: proves the mock portal above does enforce the bucket.
    let server = MockServer::start().await;
    let portal = Arc::new(BucketPortal::standard(Handle::current()));
    let answered = Arc::default();
    Mock::given(method("POST"))
        .and(path(hook_path("crm.lead.get")))
        .respond_with(counted(Shared(portal.clone()), &answered))
        .mount(&server)
        .await;
    let client = Client::builder()
        .webhook(hook_url(&server))
        .limits(Limits::unlimited())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let time = VirtualTime::start(&client, answered);
    let calls = (0..60).map(|_| {
        client
            .call_raw::<bool>("crm.lead.get", ())
            .idempotent(true)
            .into_future()
    });
    let results = join_all(calls).await;
    time.stop().await;
    assert_eq!(
        results
            .iter()
            .filter(|r| r.as_ref().is_err_and(bitrix24::Error::is_rate_limited))
            .count(),
        10
    );
}

/// `crm.lead.list` succeeds once (reporting its budget window), then hits its operating
/// limit once, then succeeds again.
struct SpentBudget {
    calls: AtomicU64,
    reset_at: i64,
}

impl Respond for SpentBudget {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        match self.calls.fetch_add(1, Ordering::SeqCst) {
            1 => api_error(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."),
            _ => ResponseTemplate::new(200).set_body_json(json!({
                "result": [],
                "time": { "duration": 0.1, "processing": 0.1, "operating": 479.5, "operating_reset_at": self.reset_at }
            })),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_operating_limit_pauses_only_its_method() {
    let server = MockServer::start().await;
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reset_at = i64::try_from(now_unix).unwrap() + 30;
    let answered = Arc::default();
    let budget = SpentBudget {
        calls: AtomicU64::new(0),
        reset_at,
    };
    Mock::given(method("POST"))
        .and(path(hook_path("crm.lead.list")))
        .respond_with(counted(budget, &answered))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(hook_path("crm.deal.get")))
        .respond_with(counted(ok(json!({})), &answered))
        .mount(&server)
        .await;
    // No proactive budget, so the 429 really arrives and is what pauses the method.
    let client = Client::builder()
        .webhook(hook_url(&server))
        .limits(Limits::unlimited())
        .build()
        .unwrap();
    let time = VirtualTime::start(&client, answered);

    let _: Vec<Value> = client
        .call_raw("crm.lead.list", ())
        .idempotent(true)
        .await
        .unwrap();
    let started = Instant::now();
    let blocked = {
        let client = client.clone();
        tokio::spawn(async move {
            let result = client
                .call_raw::<Vec<Value>>("crm.lead.list", ())
                .idempotent(true)
                .await;
            (result, started.elapsed())
        })
    };
    // Let the blocked call get its 429 first.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..5 {
        let _: Value = client
            .call_raw("crm.deal.get", json!({ "id": 1 }))
            .idempotent(true)
            .await
            .unwrap();
    }
    let others_done = started.elapsed();
    // The paused clock creeps on while replies are processed (more so on a busy machine), so
    // the proof is the order: every other call finished while the paused one still waited.
    let still_paused = !blocked.is_finished();
    let (result, blocked_for) = blocked.await.unwrap();
    time.stop().await;

    result.unwrap();
    assert!(
        still_paused && others_done < Duration::from_secs(25),
        "other methods flowed: {others_done:?}, paused call still waiting: {still_paused}"
    );
    assert!(
        blocked_for >= Duration::from_secs(25),
        "the blocked method waited for its window: {blocked_for:?}"
    );
    assert!(
        blocked_for <= Duration::from_secs(35),
        "and no longer: {blocked_for:?}"
    );
    assert_eq!(client.metrics().operating_limited, 1);
}
