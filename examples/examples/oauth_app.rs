//! An OAuth 2.0 Bitrix24 application: an axum install handler keeps each portal's tokens in a
//! JSON file per `member_id`, and the app calls the portal with them; an expired access token
//! is refreshed, and the new pair saved, by the SDK.
//!
//! ```text
//! cargo run -p bitrix24-examples --example oauth_app
//!     # sandbox: installs the app to its own handler, calls the portal as the app, exits
//! BITRIX24_CLIENT_ID=… BITRIX24_CLIENT_SECRET=… BITRIX24_APP_ADDR=0.0.0.0:8080 \
//!     cargo run -p bitrix24-examples --example oauth_app
//!     # your app: serves until stopped; make http(s)://<host>:8080/install the app's install
//!     # handler (a local app's "initial install path"), then install it on a portal
//! ```
//!
//! The tokens go to `./tokens/<member_id>.json` (or `BITRIX24_TOKENS_DIR`). Anyone who can
//! read them can act as the app on that portal: keep the folder private.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use bitrix24::auth::{JsonFileTokenStore, TokenStore};
use bitrix24::crm::LeadFields;
use bitrix24::events::axum::VerifiedEvent;
use bitrix24::events::{EventAuth, EventVerifier, MemoryApplicationTokens};
use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, OAuthApp};
use tokio::sync::mpsc;

#[derive(Clone)]
struct AppState {
    verifier: EventVerifier,
    tokens_dir: PathBuf,
    installed: mpsc::Sender<String>,
}

impl axum::extract::FromRef<AppState> for EventVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// The token store of one portal.
fn store_for(dir: &std::path::Path, member_id: &str) -> JsonFileTokenStore {
    JsonFileTokenStore::new(dir.join(format!("{member_id}.json")))
}

/// `ONAPPINSTALL`: the portal hands the app its first token pair. `VerifiedEvent` has already
/// checked the `application_token` (and remembered it for this portal's later events).
async fn on_install(
    State(state): State<AppState>,
    VerifiedEvent(event): VerifiedEvent,
) -> StatusCode {
    if event.name != "ONAPPINSTALL" {
        return StatusCode::OK;
    }
    let Some(tokens) = event.auth.as_ref().and_then(EventAuth::tokens) else {
        return StatusCode::BAD_REQUEST;
    };
    // The member id becomes a file name: accept only what portals send (hex digits).
    let Some(member_id) = tokens
        .member_id
        .clone()
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
    else {
        return StatusCode::BAD_REQUEST;
    };
    // Saved before answering: the portal sends these tokens once.
    if let Err(error) = store_for(&state.tokens_dir, &member_id).save(&tokens).await {
        eprintln!("error: the tokens could not be saved: {error}");
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let _ = state.installed.send(member_id).await;
    StatusCode::OK
}

/// Calls the portal of `member_id` as the app, with the tokens its install left.
async fn call_portal(
    app: OAuthApp,
    store: JsonFileTokenStore,
    sandbox: Option<&SandboxPortal>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let tokens = store.load().await?.ok_or("no tokens were stored")?;
    let client = Client::builder().oauth(app, tokens, store).build()?;
    let me = client.users().current().await?;
    println!("signed in as the app for user {}", me.id);

    if let Some(sandbox) = sandbox {
        // An hour later, as it were: the next call gets 401 `expired_token`, and the SDK
        // refreshes once, saves the new pair through the store and repeats the call.
        sandbox.expire_access_tokens();
    }
    let id = client
        .crm()
        .leads()
        .add(LeadFields::new().title("Added by the OAuth app"))
        .await?;
    println!("added lead {id}");
    if let Some(sandbox) = sandbox {
        println!("token refreshes: {}", sandbox.token_refreshes());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let tokens_dir =
        PathBuf::from(std::env::var("BITRIX24_TOKENS_DIR").unwrap_or_else(|_| "tokens".into()));
    std::fs::create_dir_all(&tokens_dir)?;

    // Your app's credentials, or the sandbox's own app when they are not set.
    let credentials = std::env::var("BITRIX24_CLIENT_ID")
        .and_then(|id| Ok((id, std::env::var("BITRIX24_CLIENT_SECRET")?)));
    let (app, sandbox) = if let Ok((id, secret)) = credentials {
        (OAuthApp::new(id, secret), None)
    } else {
        let sandbox = SandboxPortal::builder().start().await?;
        eprintln!("BITRIX24_CLIENT_ID is not set: using the embedded sandbox portal");
        (sandbox.oauth_app(), Some(sandbox))
    };

    let address = std::env::var("BITRIX24_APP_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    let url = format!("http://{}/install", listener.local_addr()?);
    // Application tokens by portal; use a durable store in production, or every portal's
    // next event would be taken as a first install.
    let verifier = EventVerifier::new(MemoryApplicationTokens::new());
    let (installed, mut installs) = mpsc::channel(16);
    let router = Router::new()
        .route("/install", post(on_install))
        .with_state(AppState {
            verifier,
            tokens_dir: tokens_dir.clone(),
            installed,
        });
    tokio::spawn(async move { axum::serve(listener, router).await });
    println!("install handler at {url}");

    if let Some(sandbox) = &sandbox {
        // What the portal does when an administrator installs the app.
        sandbox.install_app_to(&url).await?;
    }
    while let Some(member_id) = installs.recv().await {
        // The member id names the portal to the app; keep it out of logs like the tokens.
        println!("installed: tokens saved in {}", tokens_dir.display());
        let store = store_for(&tokens_dir, &member_id);
        call_portal(app.clone(), store, sandbox.as_ref()).await?;
        if sandbox.is_some() {
            break;
        }
    }
    Ok(())
}
