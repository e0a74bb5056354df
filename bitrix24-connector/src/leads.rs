//! Lead intake: a website's contact form that reaches the CRM exactly once.
//!
//! `POST /leads` validates the form ([`form`]), stores it and its files durably
//! ([`submissions`]) and answers `202 {id}`; the [`DeliveryWorker`] then uploads the files to
//! Disk, creates the lead (`crm.lead.add` with `ORIGIN_ID` = the submission id), attaches the
//! files in a timeline comment and tells the managers' Telegram chat, retrying through portal
//! outages without ever creating a lead twice. `GET /leads/{id}` tells how far it got.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use bitrix24_connector::leads::{IntakeSettings, LeadIntake};
//! use bitrix24_connector::store::Store;
//!
//! let client = bitrix24::Client::from_webhook("https://example.bitrix24.ru/rest/1/secret/")?;
//! let store = Store::open("data/connector.db").await?;
//! let intake = LeadIntake::new(client, store, IntakeSettings::default());
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! intake.serve(listener, std::future::pending()).await?;
//! # Ok(()) }
//! ```

pub mod doctor;
pub mod form;
mod notify;
mod server;
pub mod settings;
pub mod submissions;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;

use bitrix24::Client;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use self::server::IDEMPOTENCY_KEY;
pub use self::settings::{DeliverySettings, IntakeSettings, TelegramNotify};
pub use self::submissions::{DeliveryState, SubmissionStatus, Submissions};
pub use self::worker::DeliveryWorker;
use crate::store::Store;

/// The lead intake: its HTTP routes and its delivery worker over one store.
#[derive(Debug, Clone)]
pub struct LeadIntake {
    client: Client,
    submissions: Submissions,
    settings: Arc<IntakeSettings>,
    wake: Arc<Notify>,
}

impl LeadIntake {
    /// An intake delivering to the portal behind `client`, storing in `store`.
    pub fn new(client: Client, store: Store, settings: IntakeSettings) -> Self {
        let submissions = Submissions::new(store, settings.files_dir.clone());
        Self {
            client,
            submissions,
            settings: Arc::new(settings),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The stored submissions.
    pub fn submissions(&self) -> &Submissions {
        &self.submissions
    }

    /// The settings in use.
    pub fn settings(&self) -> &IntakeSettings {
        &self.settings
    }

    /// The HTTP routes (`/leads`, `/leads/{id}`, `/leads/{id}/retry`, `/healthz`), to mount in
    /// a bigger application. Serve with `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn router(&self) -> axum::Router {
        server::router(server::IntakeState {
            submissions: self.submissions.clone(),
            settings: self.settings.clone(),
            wake: self.wake.clone(),
            limiter: Arc::new(server::IpLimiter::new(self.settings.rate_limit_per_minute)),
        })
    }

    /// The delivery worker; run it with [`DeliveryWorker::run`].
    pub fn worker(&self) -> DeliveryWorker {
        DeliveryWorker::new(
            self.client.clone(),
            self.submissions.clone(),
            self.settings.clone(),
            self.wake.clone(),
        )
    }

    /// Serves the routes on `listener` and runs the worker until `shutdown` resolves.
    ///
    /// # Errors
    /// When the server fails to accept connections.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
        // In a JoinSet the worker is aborted if this future is dropped, so it never outlives
        // the server it belongs to.
        let mut worker = tokio::task::JoinSet::new();
        worker.spawn(self.worker().run(async {
            let _ = worker_stopped.await;
        }));
        let app = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop_worker.send(());
        while worker.join_next().await.is_some() {}
        served
    }
}
