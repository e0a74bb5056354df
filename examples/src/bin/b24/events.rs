//! `b24 events`: receive events (`listen`) and manage an application's bindings (`bind`,
//! `unbind`, `list`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use bitrix24::auth::ApplicationToken;
use bitrix24::events::{Event, parse_form};
use serde_json::{Value, json};

use crate::connect::Connection;

/// `b24 events …`.
#[derive(Debug, clap::Args)]
pub(crate) struct EventsArgs {
    #[command(subcommand)]
    command: EventsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum EventsCommand {
    /// Receives events over HTTP and prints each as one JSON line.
    Listen(ListenArgs),
    /// `event.bind`: sends EVENT to HANDLER (application context only).
    Bind(BindArgs),
    /// `event.unbind`: stops sending EVENT to HANDLER.
    Unbind(BindArgs),
    /// `event.get`: the application's bindings.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
struct ListenArgs {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8089)]
    port: u16,
    /// Address to listen on; the default only accepts connections from this machine.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// The outgoing webhook's `application_token`: events with another token are refused
    /// with 401. Without it, events are printed with `"verified": false`.
    #[arg(long, env = "BITRIX24_APPLICATION_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Debug, clap::Args)]
struct BindArgs {
    /// Event name, e.g. `ONCRMLEADADD`.
    event: String,
    /// The handler's public URL.
    handler: String,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    #[command(flatten)]
    connection: Connection,
}

pub(crate) async fn events(args: EventsArgs) -> Result<(), String> {
    match args.command {
        EventsCommand::Listen(args) => listen(args).await,
        EventsCommand::Bind(args) => {
            let client = args.connection.client().await?;
            let done = client
                .events()
                .bind(&args.event, &args.handler)
                .await
                .map_err(|e| crate::describe(&e))?;
            crate::print_json(&json!(done), false);
            Ok(())
        }
        EventsCommand::Unbind(args) => {
            let client = args.connection.client().await?;
            let removed = client
                .events()
                .unbind(&args.event, &args.handler)
                .await
                .map_err(|e| crate::describe(&e))?;
            crate::print_json(&json!(removed), false);
            Ok(())
        }
        EventsCommand::List(args) => {
            let client = args.connection.client().await?;
            let bindings = client
                .events()
                .list()
                .await
                .map_err(|e| crate::describe(&e))?;
            crate::print_json(&json!(bindings), false);
            Ok(())
        }
    }
}

async fn listen(args: ListenArgs) -> Result<(), String> {
    let token = args.token.map(ApplicationToken::new).map(Arc::new);
    let app = axum::Router::new().fallback(axum::routing::post(
        move |headers: HeaderMap, body: Bytes| {
            let token = token.clone();
            async move { receive(&headers, &body, token.as_deref()) }
        },
    ));
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot listen: {e}"))?;
    say!("listening: http://{address}/");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("the listener stopped: {e}"))
}

/// Parses, verifies and prints one event; the status is what Bitrix24 (or curl) gets back.
fn receive(
    headers: &HeaderMap,
    body: &[u8],
    token: Option<&ApplicationToken>,
) -> (StatusCode, &'static str) {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let tree = if json_body {
        serde_json::from_slice::<Value>(body).map_err(|_| ())
    } else {
        parse_form(body).map_err(|_| ())
    };
    let Ok(tree) = tree else {
        eprintln!("refused: the body is not an event");
        return (StatusCode::BAD_REQUEST, "not an event\n");
    };
    let Ok(event) = Event::from_value(tree.clone()) else {
        eprintln!("refused: the body is not an event");
        return (StatusCode::BAD_REQUEST, "not an event\n");
    };
    let verified = match token {
        Some(token) => {
            if let Err(error) = event.verify_outgoing(token) {
                // The message names what is wrong, never a token.
                eprintln!("refused: {}: {error}", event.name);
                return (StatusCode::UNAUTHORIZED, "not verified\n");
            }
            true
        }
        None => false,
    };
    // The `auth` block carries tokens: it is never printed.
    let line = json!({
        "event": event.name,
        "handler_id": event.handler_id,
        "ts": tree.get("ts"),
        "domain": event.domain(),
        "verified": verified,
        "typed": event.is_known(),
        "data": tree.get("data"),
    });
    if say!("{line}") {
        (StatusCode::OK, "ok\n")
    } else {
        // Nobody reads the output any more: do not claim the event was handled.
        (StatusCode::INTERNAL_SERVER_ERROR, "cannot print\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAD: &[u8] = b"event=ONCRMLEADADD&event_handler_id=7&data%5BFIELDS%5D%5BID%5D=42&ts=1700000000\
&auth%5Bdomain%5D=example.bitrix24.com&auth%5Bmember_id%5D=m1&auth%5Bapplication_token%5D=tok&auth%5Baccess_token%5D=secret";

    #[test]
    fn accepts_a_matching_token_and_refuses_others() {
        let headers = HeaderMap::new();
        let good = ApplicationToken::new("tok".to_owned());
        let bad = ApplicationToken::new("other".to_owned());
        assert_eq!(receive(&headers, LEAD, Some(&good)).0, StatusCode::OK);
        assert_eq!(
            receive(&headers, LEAD, Some(&bad)).0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(receive(&headers, LEAD, None).0, StatusCode::OK);
        assert_eq!(
            receive(&headers, b"%%%garbage", None).0,
            StatusCode::BAD_REQUEST
        );
    }
}
