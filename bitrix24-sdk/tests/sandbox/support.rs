//! Helpers shared by the sandbox test modules.

use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, Limits, RetryPolicy};
use serde_json::Value;

/// A sandbox portal without request limits, so tests run at full speed.
pub(crate) async fn unlimited() -> SandboxPortal {
    SandboxPortal::builder()
        .limits(Limits::unlimited())
        .start()
        .await
        .unwrap()
}

/// A webhook client without limits or retries: every refusal reaches the test as it is.
pub(crate) fn quick_client(portal: &SandboxPortal) -> Client {
    Client::builder()
        .webhook(portal.webhook_url())
        .limits(Limits::unlimited())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

/// The result of a call that must succeed; the panic names the method.
pub(crate) async fn call(client: &Client, method: &str, params: Value) -> Value {
    client
        .call_raw::<Value>(method, params)
        .await
        .unwrap_or_else(|error| panic!("{method}: {error}"))
}
