//! One HTTP attempt: POST a JSON body, read the reply, notice a portal move.
//!
//! Nothing here retries, waits for the limiter or knows about auth; the pipeline in
//! `client.rs` does. Errors never carry the URL, which holds the webhook secret.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, USER_AGENT};
use url::Url;

use crate::error::{Error, Result};

/// The default `User-Agent`: the docs ask integrations to name themselves.
pub(crate) const DEFAULT_USER_AGENT: &str = concat!("bitrix24-rs/", env!("CARGO_PKG_VERSION"));

/// What one attempt produced.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The portal replied; the body is still to be parsed.
    Reply { status: u16, body: bytes::Bytes },
    /// The portal moved to another address (HTTP 301/302/307/308 with a `Location`).
    Moved(Url),
}

#[derive(Debug, Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    user_agent: String,
}

impl Transport {
    pub(crate) fn new(http: reqwest::Client, user_agent: String) -> Self {
        Self { http, user_agent }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// Sends `body` as a JSON POST to `url`.
    pub(crate) async fn post_json(
        &self,
        url: Url,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Outcome> {
        let sent_to = url.clone();
        let response = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, &self.user_agent)
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(|error| {
                // A connect failure means no byte of the request left this machine.
                let outcome_unknown = !error.is_connect();
                Error::transport(error, outcome_unknown)
            })?;
        let status = response.status().as_u16();
        if response.status().is_redirection()
            && let Some(location) = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
        {
            let target = sent_to.join(location).map_err(|_| {
                Error::decode(
                    "the portal answered a redirect with an invalid Location",
                    None,
                )
            })?;
            return Ok(Outcome::Moved(target));
        }
        // A caller-supplied HTTP client may follow redirects itself; the POST body was then
        // lost on the way, so treat it as a move and send again.
        if response.url() != &sent_to {
            return Ok(Outcome::Moved(response.url().clone()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| Error::transport(error, true))?;
        Ok(Outcome::Reply { status, body })
    }
}
