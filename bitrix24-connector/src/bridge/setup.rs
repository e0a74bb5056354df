//! `telegram-bridge setup`: registers the connector in the portal and connects it to an open
//! line, idempotently, saying what it did.
//!
//! The documented order (PROTOCOL §H11): `imconnector.register` → `event.bind` →
//! `imconnector.activate` → `imconnector.connector.data.set` → `imconnector.status`. Bindings
//! are removed when the app is updated, so setup runs again on every install and update.

use bitrix24::Client;
use serde_json::{Value, json};

use super::settings::BridgeSettings;

/// The events the bridge handles.
pub const EVENTS: [&str; 5] = [
    "ONIMCONNECTORMESSAGEADD",
    "ONIMCONNECTORMESSAGEUPDATE",
    "ONIMCONNECTORMESSAGEDELETE",
    "ONIMCONNECTORLINEDELETE",
    "ONIMCONNECTORSTATUSDELETE",
];

/// The connector's icon: a paper plane on Telegram blue.
const ICON: &str = "data:image/svg+xml;charset=US-ASCII,%3Csvg%20xmlns%3D%22http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%22%20viewBox%3D%220%200%2024%2024%22%3E%3Cpath%20fill%3D%22%23fff%22%20d%3D%22M2%2011.5l19-7.5-3%2016-6.5-4.5-3%203v-4.5l8.5-8-10.5%206.5z%22%2F%3E%3C%2Fsvg%3E";

/// What setup did and found.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupReport {
    /// One line per step.
    pub steps: Vec<String>,
    /// The open line the connector is on.
    pub line: u64,
    /// `imconnector.status`: `{LINE, CONNECTOR, ERROR, CONFIGURED, STATUS}`.
    pub status: Value,
}

impl SetupReport {
    /// Whether the portal reports the connector configured and working on the line.
    pub fn is_ready(&self) -> bool {
        let yes = |v: &Value| v == &json!(true) || v == &json!("Y") || v == &json!(1);
        yes(&self.status["CONFIGURED"])
            && yes(&self.status["STATUS"])
            && !yes(&self.status["ERROR"])
    }
}

/// Why setup stopped.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A call failed.
    #[error("{step}: {source}")]
    Call {
        /// The step.
        step: &'static str,
        /// The error.
        #[source]
        source: bitrix24::Error,
    },
    /// The portal answered, but no.
    #[error("{step}: {message}")]
    Refused {
        /// The step.
        step: &'static str,
        /// What the portal said.
        message: String,
    },
}

fn call_error(step: &'static str) -> impl FnOnce(bitrix24::Error) -> SetupError {
    move |source| SetupError::Call { step, source }
}

/// Registers, binds, activates, describes and checks the connector.
///
/// # Errors
/// The first step that fails, with the portal's reason.
pub async fn setup(client: &Client, settings: &BridgeSettings) -> Result<SetupReport, SetupError> {
    let mut steps = Vec::new();
    let connector = settings.connector_id.to_ascii_lowercase();
    register(client, settings, &connector).await?;
    steps.push(format!(
        "registered connector {connector:?} ({})",
        settings.connector_name
    ));
    bind_events(client, settings, &mut steps).await?;

    let line = match settings.line {
        Some(line) => line,
        None => first_line(client).await?,
    };
    let _: Value = client
        .call_raw(
            "imconnector.activate",
            json!({ "CONNECTOR": connector, "LINE": line, "ACTIVE": 1 }),
        )
        .idempotent(true)
        .await
        .map_err(call_error("imconnector.activate"))?;
    steps.push(format!("activated on open line {line}"));

    let _: Value = client
        .call_raw(
            "imconnector.connector.data.set",
            json!({
                "CONNECTOR": connector,
                "LINE": line,
                "DATA": {
                    "id": format!("{connector}_line{line}"),
                    "url": settings.public_url.as_str(),
                    "url_im": settings.public_url.as_str(),
                    "name": settings.connector_name,
                },
            }),
        )
        .idempotent(true)
        .await
        .map_err(call_error("imconnector.connector.data.set"))?;
    steps.push("described the channel (connector.data.set)".to_owned());

    let status: Value = client
        .call_raw(
            "imconnector.status",
            json!({ "CONNECTOR": connector, "LINE": line }),
        )
        .idempotent(true)
        .await
        .map_err(call_error("imconnector.status"))?;
    steps.push(format!(
        "status: configured={} working={} error={}",
        status["CONFIGURED"], status["STATUS"], status["ERROR"]
    ));
    Ok(SetupReport {
        steps,
        line,
        status,
    })
}

/// `imconnector.register` (registering again updates the connector).
async fn register(
    client: &Client,
    settings: &BridgeSettings,
    connector: &str,
) -> Result<(), SetupError> {
    let registered: Value = client
        .call_raw(
            "imconnector.register",
            json!({
                "ID": connector,
                "NAME": settings.connector_name,
                "ICON": { "DATA_IMAGE": ICON, "COLOR": "#29A9EB", "SIZE": "90%", "POSITION": "center" },
                "PLACEMENT_HANDLER": settings.url("bridge/placement"),
                "CHAT_GROUP": "N",
            }),
        )
        .idempotent(true)
        .await
        .map_err(call_error("imconnector.register"))?;
    // Registration errors come back as HTTP 200 with `result: false`.
    if registered.get("result") == Some(&json!(false)) {
        return Err(SetupError::Refused {
            step: "imconnector.register",
            message: format!(
                "{} {}",
                registered["error"].as_str().unwrap_or_default(),
                registered["error_description"].as_str().unwrap_or_default()
            ),
        });
    }
    Ok(())
}

/// `event.bind` for each connector event not bound to this bridge yet.
async fn bind_events(
    client: &Client,
    settings: &BridgeSettings,
    steps: &mut Vec<String>,
) -> Result<(), SetupError> {
    let handler = settings.url("bridge/events");
    let bound: Vec<Value> = client
        .call_raw("event.get", json!({}))
        .idempotent(true)
        .await
        .map_err(call_error("event.get"))?;
    for event in EVENTS {
        let exists = bound.iter().any(|b| {
            b["event"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(event))
                && b["handler"].as_str() == Some(handler.as_str())
        });
        if exists {
            steps.push(format!("{event} already bound"));
            continue;
        }
        let _: Value = client
            .call_raw("event.bind", json!({ "event": event, "handler": handler }))
            .await
            .map_err(call_error("event.bind"))?;
        steps.push(format!("bound {event} to {handler}"));
    }
    Ok(())
}

async fn first_line(client: &Client) -> Result<u64, SetupError> {
    let lines: Value = client
        .call_raw(
            "imopenlines.config.list.get",
            json!({ "PARAMS": { "select": ["ID", "LINE_NAME", "ACTIVE"] } }),
        )
        .idempotent(true)
        .await
        .map_err(call_error("imopenlines.config.list.get"))?;
    lines
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|line| {
            line["ID"]
                .as_u64()
                .or_else(|| line["ID"].as_str()?.parse().ok())
        })
        .ok_or(SetupError::Refused {
            step: "imopenlines.config.list.get",
            message: "the portal has no open line: create one in the contact center".into(),
        })
}
