//! Receive Bitrix24 events with axum: parse, verify the `application_token`, queue, answer at
//! once, and handle the event off the request path.
//!
//! ```text
//! cargo run -p bitrix24-examples --example event_receiver
//!     # sandbox: binds an outgoing webhook to itself, adds a lead, prints the event, exits
//! BITRIX24_WEBHOOK_URL=… BITRIX24_APPLICATION_TOKEN=<outgoing webhook token> \
//! BITRIX24_EVENTS_ADDR=0.0.0.0:8080 cargo run -p bitrix24-examples --example event_receiver
//!     # your portal: serves until stopped; point the outgoing webhook at http://<host>:8080/events
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Router, extract::State};
use bitrix24::auth::ApplicationToken;
use bitrix24::crm::LeadFields;
use bitrix24::events::axum::VerifiedEvent;
use bitrix24::events::{Event, EventData, EventVerifier, MemoryApplicationTokens};
use tokio::sync::mpsc;

#[derive(Clone)]
struct AppState {
    verifier: EventVerifier,
    queue: mpsc::Sender<Event>,
}

impl axum::extract::FromRef<AppState> for EventVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// Bitrix24 does not retry a delivery: take the event, queue it, answer 200 at once.
async fn on_event(
    State(state): State<AppState>,
    VerifiedEvent(event): VerifiedEvent,
) -> StatusCode {
    match state.queue.send(event).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let portal = bitrix24_examples::connect(0).await?;
    let address = std::env::var("BITRIX24_EVENTS_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    let url = format!("http://{}/events", listener.local_addr()?);

    // Apps register their token on ONAPPINSTALL (use a durable store in production); an
    // outgoing webhook's token is fixed and known in advance.
    let mut verifier = EventVerifier::new(MemoryApplicationTokens::new());
    if let Some(sandbox) = &portal.sandbox {
        verifier = verifier.with_outgoing(sandbox.add_outgoing_webhook("ONCRMLEADADD", &url));
    } else if let Ok(token) = std::env::var("BITRIX24_APPLICATION_TOKEN") {
        verifier = verifier.with_outgoing(ApplicationToken::new(token));
    }
    let (queue, mut inbox) = mpsc::channel(1024);
    let app = Router::new()
        .route("/events", post(on_event))
        .with_state(AppState { verifier, queue });
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("receiving events at {url}");

    if portal.sandbox.is_some() {
        // Make something happen.
        let id = portal
            .client
            .crm()
            .leads()
            .add(LeadFields::new().title("A lead that fires ONCRMLEADADD"))
            .await?;
        println!("added lead {id}");
    }
    loop {
        let next = if portal.sandbox.is_some() {
            tokio::time::timeout(Duration::from_secs(10), inbox.recv())
                .await
                .map_err(|_| "no event within 10 s")?
        } else {
            inbox.recv().await
        };
        let Some(event) = next else { break };
        // The worker side: an event says *what* changed; read the entity for the rest.
        match &event.data {
            EventData::CrmLeadAdd(lead) => {
                let id = lead.id().ok_or("ONCRMLEADADD without an id")?;
                let lead = portal.client.crm().leads().get(id).await?;
                println!(
                    "verified {} for lead {id}: {:?}",
                    event.name,
                    lead.title.as_deref().unwrap_or("")
                );
            }
            other => println!("verified {}: {other:?}", event.name),
        }
        if portal.sandbox.is_some() {
            break;
        }
    }
    Ok(())
}
